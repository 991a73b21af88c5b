/* Error messages and the abort paths of the check macros. */
#define _DEFAULT_SOURCE /* madvise */
#include "shardml/error.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int sml_fail(sml_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->quantity[0] = '\0';
  }
  return code;
}

int sml_fail_quantity(sml_err *err, int code, const char *quantity, const char *fmt, ...) {
  if (err) {
    snprintf(err->quantity, sizeof err->quantity, "%s", quantity);
    const int used = snprintf(err->msg, sizeof err->msg, "%s", quantity);
    va_list ap;
    va_start(ap, fmt);
    if (used >= 0 && used < (int)sizeof err->msg) vsnprintf(err->msg + used, sizeof err->msg - (size_t)used, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* Abort the whole job: a lone rank exiting would leave the others hanging
 * in their next collective. */
static void abort_job(void) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, SML_ERUNTIME);
  exit(SML_ERUNTIME);
}

static void out_of_memory(size_t bytes, const char *file, int line) {
  fprintf(stderr, "shardml: out of memory allocating %zu bytes at %s:%d\n", bytes, file, line);
  abort_job();
}

void *sml_alloc_or_die(size_t bytes, const char *file, int line) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) out_of_memory(bytes, file, line);
  return p;
}

/* A transparent huge page on x86-64 Linux. */
#define HUGE_PAGE ((size_t)2 << 20)

void *sml_alloc_comm_or_die(size_t bytes, const char *file, int line) {
  /* Below an eighth of a page, a huge page would be mostly padding and the
   * transfer is short anyway. */
  if (bytes < HUGE_PAGE / 8) return sml_alloc_or_die(bytes, file, line);
  /* Whole pages, so that the buffer's tail is not left on small ones. */
  const size_t whole = bytes / HUGE_PAGE * HUGE_PAGE + (bytes % HUGE_PAGE ? HUGE_PAGE : 0);
  void *p = NULL;
  if (whole < bytes || posix_memalign(&p, HUGE_PAGE, whole) != 0) out_of_memory(bytes, file, line);
#ifdef MADV_HUGEPAGE
  /* Advice only: where the kernel has huge pages off (or refuses), the
   * buffer simply stays on 4 KiB pages. */
  (void)madvise(p, whole, MADV_HUGEPAGE);
#endif
  return p;
}

void *sml_calloc_or_die(size_t count, size_t size, const char *file, int line) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) {
    fprintf(stderr, "shardml: out of memory allocating %zu x %zu bytes at %s:%d\n", count, size, file, line);
    abort_job();
  }
  return p;
}

void sml_assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "shardml: internal error: %s failed at %s:%d\n", expr, file, line);
  abort_job();
}
