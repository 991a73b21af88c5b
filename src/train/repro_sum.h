/* The reproducible mode's exact sum over the ranks (steps of more than
 * SML_GATHERED_MICRO micro-batches; train/reproducible.c has the rest):
 * each owned micro-batch's gradient becomes fixed-point integers at a
 * scale per tensor agreed from the largest magnitude over all ranks
 * (base/exact.h), and integers add exactly in any order.
 *
 * Without overlap, after the rank's last micro-batch: one MPI_MAX of every
 * tensor's largest magnitude and the loss's, then one int64 sum of the
 * whole gradient with the loss, count and flags.
 *
 * With overlap (cfg->overlap, from --overlap on (CLI)), the rank's last micro-batch passes backward
 * with a hook: as each tensor becomes final (the last layer's first), its
 * largest magnitude over the rank's micro-batches starts a nonblocking
 * MPI_MAX, and once that has completed (tested between the layers'
 * products, which is when MPI progresses it) the tensor is converted and
 * its nonblocking int64 sums start, in pieces of SML_BUCKET_MB. The scales and the integers are those
 * of the sum without overlap, and so are the sums' bits. Ranks see the
 * maxima complete at different times and so start the two kinds of sums in
 * different interleavings; each kind has a communicator of its own
 * (collectives on one communicator must start in one order everywhere). */
#ifndef SHARDML_REPRO_SUM_H
#define SHARDML_REPRO_SUM_H

#include <stdint.h>

#include "shardml/comm.h"
#include "shardml/model.h"
#include "shardml/optimizer.h" /* sml_grad_sum */
#include "train/reduce.h"      /* sml_reduce_times */

typedef struct sml_repro_sum sml_repro_sum;
/* For m's micro-batch gradients in rows of grads [rows, nweights]. Collective
 * (with overlap on more than one rank it duplicates c twice). */
sml_repro_sum *sml_repro_sum_init(const sml_model *m, const float *grads, int64_t rows, int overlap, const sml_comm *c);
void sml_repro_sum_free(sml_repro_sum *s);
/* Starts a step of nmicro micro-batches, kc of them here in rows [0, kc).
 * hookable: row kc - 1 is computed last, on the thread that calls MPI.
 * Returns the hook for that row's backward pass (NULL: none; each row is
 * then handed to sml_repro_sum_row_done). */
const sml_grad_hook *sml_repro_sum_begin(sml_repro_sum *s, int64_t nmicro, int64_t kc, int hookable);
/* Row j's gradient is complete and was not hooked: its largest magnitudes.
 * Any thread, rows in any order. */
void sml_repro_sum_row_done(sml_repro_sum *s, int64_t j);
/* After the rank's rows: the sums over the ranks of the gradient (*grad:
 * fixed-point, valid until the next step), of losses[0 .. kc) (*loss_sum),
 * of count (*count_sum) and of flags[2] (in place). times: hidden_s, the
 * sums in flight while computing; wait_s, from the call to the last sum.
 * Collective. Returns -1 (on every rank) when a gradient or loss is not
 * finite on any rank, else 0. */
int sml_repro_sum_finish(sml_repro_sum *s, const double *losses, int64_t count, int64_t flags[2], sml_grad_sum *grad,
                         double *loss_sum, int64_t *count_sum, sml_reduce_times *times);
/* Bytes one step's sums hand to MPI (none on one rank). */
int64_t sml_repro_sum_bytes(const sml_repro_sum *s);

#endif
