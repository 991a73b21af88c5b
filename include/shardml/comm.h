/* src/mpi/: the only code that knows MPI: communicators, typed collectives, agreement, logging. */
/* The process-wide MPI/OpenMP context and the collectives the rest of
 * shardml uses. This is the only module that knows MPI beyond a communicator
 * handle: every other module calls these wrappers. */
#ifndef SHARDML_COMM_H
#define SHARDML_COMM_H

#include "shardml/api.h"

/* C++ programs get MPI's C API only: the C++ bindings (deprecated, and in
 * a library of their own) would need linking for no use. */
#if defined(__cplusplus) && !defined(OMPI_SKIP_MPICXX)
#define OMPI_SKIP_MPICXX 1
#endif
#if defined(__cplusplus) && !defined(MPICH_SKIP_MPICXX)
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#include <stdint.h>

#include "shardml/error.h"

SHARDML_BEGIN_DECLS

/* A communicator with its rank and size cached. */
typedef struct {
  MPI_Comm comm;
  int rank;
  int size;
} sml_comm;

SHARDML_API sml_comm sml_comm_of(MPI_Comm comm);
SHARDML_API sml_comm sml_comm_world(void);
SHARDML_API sml_comm sml_comm_self(void);

/* MPI_Comm_split: ranks with the same color form a new communicator,
 * ordered by key. Free with sml_comm_free. Collective. */
SHARDML_API sml_comm sml_comm_split(const sml_comm *c, int color, int key);
SHARDML_API void sml_comm_free(sml_comm *c);

/* MPI_Init_thread(FUNNELED) and MPI_Finalize. sml_init first sets the
 * MPI library's settings that shardml measured to matter, where the user
 * left them unset (sml_mpi_tuning says which). */
SHARDML_API void sml_init(int *argc, char ***argv);
SHARDML_API void sml_finalize(void);
/* sml_finalize for a program whose exit status every rank has agreed:
 * should the MPI library crash while shutting down, not return within
 * SHARDML_FINALIZE_TIMEOUT seconds (default 120, 0 for ever), or a stop
 * signal arrive meanwhile, the process exits with status and one warning
 * line instead of a crash dump or a hang. */
SHARDML_API void sml_finalize_status(int status);
/* Reads SHARDML_FINALIZE_TIMEOUT: SML_EINPUT, naming it, when it is not
 * whole seconds. */
SHARDML_API int sml_finalize_settings(sml_err *err);

/* Collective agreement on an error: every rank of c calls it, whatever its
 * local status. Returns the largest status of any rank; when it is not
 * SML_OK, err holds the message of the lowest-numbered failing rank on every
 * rank, so that rank 0 can report it once. */
SHARDML_API int sml_agree(const sml_comm *c, int status, sml_err *err);

/* Thin, typed collectives (sum reductions in place, broadcasts from root). */
SHARDML_API void sml_allreduce_sum_u64(const sml_comm *c, uint64_t *buf, int64_t n);
SHARDML_API void sml_allreduce_sum_i64(const sml_comm *c, int64_t *buf, int64_t n);
SHARDML_API void sml_allreduce_sum_f64(const sml_comm *c, double *buf, int64_t n);
SHARDML_API void sml_allreduce_sum_f32(const sml_comm *c, float *buf, int64_t n);
/* Nonblocking sums in place (n below 2^30): started now, complete once
 * sml_requests_test says so or sml_requests_wait returns; the buffer is
 * MPI's until then. Half-precision buffers hold bfloat16 or IEEE binary16
 * bit patterns; each addition is done in float and rounded back. */
typedef MPI_Request sml_request;
typedef enum { SML_HALF_BF16, SML_HALF_F16 } sml_half_kind;
SHARDML_API void sml_iallreduce_sum_f32(const sml_comm *c, float *buf, int64_t n, sml_request *req);
SHARDML_API void sml_iallreduce_sum_i64(const sml_comm *c, int64_t *buf, int64_t n, sml_request *req);
/* Element-wise maximum, nonblocking. */
SHARDML_API void sml_iallreduce_max_f64(const sml_comm *c, double *buf, int64_t n, sml_request *req);
SHARDML_API void sml_allreduce_sum_half(const sml_comm *c, uint16_t *buf, int64_t n, sml_half_kind kind);
SHARDML_API void sml_iallreduce_sum_half(const sml_comm *c, uint16_t *buf, int64_t n, sml_half_kind kind,
                                         sml_request *req);
/* Lets MPI progress the requests; returns 1 when every one is complete. */
SHARDML_API int sml_requests_test(sml_request *reqs, int n);
SHARDML_API void sml_requests_wait(sml_request *reqs, int n);
/* Element-wise maximum over the ranks, in place. */
SHARDML_API void sml_allreduce_max_f64(const sml_comm *c, double *buf, int64_t n);
/* Every rank sends send_counts[r] bytes (consecutive in send, in rank
 * order) to rank r and receives recv_counts[r] bytes from it (consecutive
 * in recv, in rank order). Counts below 2^31 per rank. */
SHARDML_API void sml_alltoallv_bytes(const sml_comm *c, const void *send, const int64_t *send_counts, void *recv,
                                     const int64_t *recv_counts);
/* The smallest value over the ranks, on every rank. */
SHARDML_API int64_t sml_allreduce_min_i64(const sml_comm *c, int64_t value);
SHARDML_API void sml_bcast_bytes(const sml_comm *c, void *buf, int64_t bytes, int root);
/* Gathers one int64 per rank on root (out has c->size entries there). */
SHARDML_API void sml_gather_i64(const sml_comm *c, int64_t value, int64_t *out, int root);
/* Every rank gets every rank's value (out has c->size entries). */
SHARDML_API void sml_allgather_i64(const sml_comm *c, int64_t value, int64_t *out);
/* Gathers equal-size byte blocks on root (out: c->size * bytes, root only). */
SHARDML_API void sml_gather_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, int root);
/* Gathers variable-length byte blocks on root; counts/out only used there. */
SHARDML_API void sml_gatherv_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, const int64_t *counts,
                                   int root);
/* Rank r receives block r of root's c->size blocks of bytes each (in:
 * root only). */
SHARDML_API void sml_scatter_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, int root);
/* Every rank gets every rank's block, in rank order (out: the sum of the
 * blocks' sizes, on every rank). */
SHARDML_API void sml_allgatherv_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out);
/* In place over rows of row_len floats: rank r's rows [first[r], first[r] +
 * count[r]) of rows reach every rank (the same arrays on every rank). */
SHARDML_API void sml_allgatherv_rows_f32(const sml_comm *c, float *rows, int64_t row_len, const int64_t *first,
                                         const int64_t *count);
/* Element-wise max of uint8 buffers onto root (collecting rows that only
 * one rank holds: the others contribute zeros). */
SHARDML_API void sml_reduce_max_u8(const sml_comm *c, uint8_t *buf, int64_t n, int root);
SHARDML_API void sml_barrier(const sml_comm *c);

/* A shared task counter for dynamic scheduling: an MPI window on rank 0 of
 * c holding one integer that any rank can fetch-and-increment without rank 0
 * taking part (passive-target one-sided atomics). Create and free are
 * collective over c; next is not. */
typedef struct {
  MPI_Win win;
  int64_t *base;
} sml_task_counter;
SHARDML_API void sml_task_counter_create(sml_task_counter *tc, const sml_comm *c);
SHARDML_API int64_t sml_task_counter_next(sml_task_counter *tc); /* returns the value before the increment */
SHARDML_API int64_t sml_task_counter_peek(sml_task_counter *tc);
/* Pushes the counter to at least end (it is never negative), so that every
 * later sml_task_counter_next returns end or more: no new tasks. */
SHARDML_API void sml_task_counter_close(sml_task_counter *tc, int64_t end);
SHARDML_API void sml_task_counter_free(sml_task_counter *tc);

/* Wall-clock seconds (MPI_Wtime). */
SHARDML_API double sml_now(void);

/* Rank-0-only logging to stderr, prefixed "shardml: ". */
SHARDML_API void sml_log(const sml_comm *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A live progress line on rank 0's terminal, overwritten by the next one and
 * erased by the next sml_log. Only when stderr is a TTY, or when
 * SHARDML_PROGRESS=1 forces it (SHARDML_PROGRESS=0 turns it off). */
#define SML_PROGRESS_ENV "SHARDML_PROGRESS"
SHARDML_API int sml_progress_enabled(const sml_comm *c);
SHARDML_API void sml_progress(const sml_comm *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Number of OpenMP threads each rank uses. */
SHARDML_API int sml_threads(void);

/* The MPI library's own name and version (MPI_Get_library_version's first
 * line: "Open MPI v4.1.4, ...", "MPICH Version: 4.0.2"), and the standard
 * version it implements, e.g. "3.1". */
SHARDML_API const char *sml_mpi_library(void);
SHARDML_API const char *sml_mpi_standard(void);
/* The settings sml_init chose, as the library reports them in effect
 * (MPI_T), e.g. "btl_tcp_eager_limit 266240 (shardml's default)", with
 * "(yours)" where the user's value won; "" where there are none (MPICH). */
SHARDML_API const char *sml_mpi_tuning(void);

SHARDML_END_DECLS

#endif
