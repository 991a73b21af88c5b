/* Untrusted HDF5 files read first in a child process, with a time limit.
 *
 * libhdf5 (1.10.8 here) can crash or loop forever on a corrupt file:
 * variable-length attributes whose heap entries lie, object headers that
 * point outside the file, compact datasets larger than their message, and
 * more (tests/fuzz found them; docs/testing.md lists the cases). No check before the
 * library's own parsing can rule all of them out, so the whole read is
 * rehearsed in a fork()ed child first: if the child crashes, hangs past the
 * limit, or fails, the file is refused with a clear error and the process
 * that matters never runs the code that would crash it. The child only
 * reads the file and _exit()s: no MPI, no atexit handlers, no output files.
 *
 * SHARDML_HDF5_TIMEOUT=S sets the limit (default 60 s); SHARDML_HDF5_VET=0
 * turns the rehearsal off (e.g. where an MPI transport forbids fork). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "base/fault.h"

/* Sanitizer builds: a crash in the child must end the child quietly, not
 * run the fuzzer's or ASan's reporting of the parent (weak: absent otherwise). */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
static void child_death(void) { _exit(98); }

static int in_child;

double sml_h5_vet_timeout(void) {
  const char *e = getenv("SHARDML_HDF5_TIMEOUT");
  const double s = e ? strtod(e, NULL) : 60.0;
  return s > 0 ? s : 60.0;
}

int sml_h5_vet(const char *path, const char *what, sml_h5_vet_fn rehearse, void *arg, sml_err *err) {
  const char *off = getenv("SHARDML_HDF5_VET");
  if (in_child || (off && strcmp(off, "0") == 0)) return SML_OK;
  int fds[2];
  if (pipe(fds) != 0) return SML_OK; /* cannot isolate: read as before */
  fflush(NULL);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return SML_OK;
  }
  if (pid == 0) {
    in_child = 1;
    close(fds[0]);
    /* A crash here is the parent's to report, in one line: not Open MPI's
     * backtrace handlers' (about 20 lines before it). */
    const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], SIG_DFL);
    if (sml_fault_injected("hdf5-crash")) raise(SIGSEGV); /* for the tests: a crash of HDF5 on a file */
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(child_death);
    sml_err e = {0};
    const int st = rehearse(path, arg, &e);
    char report[sizeof e.msg + 16];
    const int len = snprintf(report, sizeof report, "%d %s", st, st == SML_OK ? "" : e.msg);
    if (write(fds[1], report, (size_t)(len < (int)sizeof report ? len : (int)sizeof report - 1)) < 0) _exit(97);
    _exit(0);
  }
  close(fds[1]);
  char report[SML_ERR_LEN + 16];
  size_t got = 0;
  const double limit = sml_h5_vet_timeout();
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int timed_out = 0;
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const double left = limit - ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec));
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    const int r = poll(&p, 1, (int)(left * 1000) + 1);
    if (r < 0 && errno == EINTR) continue; /* a preemption signal: keep waiting, the read is short */
    if (r <= 0) continue;
    const ssize_t n = read(fds[0], report + got, sizeof report - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* the child closed its end: finished or died */
    got += (size_t)n;
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  report[got] = '\0';
  if (timed_out)
    return sml_fail(err, SML_EINPUT,
                    "%s: HDF5 did not finish reading the %s within %g s (a corrupt file can make "
                    "it loop; SHARDML_HDF5_TIMEOUT sets the limit)",
                    path, what, limit);
  int st = -1, off_msg = 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sscanf(report, "%d %n", &st, &off_msg) >= 1) {
    if (st == SML_OK) return SML_OK;
    /* The child's own refusal, as the in-process read would have said it. */
    snprintf(err->msg, sizeof err->msg, "%s", report + off_msg);
    err->quantity[0] = '\0';
    return st;
  }
  if (WIFSIGNALED(status))
    return sml_fail(err, SML_EINPUT, "%s: HDF5 crashed reading the %s (signal %d): the file is corrupt", path, what,
                    WTERMSIG(status));
  return sml_fail(err, SML_EINPUT, "%s: HDF5 failed reading the %s (exit %d): the file is corrupt", path, what,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
