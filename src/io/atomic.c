/* Write-to-temporary-then-rename, the one way shardml writes files. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shardml/io.h"

void sml_temp_name(char *out, size_t len, const char *path) {
  snprintf(out, len, "%s.tmp.%d", path, (int)getpid());
}

int sml_atomic_open(sml_atomic_file *a, const char *path, sml_err *err) {
  snprintf(a->path, sizeof a->path, "%s", path);
  sml_temp_name(a->tmp, sizeof a->tmp, path);
  a->f = fopen(a->tmp, "w");
  if (!a->f) return sml_fail(err, SML_ERUNTIME, "%s: cannot create: %s", a->tmp, strerror(errno));
  return SML_OK;
}

int sml_rename_into_place(const char *tmp, const char *path, sml_err *err) {
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return sml_fail(err, SML_ERUNTIME, "%s: cannot rename from %s: %s", path, tmp, strerror(e));
  }
  return SML_OK;
}

int sml_atomic_commit(sml_atomic_file *a, sml_err *err) {
  int bad = ferror(a->f) || fflush(a->f) != 0 || fsync(fileno(a->f)) != 0;
  int e = errno;
  if (fclose(a->f) != 0) bad = 1;
  a->f = NULL;
  if (bad) {
    unlink(a->tmp);
    return sml_fail(err, SML_ERUNTIME, "%s: write failed: %s", a->path, strerror(e));
  }
  return sml_rename_into_place(a->tmp, a->path, err);
}

int sml_mkdirs(const char *dir, sml_err *err) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return sml_fail(err, SML_ERUNTIME, "%s: cannot create directory: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST)
    return sml_fail(err, SML_ERUNTIME, "%s: cannot create directory: %s", buf, strerror(errno));
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
    return sml_fail(err, SML_ERUNTIME, "%s: not a directory", buf);
  return SML_OK;
}
