/* Data-parallel minibatch SGD, shared by every parametric model.
 *
 * Each epoch, every rank derives the same permutation of the global training
 * indices from (seed, epoch). Step s takes global positions [s*B, s*B+B) of
 * it; each rank processes the ones that fall in its own shard. So the global
 * minibatch is the same whatever the number of ranks, shards of unequal size
 * need no special case, and the partial last batch is just shorter. One
 * MPI_Allreduce sums the gradient, the loss and the sample count; dividing
 * by the count gives the exact minibatch mean on every rank, and every rank
 * applies the identical update. */
#ifndef SHARDML_TRAIN_H
#define SHARDML_TRAIN_H

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/dist.h"
#include "shardml/model.h"
#include "shardml/prep.h"

typedef enum { SML_SCHEDULE_STEP, SML_SCHEDULE_COSINE } sml_schedule;

typedef struct {
  int64_t epochs;
  int64_t batch;          /* global minibatch size */
  double lr;              /* base learning rate */
  double reg;             /* L2 strength: loss += reg * sum W^2 (biases excluded) */
  double momentum;
  double lr_decay;        /* step schedule: lr *= lr_decay every lr_step epochs */
  int64_t lr_step;
  sml_schedule schedule;
  int lr_scaling;         /* linear scaling: lr * batch / base_batch */
  int64_t base_batch;
  double warmup_epochs;   /* linear warm-up from 0 over this many epochs */
  uint64_t seed;
  double init_scale;      /* weight init std; <= 0: He */
  int64_t log_every;      /* record the loss every N steps (0: only per epoch) */
  int quiet;              /* no epoch lines and no training-accuracy pass (search tasks) */
} sml_train_config;

/* Per-epoch metrics, kept on every rank (identical everywhere). */
typedef struct {
  double loss;             /* mean minibatch loss over the epoch */
  double train_acc, val_acc; /* val_acc < 0: no validation split */
  double images_per_sec;
  double compute_s, allreduce_s, other_s, eval_s;
  double lr;
} sml_epoch_stats;

typedef struct {
  int64_t nepochs;
  sml_epoch_stats *epochs;       /* [nepochs] */
  int64_t nsteps_logged;
  int64_t *step_index;           /* [nsteps_logged] global step numbers */
  double *step_loss;             /* [nsteps_logged] */
  double test_acc;               /* < 0: no test split */
} sml_train_history;

void sml_train_history_free(sml_train_history *h);
/* Room for cfg's epochs and logged steps. */
void sml_train_history_init(sml_train_history *h, const sml_train_config *cfg, int64_t steps_per_epoch);

/* Where a run is: everything the loop needs to continue exactly. */
typedef struct {
  int64_t epoch;          /* current epoch, 0-based */
  int64_t step_in_epoch;  /* steps of it already done */
  int64_t global_step;    /* steps done in all */
  double epoch_loss_sum;  /* running sums of the current epoch */
  double epoch_compute_s, epoch_allreduce_s, epoch_elapsed_s;
  float *params;          /* [nweights] */
  float *velocity;        /* [nweights] momentum */
  sml_train_history hist;
} sml_train_state;

/* When to checkpoint (all optional). */
typedef struct {
  const char *dir;        /* NULL: never */
  int64_t every_steps;    /* 0: off */
  int64_t every_epochs;   /* 0: off */
  double every_seconds;   /* 0: off */
  int keep;               /* checkpoints kept in dir */
  /* Called on rank 0 to write one checkpoint of the current state. */
  int (*write)(void *ctx, const sml_train_state *st, sml_err *err);
  void *ctx;
} sml_checkpoint_policy;

int sml_train_config_check(const sml_train_config *cfg, int64_t n_train, sml_err *err);

/* Trains from state (params identical on every rank) to the end of
 * cfg->epochs, checkpointing as policy says (policy may be NULL). Returns
 * SML_OK, an error, or SML_EXIT_PREEMPTED (3) when SIGTERM/SIGUSR1 arrived
 * on any rank (after sml_signals_install): then every rank finished the step and a checkpoint was
 * written. Collective. */
int sml_train(const sml_model *m, sml_train_state *state, const sml_dataset *ds, const sml_prep *prep,
              const sml_train_config *cfg, const sml_checkpoint_policy *policy, const sml_comm *c,
              sml_err *err);

/* Scratch for one step's local part, sized for the global batch. */
typedef struct {
  int64_t *idx;     /* [batch] local indices of the step's samples */
  float *x;         /* [batch, dim] prepared images */
  uint8_t *y;       /* [batch] labels */
  sml_workspace ws; /* activations and backward buffers */
} sml_step_scratch;
void sml_step_scratch_init(sml_step_scratch *s, const sml_model *m, int64_t batch, int64_t dim);
void sml_step_scratch_free(sml_step_scratch *s);

/* This rank's part of one step: the samples at global positions [lo, hi)
 * of perm that lie in this rank's shard are prepared and passed forward and
 * back. grad[nweights] is OVERWRITTEN with their summed data-loss gradient;
 * returns their summed loss and sets *count to how many there were. Not
 * collective: sml_train allreduces the result (so can a test). */
double sml_step_local(const sml_model *m, const float *params, const sml_shard *train, const sml_prep *prep,
                      const int64_t *perm, int64_t lo, int64_t hi, sml_step_scratch *s, float *grad,
                      int64_t *count);

/* scores[n, C] of n uint8 images (preprocessed and forwarded in chunks). */
void sml_images_scores(const sml_model *m, const float *params, const sml_prep *prep, const uint8_t *images,
                       int64_t n, float *scores);

/* Accuracy of params on a sharded split (collective); -1 for an empty split. */
double sml_evaluate(const sml_model *m, const float *params, const sml_shard *split,
                    const sml_prep *prep, const sml_comm *c);

/* One SGD-with-momentum step on the allreduced gradient sum, fused into a
 * single pass over the flat buffers:
 *   g = grad_sum / count + 2 reg W (weights only);  v = mu v - lr g;  p += v.
 * Returns reg * sum W^2 of the parameters before the step. */
double sml_sgd_step(const sml_model *m, float *params, float *velocity, const float *grad_sum,
                    double count, double reg, double lr, double momentum);

/* Learning rate at a fractional epoch position. */
double sml_lr_at(const sml_train_config *cfg, int64_t epoch, double epoch_fraction);

/* Rank 0 writes history.csv, steps.csv (if steps were logged) and loss.svg
 * into dir. Returns an agreed status. */
int sml_train_write_history(const sml_train_history *h, const char *dir, const sml_comm *c,
                            sml_err *err);

#endif
