/* Comma-separated option values (see base/list.h). */
#include "base/list.h"

#include <string.h>

char *sml_list_next(char **cursor) {
  char *elem = *cursor;
  if (!elem) return NULL;
  char *comma = strchr(elem, ',');
  if (comma) *comma = '\0';
  *cursor = comma ? comma + 1 : NULL;
  return elem;
}
