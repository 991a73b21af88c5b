/* Comma-separated lists, as option values give them (a network's layers, augmentations, metrics). */
#ifndef SHARDML_LIST_H
#define SHARDML_LIST_H

/* The next element of a comma-separated list, cut in place: the text up to
 * the next comma (overwritten with '\0'); *cursor moves past it, and is
 * NULL after the last element (NULL at the start: no elements). Unlike
 * strtok, an empty element ("a,,b", "a,") comes back as "", so that a
 * parser can refuse it: a stray comma is usually a value left out (a shell
 * variable that was empty), not one to skip. */
char *sml_list_next(char **cursor);

#endif
