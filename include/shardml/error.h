/* src/base/: what everything stands on: errors and allocation, stop signals, CPU features, hashing, random streams, exact sums. */
/* Error reporting: status codes, error messages that name the file or option
 * and the reason, and check macros that report the source file and line. */
#ifndef SHARDML_ERROR_H
#define SHARDML_ERROR_H

#include "shardml/api.h"

#include <stddef.h>

SHARDML_BEGIN_DECLS

/* Exit statuses, shared by every subcommand (docs/reference.md). */
enum {
  SML_OK = 0,
  SML_ERUNTIME = 1, /* a failure while running: divergence, I/O error, ... */
  SML_EINPUT = 2,   /* bad usage or bad input: options, data files, checkpoints */
  /* training stopped by SIGTERM or SIGUSR1 after its checkpoint (shardml/signals.h) */
  SML_EXIT_PREEMPTED = 3
};

#define SML_ERR_LEN 1024
#define SML_QUANTITY_LEN 48

/* One human-readable line: "<file or quantity>: <reason>". */
typedef struct {
  char msg[SML_ERR_LEN];
  /* The quantity the message starts with when library code found a value
   * wrong ("learning rate"), so that the command line can name the option
   * that set it; "" otherwise. Library code names quantities, not flags. */
  char quantity[SML_QUANTITY_LEN];
} sml_err;

/* Formats the message into err (if not NULL) and returns code, so that
 * failing paths read `return sml_fail(err, SML_EINPUT, "%s: ...", path);`. */
SHARDML_API int sml_fail(sml_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for a wrong value: the message is the quantity followed by fmt,
 * `sml_fail_quantity(err, SML_EINPUT, "learning rate", " %g: must be positive", lr)`
 * gives "learning rate 0: must be positive". */
SHARDML_API int sml_fail_quantity(sml_err *err, int code, const char *quantity, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Allocation that never returns NULL: out of memory is not recoverable in a
 * trainer, so it stops the whole MPI job with the call site. */
SHARDML_API void *sml_alloc_or_die(size_t bytes, const char *file, int line);
SHARDML_API void *sml_calloc_or_die(size_t count, size_t size, const char *file, int line);
#define SML_ALLOC(bytes) sml_alloc_or_die((bytes), __FILE__, __LINE__)
#define SML_CALLOC(count, size) sml_calloc_or_die((count), (size), __FILE__, __LINE__)
/* The same for a large buffer that MPI moves every step (the gradient, its
 * exact sums, the images the reproducible mode exchanges): aligned to and padded
 * to whole 2 MiB pages and advised as transparent huge pages (Linux's
 * default THP mode, madvise, gives them only when asked). The ranks' shared-
 * memory transfers handle such a buffer page by page (Open MPI pins each
 * page on every call): on 2 ranks a 0.8-1.6 MB allreduce takes 38-45 %
 * less time on 2 MiB pages than on 4 KiB ones (Open MPI 4.1 and MPICH 4.0,
 * tests/bench/allreduce.sh).
 * Small buffers get plain memory. Freed with free(). */
SHARDML_API void *sml_alloc_comm_or_die(size_t bytes, const char *file, int line);
#define SML_ALLOC_COMM(bytes) sml_alloc_comm_or_die((bytes), __FILE__, __LINE__)

/* Internal invariant; a failure is a bug in shardml, not bad input. */
SHARDML_API void sml_assert_fail(const char *expr, const char *file, int line);
#define SML_ASSERT(expr)                                     \
  do {                                                       \
    if (!(expr)) sml_assert_fail(#expr, __FILE__, __LINE__); \
  } while (0)

/* For functions returning a status: propagate any failure unchanged. */
#define SML_TRY(call)                                      \
  do {                                                     \
    int sml_try_status_ = (call);                          \
    if (sml_try_status_ != SML_OK) return sml_try_status_; \
  } while (0)

SHARDML_END_DECLS

#endif
