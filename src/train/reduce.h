/* The default mode's gradient sum over the ranks, in buckets.
 *
 * The flat gradient [nweights] is cut into buckets from its end (the last
 * layer's gradients are final first in the backward pass): bucket 0 is the
 * top bucket_floats, bucket 1 the ones below, and so on. With overlap, the
 * backward pass tells the reducer as gradients become final
 * (sml_grad_hook) and each bucket's nonblocking allreduce starts as soon as
 * the whole bucket is; between the layers' matrix products the reducer
 * tests the requests in flight, which is when MPI progresses them (neither
 * Open MPI's nor MPICH's nonblocking collectives move without calls into
 * MPI, short of a progress thread). Without overlap (the default), one
 * blocking allreduce of the whole buffer after the backward pass.
 *
 * With a 16-bit wire type each rank sends round(g + e) and keeps the
 * rounding residual e for its next step (error feedback): no part of a
 * gradient is lost, only delayed. The step's loss, count and flags always
 * travel as floats. */
#ifndef SHARDML_REDUCE_H
#define SHARDML_REDUCE_H

#include <stdint.h>

#include "shardml/comm.h"
#include "shardml/model.h"
#include "shardml/train.h" /* sml_grad_dtype */

/* Where one step's time went, on this rank. compute_s: the local forward
 * and backward pass (with the reducer's own work in it: starting buckets,
 * rounding to 16 bits, tests); hidden_s: communication in flight while
 * computing (summed over buckets, up to the end of compute or the bucket's
 * completion); wait_s: from the end of compute to the last sum, which is
 * the slowest rank's lateness (imbalance) plus exposed communication. */
typedef struct {
  double compute_s, hidden_s, wait_s;
} sml_reduce_times;

/* Seconds that n pieces of communication, started at t_start[k] and seen
 * complete at t_done[k] (0: not seen), spent in flight before compute ended
 * at end: the hidden_s of sml_reduce_times. Pieces started after end count
 * nothing. */
double sml_time_in_flight(const double *t_start, const double *t_done, int64_t n, double end);

typedef struct sml_reducer sml_reducer;
/* grad: [nweights + nflags] (the gradient, then small float fields summed
 * alongside); bucket_bytes: the target bucket size in the wire type. */
sml_reducer *sml_reducer_init(const sml_model *m, float *grad, int64_t nflags, int overlap, double bucket_bytes,
                              sml_grad_dtype dtype, const sml_comm *c);
void sml_reducer_free(sml_reducer *r);
/* The hook to pass to sml_model_loss_grad_hooked for one step (NULL when
 * not overlapping); begin resets the step's clocks. */
const sml_grad_hook *sml_reducer_begin(sml_reducer *r);
/* After the backward pass: starts what has not started and waits for every
 * sum (grad then holds the sums over the ranks). Collective. */
void sml_reducer_finish(sml_reducer *r, sml_reduce_times *t);
/* This rank's error-feedback residual [nweights] (checkpoints save every
 * rank's), or NULL with fp32 sums. */
float *sml_reducer_residual(sml_reducer *r);
/* Buckets per step, and bytes of this rank's buffer handed to MPI per step. */
int64_t sml_reducer_buckets(const sml_reducer *r);
int64_t sml_reducer_step_bytes(const sml_reducer *r);

#endif
