/* One training step, inside the library: the local part, the buffers of
 * either arithmetic mode, and the reproducible mode's micro-batches (trainer.c,
 * reproducible.c; the step benchmark and the layout tests call them too).
 * The training API is shardml/train.h. */
#ifndef SHARDML_STEP_H
#define SHARDML_STEP_H

#include <stdint.h>

#include "shardml/train.h"
#include "train/reduce.h"

/* Scratch for one step's local part, sized for the global batch. */
typedef struct {
  int64_t *idx;         /* [batch] local indices of the step's samples */
  int64_t *ids;         /* [batch] their global indices (dropout masks) */
  float *x;             /* [batch, dim] prepared images */
  uint8_t *y;           /* [batch] labels */
  const uint8_t **rows; /* [batch] their images, for augmentation */
  uint8_t *augmented;   /* [batch, dim] the augmented images */
  sml_workspace ws;     /* activations and backward buffers */
} sml_step_scratch;
/* The augmentation of one epoch's steps (spec none: off), of images of
 * height x width x channels. */
typedef struct {
  sml_augment spec;
  uint64_t seed;
  int64_t epoch;
  int height, width, channels;
} sml_augment_step;
/* rows[n] (uint8 images of global indices ids) as the model reads them,
 * into out[n, dim]: augmented first (into scratch[n, dim]) as aug says
 * (NULL or spec none: not), then prepared. */
void sml_step_prepare(const sml_augment_step *aug, const sml_prep *prep, const int64_t *ids, const uint8_t **rows,
                      int64_t n, uint8_t *scratch, float *out);
void sml_step_scratch_init(sml_step_scratch *s, const sml_model *m, int64_t batch, int64_t dim);
void sml_step_scratch_free(sml_step_scratch *s);

/* This rank's part of one step: the samples at global positions [lo, hi)
 * of perm that lie in this rank's shard are augmented (as aug says, if not
 * NULL), prepared and passed forward and
 * back (with drop's masks, if not NULL, for the step drop->step; the
 * samples are identified by their global index, so masks do not depend on
 * the layout). grad[nweights] is OVERWRITTEN with their summed data-loss gradient
 * (hook, if not NULL, told as its parts become final);
 * returns their summed loss and sets *count to how many there were. Not
 * collective: sml_train allreduces the result (so can a test). */
double sml_step_local(const sml_model *m, const float *params, const sml_shard *train, const sml_prep *prep,
                      const int64_t *perm, int64_t lo, int64_t hi, const sml_dropout *drop, const sml_augment_step *aug,
                      sml_step_scratch *s, float *grad, int64_t *count, const sml_grad_hook *hook);

/* Reproducible steps (cfg->reproducible). The global batch is cut into
 * micro-batches of cfg->micro_batch positions; each is computed whole by one
 * thread of the rank that owns it (its images are sent there first), and
 * the micro-batches' gradients and losses are summed either in micro-batch
 * order after gathering them or in fixed-point integers (base/exact.h),
 * so the step's gradient has the same bits for any number of ranks and
 * threads. */

/* The micro-batch setting of cfg: its own, or by default a quarter of the
 * batch within [64, 256]; a function of the options alone, recorded in
 * checkpoints (a resume must cut the same micro-batches). */
int64_t sml_micro_batch_setting(const sml_train_config *cfg);
/* The positions a micro-batch holds: the setting, at most the batch. */
int64_t sml_micro_batch(const sml_train_config *cfg);
/* The most micro-batches one of `ranks` ranks owns in a full step of cfg
 * (ranks own contiguous blocks of them; ranks = 1: all of them). */
int64_t sml_micro_batches_owned(const sml_train_config *cfg, int ranks);
/* A step of at most this many micro-batches gathers their gradients on
 * every rank and adds them in micro-batch order; more use the order-free
 * exact sum (base/exact.h). Either is the same for every layout, and the
 * choice depends on the step's micro-batch count alone. Up to 4, gathering
 * the float gradients moves no more bytes than the int64 sum and saves its
 * passes (docs/reproducibility.md). */
#define SML_GATHERED_MICRO 4
/* 1 if full steps of cfg take the exact sum (more than SML_GATHERED_MICRO
 * micro-batches). */
int sml_repro_exact_sums(const sml_train_config *cfg);
/* Micro-batch gradients one of `ranks` ranks keeps in a step of cfg: those
 * it owns, or all of a gathering step's. */
int64_t sml_micro_gradients_kept(const sml_train_config *cfg, int ranks);
typedef struct sml_repro sml_repro;
sml_repro *sml_repro_init(const sml_model *m, const sml_shard *train, const sml_prep *prep, const sml_train_config *cfg,
                          const sml_comm *c);
void sml_repro_free(sml_repro *r);
/* The step over positions [lo, hi) of perm, hi = min(lo + batch, total)
 * as the trainer cuts them (the images of up to CHUNK_STEPS steps from lo
 * are gathered at once, while global_step and lo go on as one epoch's
 * steps; perm must hold until the epoch ends): *grad set to the summed
 * gradient (the gathered micro-batch gradients or the fixed-point sums, in
 * r, valid until the next step), *loss_sum and *count the summed loss and
 * sample count, flags[2] summed over the ranks (signal, timer); the images
 * augmented as aug says (NULL: not). times: hidden_s, exact sums in flight
 * while computing (cfg->overlap); wait_s, the time spent waiting for
 * exchanges (compute_s is left to the caller). Collective. Returns -1 when
 * the loss (or, with exact sums, a gradient) is not finite on any rank
 * (every rank returns it), else 0. */
int sml_repro_step(sml_repro *r, const float *params, const int64_t *perm, int64_t lo, int64_t hi, int64_t global_step,
                   const sml_augment_step *aug, sml_grad_sum *grad, double *loss_sum, int64_t *count, int64_t flags[2],
                   sml_reduce_times *times);
/* Bytes of this rank's data bound for other ranks in r's steps so far: for
 * the sums (an allreduce's buffer once, its gathered micro-batch gradients
 * once per other rank) and for images; none on one rank. Payloads, not
 * MPI's algorithms: on 2 ranks exactly what crosses between them. */
void sml_repro_sent(const sml_repro *r, int64_t *sum_bytes, int64_t *image_bytes);
/* The batch normalization statistics the last step agreed (every rank
 * alike), for sml_net_update_running. */
const sml_workspace *sml_repro_stats(const sml_repro *r);

/* The buffers of one training's steps, in either mode. */
typedef struct {
  sml_step_scratch scratch; /* default mode */
  sml_repro *repro;         /* reproducible mode; NULL otherwise */
  float *grad;              /* [nweights + 4]: the gradient sum, then loss, count, signal, timer */
  sml_reducer *reducer;     /* default mode: sums grad over the ranks */
  int64_t sent_sum_bytes;   /* default mode: the allreduces' payloads so far (sml_step_sent) */
  int image[3];             /* height, width, channels of the images (augmentation) */
} sml_step_buffers;
/* For training on ds's training split. */
void sml_step_buffers_init(sml_step_buffers *b, const sml_model *m, const sml_dataset *ds, const sml_prep *prep,
                           const sml_train_config *cfg, const sml_comm *c);
void sml_step_buffers_free(sml_step_buffers *b);
/* Bytes this rank has handed to MPI to send in b's steps so far, as
 * sml_repro_sent counts them (the default mode sends no images). */
void sml_step_sent(const sml_step_buffers *b, int64_t *sum_bytes, int64_t *image_bytes);

/* One training step as sml_train takes it (and tests/bench/repro_steps.c
 * times it): the gradient at st->params of positions [lo, hi) of perm, in
 * cfg's mode, its sum over the ranks, then the optimizer's update at rate lr
 * as update st->global_step + 1 (the caller advances the counters).
 * flags[2]: in, this rank's signal and timer; out, their sums over the
 * ranks (they travel with the gradient). Returns the step's mean loss plus
 * the L2 term; not finite when training diverged (on every rank alike).
 * *times: where the step's time went (reproducible mode: its exchanges are all
 * counted as waiting). Collective. */
double sml_train_step(sml_step_buffers *b, const sml_model *m, sml_train_state *st, const sml_train_config *cfg,
                      const sml_shard *train, const sml_prep *prep, const int64_t *perm, int64_t lo, int64_t hi,
                      double lr, int64_t flags[2], sml_reduce_times *times, const sml_comm *c);

#endif
