/* Write-to-temporary-then-rename, the one way shardml writes files. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"

/* <path>.tmp.<host>.<pid>: the writer, so that a later run can tell the
 * leftovers of a dead one (sml_remove_stale_temps). */
void sml_temp_name(char *out, size_t len, const char *path) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  snprintf(out, len, "%s.tmp.%s.%d", path, host, (int)getpid());
}

int sml_remove_stale_temps(const char *dir) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *tag = strstr(e->d_name, ".tmp."), *dot = strrchr(e->d_name, '.');
    if (!tag || !dot || dot < tag + 4) continue;
    char *end;
    const long pid = strtol(dot + 1, &end, 10);
    if (*end || pid <= 0) continue;
    /* Its writer: this host's (or, from older versions, a bare PID), and
     * gone; another host's PIDs mean nothing here, so those stay. */
    const char *writer = tag + 5;
    const size_t hlen = (size_t)(dot - writer);
    const int bare = dot == tag + 4, here = hlen == strlen(host) && strncmp(writer, host, hlen) == 0;
    if (!(bare || here) || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) removed++;
  }
  closedir(d);
  if (removed > 0) fprintf(stderr, "shardml: removed %d temporary file(s) of killed writers from %s\n", removed, dir);
  return removed;
}

/* Failures the user can fix (permissions, a read-only filesystem, a
 * missing directory or a file in its way) are bad input, exit 2; others
 * (a full disk, an I/O error) are runtime failures. */
static int user_fixable(int e) {
  return e == EACCES || e == EPERM || e == EROFS || e == ENOTDIR || e == ENOENT || e == EEXIST || e == EISDIR;
}

int sml_create_error(const char *path, int e, sml_err *err) {
  return sml_fail(err, user_fixable(e) ? SML_EINPUT : SML_ERUNTIME, "%s: cannot create: %s", path, strerror(e));
}

int sml_atomic_open(sml_atomic_file *a, const char *path, sml_err *err) {
  snprintf(a->path, sizeof a->path, "%s", path);
  sml_temp_name(a->tmp, sizeof a->tmp, path);
  a->f = fopen(a->tmp, "w");
  /* The user's name, not the temporary one. A runtime failure: paths the
   * user gave were checked before the work (sml_output_check, sml_mkdirs),
   * so this one changed under the run (a directory removed, a disk full). */
  if (!a->f) return sml_fail(err, SML_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
  return SML_OK;
}

int sml_output_check(const char *path, sml_err *err) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return sml_fail(err, SML_EINPUT, "%s: is a directory (a file name is needed)", path);
  char tmp[4200];
  sml_temp_name(tmp, sizeof tmp, path);
  FILE *f = fopen(tmp, "w");
  if (!f) return sml_create_error(path, errno, err);
  fclose(f);
  unlink(tmp);
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

/* A directory the user named: failures the user can fix (permissions, a
 * read-only filesystem, a file in the way) are bad input, exit 2. */
static int dir_error(const char *path, int e, sml_err *err) {
  return sml_fail(err, user_fixable(e) ? SML_EINPUT : SML_ERUNTIME, "%s: cannot create directory: %s", path,
                  strerror(e));
}

int sml_mkdirs(const char *dir, sml_err *err) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return dir_error(buf, errno, err);
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) return dir_error(buf, errno, err);
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return sml_fail(err, SML_EINPUT, "%s: not a directory", buf);
  if (access(buf, W_OK | X_OK) != 0)
    return sml_fail(err, SML_EINPUT, "%s: cannot write there: %s", buf, strerror(errno));
  return SML_OK;
}

void sml_csv_field(FILE *f, const char *text) {
  if (!strpbrk(text, ",\"\r\n")) {
    fputs(text, f);
    return;
  }
  fputc('"', f);
  for (const char *p = text; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  fputc('"', f);
}
