/* The process-wide MPI/OpenMP context and the collectives the rest of
 * shardml uses. This is the only module that knows MPI beyond a communicator
 * handle: every other module calls these wrappers. */
#ifndef SHARDML_DIST_H
#define SHARDML_DIST_H

#include <mpi.h>
#include <stdint.h>

#include "shardml/error.h"

/* A communicator with its rank and size cached. */
typedef struct {
  MPI_Comm comm;
  int rank;
  int size;
} sml_comm;

sml_comm sml_comm_of(MPI_Comm comm);
sml_comm sml_comm_world(void);
sml_comm sml_comm_self(void);

/* MPI_Comm_split: ranks with the same color form a new communicator,
 * ordered by key. Free with sml_comm_free. Collective. */
sml_comm sml_comm_split(const sml_comm *c, int color, int key);
void sml_comm_free(sml_comm *c);

/* MPI_Init_thread(FUNNELED) and MPI_Finalize. */
void sml_dist_init(int *argc, char ***argv);
void sml_dist_finalize(void);

/* Collective agreement on an error: every rank of c calls it, whatever its
 * local status. Returns the largest status of any rank; when it is not
 * SML_OK, err holds the message of the lowest-numbered failing rank on every
 * rank, so that rank 0 can report it once. */
int sml_agree(const sml_comm *c, int status, sml_err *err);

/* Thin, typed collectives (sum reductions in place, broadcasts from root). */
void sml_allreduce_sum_u64(const sml_comm *c, uint64_t *buf, int64_t n);
void sml_allreduce_sum_i64(const sml_comm *c, int64_t *buf, int64_t n);
void sml_allreduce_sum_f64(const sml_comm *c, double *buf, int64_t n);
void sml_allreduce_sum_f32(const sml_comm *c, float *buf, int64_t n);
/* Nonblocking sums in place (n below 2^30): started now, complete once
 * sml_requests_test says so or sml_requests_wait returns; the buffer is
 * MPI's until then. Half-precision buffers hold bfloat16 or IEEE binary16
 * bit patterns; each addition is done in float and rounded back. */
typedef MPI_Request sml_request;
typedef enum { SML_HALF_BF16, SML_HALF_F16 } sml_half_kind;
void sml_iallreduce_sum_f32(const sml_comm *c, float *buf, int64_t n, sml_request *req);
void sml_allreduce_sum_half(const sml_comm *c, uint16_t *buf, int64_t n, sml_half_kind kind);
void sml_iallreduce_sum_half(const sml_comm *c, uint16_t *buf, int64_t n, sml_half_kind kind, sml_request *req);
/* Lets MPI progress the requests; returns 1 when every one is complete. */
int sml_requests_test(sml_request *reqs, int n);
void sml_requests_wait(sml_request *reqs, int n);
/* Element-wise maximum over the ranks, in place. */
void sml_allreduce_max_f64(const sml_comm *c, double *buf, int64_t n);
/* Every rank sends send_counts[r] bytes (consecutive in send, in rank
 * order) to rank r and receives recv_counts[r] bytes from it (consecutive
 * in recv, in rank order). Counts below 2^31 per rank. */
void sml_alltoallv_bytes(const sml_comm *c, const void *send, const int64_t *send_counts, void *recv,
                         const int64_t *recv_counts);
/* The smallest value over the ranks, on every rank. */
int64_t sml_allreduce_min_i64(const sml_comm *c, int64_t value);
void sml_bcast_bytes(const sml_comm *c, void *buf, int64_t bytes, int root);
/* Gathers one int64 per rank on root (out has c->size entries there). */
void sml_gather_i64(const sml_comm *c, int64_t value, int64_t *out, int root);
/* Every rank gets every rank's value (out has c->size entries). */
void sml_allgather_i64(const sml_comm *c, int64_t value, int64_t *out);
/* Gathers equal-size byte blocks on root (out: c->size * bytes, root only). */
void sml_gather_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, int root);
/* Gathers variable-length byte blocks on root; counts/out only used there. */
void sml_gatherv_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, const int64_t *counts, int root);
/* Rank r receives block r of root's c->size blocks of bytes each (in:
 * root only). */
void sml_scatter_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, int root);
/* Every rank gets every rank's block, in rank order (out: the sum of the
 * blocks' sizes, on every rank). */
void sml_allgatherv_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out);
/* In place over rows of row_len floats: rank r's rows [first[r], first[r] +
 * count[r]) of rows reach every rank (the same arrays on every rank). */
void sml_allgatherv_rows_f32(const sml_comm *c, float *rows, int64_t row_len, const int64_t *first,
                             const int64_t *count);
/* Element-wise max of uint8 buffers onto root (collecting rows that only
 * one rank holds: the others contribute zeros). */
void sml_reduce_max_u8(const sml_comm *c, uint8_t *buf, int64_t n, int root);
void sml_barrier(const sml_comm *c);

/* A shared task counter for dynamic scheduling: an MPI window on rank 0 of
 * c holding one integer that any rank can fetch-and-increment without rank 0
 * taking part (passive-target one-sided atomics). Create and free are
 * collective over c; next is not. */
typedef struct {
  MPI_Win win;
  int64_t *base;
} sml_task_counter;
void sml_task_counter_create(sml_task_counter *tc, const sml_comm *c);
int64_t sml_task_counter_next(sml_task_counter *tc); /* returns the value before the increment */
int64_t sml_task_counter_peek(sml_task_counter *tc);
/* Pushes the counter to at least end (it is never negative), so that every
 * later sml_task_counter_next returns end or more: no new tasks. */
void sml_task_counter_close(sml_task_counter *tc, int64_t end);
void sml_task_counter_free(sml_task_counter *tc);

/* Wall-clock seconds (MPI_Wtime). */
double sml_now(void);

/* Rank-0-only logging to stderr, prefixed "shardml: ". */
void sml_log(const sml_comm *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A live progress line on rank 0's terminal, overwritten by the next one and
 * erased by the next sml_log. Only when stderr is a TTY, or when
 * SHARDML_PROGRESS=1 forces it (SHARDML_PROGRESS=0 turns it off). */
#define SML_PROGRESS_ENV "SHARDML_PROGRESS"
int sml_progress_enabled(const sml_comm *c);
void sml_progress(const sml_comm *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* SIGTERM and SIGUSR1 (SLURM's warnings before a time limit or a
 * preemption) set a flag instead of killing the process; the trainer polls
 * it once a step, inside its allreduce, so every rank stops at the same step.
 * Installed by the first statement of main (before MPI_Init), so that a
 * signal at any time means "stop": one during start-up stops training at
 * its first step. SHARDML_FAULT=signal-at-start raises SIGUSR1 right after
 * installing (for the tests). */
void sml_signals_install(void);
/* Blocks both until the next sml_signals_install: around exec, which
 * resets handlers but keeps the blocked mask and what is pending. */
void sml_signals_hold(void);
int sml_signal_pending(void); /* the signal number, or 0 */

/* Number of OpenMP threads each rank uses. */
int sml_threads(void);

#endif
