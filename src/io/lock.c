/* Exclusive use of a file's slots by one process at a time (see
 * io/io.h): POSIX record locks, which the kernel drops when the holder
 * dies, so a lock is never stale. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"

/* Slot k's bytes: [(k + 1) * SLOT_BYTES, (k + 2) * SLOT_BYTES); the whole
 * file's lock (slot < 0) starts at 0 and covers every slot. Each holder
 * writes who it is at the start of its range, so that a refused process can
 * read there who holds the range in its way. */
#define SLOT_BYTES 256

static off_t slot_start(int slot) { return slot < 0 ? 0 : (off_t)(slot + 1) * SLOT_BYTES; }

int sml_lock_take(sml_lock *l, const char *path, int slot, char *holder, size_t holder_len) {
  l->fd = -1;
  if (holder_len) holder[0] = '\0';
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return SML_LOCK_UNAVAILABLE;
  struct flock lk = {
      .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = slot_start(slot), .l_len = slot < 0 ? 0 : SLOT_BYTES};
  int locked = fcntl(fd, F_SETLK, &lk) == 0;
  /* A holder that is just exiting (the previous job step, a slice that
   * finished) releases it within moments: wait a little before refusing. */
  for (int i = 0; !locked && (errno == EACCES || errno == EAGAIN) && i < 20; i++) {
    const struct timespec pause = {0, 100000000};
    nanosleep(&pause, NULL);
    locked = fcntl(fd, F_SETLK, &lk) == 0;
  }
  if (!locked && errno != EACCES && errno != EAGAIN) { /* no locking here (some network filesystems) */
    const int e = errno;
    close(fd);
    errno = e;
    return SML_LOCK_UNAVAILABLE;
  }
  if (!locked) {
    struct flock who = lk; /* the range in the way: its holder's note is at its start */
    off_t at = lk.l_start;
    if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK) at = who.l_start;
    char note[SLOT_BYTES + 1] = "";
    const ssize_t n = pread(fd, note, SLOT_BYTES, at);
    note[n > 0 ? n : 0] = '\0';
    note[strcspn(note, "\n")] = '\0';
    snprintf(holder, holder_len, "%s", note[0] ? note : "its holder did not say who it is");
    close(fd);
    return SML_LOCK_BUSY;
  }
  char host[128] = "localhost", note[SLOT_BYTES] = {0};
  gethostname(host, sizeof host - 1);
  snprintf(note, sizeof note, "host %s, pid %d\n", host, (int)getpid());
  /* The whole file's holder starts a fresh file; a slot's holder writes its
   * own range only. The lock holds regardless of these writes. */
  if (slot < 0 && ftruncate(fd, 0) != 0) { /* best effort */
  }
  if (pwrite(fd, note, sizeof note, slot_start(slot)) != (ssize_t)sizeof note) { /* best effort */
  }
  l->fd = fd;
  return SML_LOCK_HELD;
}

int sml_lock_exclusive(sml_lock *l, const char *path, int slot, const char *subject, const char *busy,
                       const char *instead, sml_err *err) {
  char holder[SLOT_BYTES + 1];
  switch (sml_lock_take(l, path, slot, holder, sizeof holder)) {
    case SML_LOCK_HELD:
      return SML_OK;
    case SML_LOCK_BUSY:
      return sml_fail(err, SML_EINPUT, "%s: %s (%s); wait for it or use another %s", subject, busy, holder, instead);
    default:
      if (errno != ENOLCK && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
        return sml_create_error(path, errno, err);
      /* no locking on this filesystem (some network filesystems) */
      fprintf(stderr, "shardml: %s: cannot lock (%s); not guarding against a second run\n", path, strerror(errno));
      return SML_OK;
  }
}

void sml_lock_release(sml_lock *l) {
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
}
