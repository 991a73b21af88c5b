/* Error reporting: status codes, error messages that name the file or option
 * and the reason, and check macros that report the source file and line. */
#ifndef SHARDML_ERROR_H
#define SHARDML_ERROR_H

#include <stddef.h>

/* Exit statuses, shared by every subcommand (see README). */
enum {
  SML_OK = 0,
  SML_ERUNTIME = 1, /* a failure while running: divergence, I/O error, ... */
  SML_EINPUT = 2    /* bad usage or bad input: options, data files, checkpoints */
};

#define SML_ERR_LEN 1024

/* One human-readable line: "<file or option>: <reason>". */
typedef struct {
  char msg[SML_ERR_LEN];
} sml_err;

/* Formats the message into err (if not NULL) and returns code, so that
 * failing paths read `return sml_fail(err, SML_EINPUT, "%s: ...", path);`. */
int sml_fail(sml_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocation that never returns NULL: out of memory is not recoverable in a
 * trainer, so it stops the whole MPI job with the call site. */
void *sml_alloc_or_die(size_t bytes, const char *file, int line);
void *sml_calloc_or_die(size_t count, size_t size, const char *file, int line);
#define SML_ALLOC(bytes) sml_alloc_or_die((bytes), __FILE__, __LINE__)
#define SML_CALLOC(count, size) sml_calloc_or_die((count), (size), __FILE__, __LINE__)

/* Internal invariant; a failure is a bug in shardml, not bad input. */
void sml_assert_fail(const char *expr, const char *file, int line);
#define SML_ASSERT(expr) \
  do { if (!(expr)) sml_assert_fail(#expr, __FILE__, __LINE__); } while (0)

/* For functions returning a status: propagate any failure unchanged. */
#define SML_TRY(call) \
  do { int sml_try_status_ = (call); if (sml_try_status_ != SML_OK) return sml_try_status_; } while (0)

#endif
