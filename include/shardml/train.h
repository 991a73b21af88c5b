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
#include "shardml/optimizer.h"
#include "shardml/prep.h"
#include "shardml/reduce.h"

typedef enum { SML_SCHEDULE_STEP, SML_SCHEDULE_COSINE } sml_schedule;

/* The bucket size of the overlapped gradient sum, in MB: over the
 * emulated 10 Gb/s link (2 ranks, MLP 784-256-10, batch 512) 0.25 MB
 * buckets waited 0.042 s an epoch where 0.5 MB ones waited 0.14 s (their
 * first bucket became whole only halfway through the first layer's
 * gradient), docs/performance.md, "Scaling out". */
#define SML_BUCKET_MB 0.25
/* The most residual floats (ranks x parameters) a checkpoint carries. */
#define SML_RESIDUALS_MAX ((int64_t)1 << 28)

/* "Not given": sml_train_defaults fills fields holding it (NAN for reals). */
#define SML_UNSET INT64_MIN

/* One training run, typed: the model and every hyperparameter. Callers
 * (the train command, search tasks and their final retrain) start from
 * sml_train_unset(), set what they know, and let sml_train_defaults fill the
 * rest with the defaults per model kind and optimizer, kept in one place. */
typedef struct {
  /* the model */
  char model[16];                 /* softmax | svm | mlp */
  int64_t hidden[SML_MAX_LAYERS]; /* the mlp's hidden widths (default 256) */
  int nhidden;
  /* the trajectory */
  int64_t epochs;
  int64_t batch; /* global minibatch size */
  double lr;     /* base learning rate */
  double reg;    /* L2 strength: loss += reg * sum W^2 (biases excluded) */
  const sml_optimizer *optimizer;
  sml_opt_hyper opt; /* momentum, betas, epsilon, weight decay */
  double dropout;    /* probability of dropping a hidden unit (inverted dropout), 0: none */
  double lr_decay;   /* step schedule: lr *= lr_decay every lr_step epochs */
  int64_t lr_step;
  sml_schedule schedule;
  int lr_scaling; /* linear scaling: lr * batch / base_batch */
  int64_t base_batch;
  double warmup_epochs; /* linear warm-up from 0 over this many epochs */
  uint64_t seed;
  double init_scale; /* weight init std; <= 0: He */
  /* arithmetic */
  int reproducible;    /* bitwise the same for any ranks and threads (see sml_repro_step) */
  int64_t micro_batch; /* reproducible: positions per micro-batch (the unit of work); 0: sml_micro_batch */
  /* the gradient sum of the default mode (shardml/reduce.h) */
  int overlap;      /* 1: buckets reduced during the backward pass; 0 (default): one allreduce after it; -1: unset */
  double bucket_mb; /* bucket size in MB (10^6 bytes) of the wire type (default SML_BUCKET_MB) */
  int grad_dtype;   /* sml_grad_dtype: fp32 (default), bf16 or fp16 on the wire, with error feedback */
  /* stopping and reporting */
  int64_t early_stop; /* stop after this many epochs without a better validation accuracy (0: never) */
  int64_t log_every;  /* record the loss every N steps (0: only per epoch) */
  int quiet;          /* no epoch lines and no training-accuracy pass (search tasks) */
} sml_train_config;

/* Every field "not given" (model "", optimizer NULL, reals NAN, integers
 * SML_UNSET); quiet and lr_scaling 0. */
sml_train_config sml_train_unset(void);
/* Fills every field not given: model mlp (hidden 256), optimizer sgd,
 * epochs 20, batch 128, lr by optimizer and model (SGD: softmax 0.02, svm
 * 0.01, mlp 0.05; Adam: 1e-3), reg 1e-4, momentum 0.9, betas 0.9 and
 * 0.999, epsilon 1e-8, weight decay 0.01, no dropout, step schedule with
 * decay 0.95 every epoch, base batch 128, no warm-up, seed 1, init std 1e-3
 * for linear models and He for the mlp, no early stopping, no step log. */
void sml_train_defaults(sml_train_config *cfg);
/* Builds cfg's model for the data. */
int sml_train_model(const sml_train_config *cfg, int64_t input_dim, int num_classes, sml_model *m, sml_err *err);

/* Per-epoch metrics, kept on every rank (identical everywhere). */
typedef struct {
  double loss;               /* mean minibatch loss over the epoch */
  double train_acc, val_acc; /* val_acc < 0: no validation split */
  double val_loss;           /* mean data loss on the validation split (NAN without one) */
  double images_per_sec;
  double compute_s, allreduce_s, other_s, eval_s;
  /* allreduce_s split: communication in flight during compute (hidden),
   * waiting for the sums beyond the slowest rank's lateness (exposed), and
   * that lateness (imbalance); exposed + imbalance = allreduce_s. */
  double comm_hidden_s, comm_exposed_s, imbalance_s;
  double lr;
} sml_epoch_stats;

typedef struct {
  int64_t nepochs;
  sml_epoch_stats *epochs; /* [nepochs] */
  int64_t nsteps_logged;
  int64_t *step_index; /* [nsteps_logged] global step numbers */
  double *step_loss;   /* [nsteps_logged] */
  double test_acc;     /* < 0: no test split */
} sml_train_history;

void sml_train_history_free(sml_train_history *h);
/* Room for cfg's epochs and logged steps. */
void sml_train_history_init(sml_train_history *h, const sml_train_config *cfg, int64_t steps_per_epoch);

/* Where a run is: everything the loop needs to continue exactly. */
typedef struct {
  int64_t epoch;         /* current epoch, 0-based */
  int64_t step_in_epoch; /* steps of it already done */
  int64_t global_step;   /* steps done in all */
  double epoch_loss_sum; /* running sums of the current epoch */
  double epoch_compute_s, epoch_allreduce_s, epoch_elapsed_s;
  double epoch_hidden_s;               /* not checkpointed: a resumed epoch reports its own part */
  float *params;                       /* [nweights] */
  float *opt_state[SML_OPT_MAX_STATE]; /* the optimizer's buffers, [nweights] each */
  /* --grad-dtype bf16|fp16: every rank's error-feedback residual,
   * [residual_ranks, nweights] in rank order, on rank 0 only: gathered
   * before each checkpoint, read from one and scattered when training
   * starts; NULL otherwise. residual_dtype: the sml_grad_dtype they are of. */
  float *residuals;
  int64_t residual_ranks;
  int residual_dtype;
  /* (At most SML_RESIDUALS_MAX floats, 1 GiB, are saved; a larger run's
   * resume restarts error feedback at zero.) */
  sml_train_history hist;
} sml_train_state;

/* Parameters (uninitialised), zeroed optimizer state, and room for the
 * history of cfg's epochs. */
void sml_train_state_init(sml_train_state *st, const sml_model *m, const sml_train_config *cfg,
                          int64_t steps_per_epoch);
void sml_train_state_free(sml_train_state *st);
/* Rank 0's state (drawn or read from a checkpoint) to every rank, so that
 * parameters start identical everywhere. Collective. */
void sml_train_state_bcast(sml_train_state *st, const sml_model *m, const sml_train_config *cfg, const sml_comm *c);

/* When to checkpoint (all optional). */
typedef struct {
  const char *dir;      /* NULL: never */
  int64_t every_steps;  /* 0: off */
  int64_t every_epochs; /* 0: off */
  double every_seconds; /* 0: off */
  int keep;             /* checkpoints kept in dir */
  /* Called on rank 0 to write one checkpoint of the current state. */
  int (*write)(void *ctx, const sml_train_state *st, sml_err *err);
  /* Called on rank 0 after an epoch whose validation accuracy beats every
   * earlier one (NULL: not wanted), to keep the best model. */
  int (*write_best)(void *ctx, const sml_train_state *st, sml_err *err);
  void *ctx;
} sml_checkpoint_policy;

int sml_train_config_check(const sml_train_config *cfg, int64_t n_train, sml_err *err);

/* Trains from state (params identical on every rank) to the end of
 * cfg->epochs, checkpointing as policy says (policy may be NULL). Returns
 * SML_OK, an error, or SML_EXIT_PREEMPTED (3) when SIGTERM/SIGUSR1 arrived
 * on any rank (after sml_signals_install): then every rank finished the step and a checkpoint was
 * written. Collective. */
int sml_train(const sml_model *m, sml_train_state *state, const sml_dataset *ds, const sml_prep *prep,
              const sml_train_config *cfg, const sml_checkpoint_policy *policy, const sml_comm *c, sml_err *err);

/* Scratch for one step's local part, sized for the global batch. */
typedef struct {
  int64_t *idx;     /* [batch] local indices of the step's samples */
  int64_t *ids;     /* [batch] their global indices (dropout masks) */
  float *x;         /* [batch, dim] prepared images */
  uint8_t *y;       /* [batch] labels */
  sml_workspace ws; /* activations and backward buffers */
} sml_step_scratch;
void sml_step_scratch_init(sml_step_scratch *s, const sml_model *m, int64_t batch, int64_t dim);
void sml_step_scratch_free(sml_step_scratch *s);

/* This rank's part of one step: the samples at global positions [lo, hi)
 * of perm that lie in this rank's shard are prepared and passed forward and
 * back (with drop's masks, if not NULL, for the step drop->step; the
 * samples are identified by their global index, so masks do not depend on
 * the layout). grad[nweights] is OVERWRITTEN with their summed data-loss gradient
 * (hook, if not NULL, told as its parts become final);
 * returns their summed loss and sets *count to how many there were. Not
 * collective: sml_train allreduces the result (so can a test). */
double sml_step_local(const sml_model *m, const float *params, const sml_shard *train, const sml_prep *prep,
                      const int64_t *perm, int64_t lo, int64_t hi, const sml_dropout *drop, sml_step_scratch *s,
                      float *grad, int64_t *count, const sml_grad_hook *hook);

/* Reproducible steps (--reproducible). The global batch is cut into
 * micro-batches of cfg->micro_batch positions; each is computed whole by one
 * thread of the rank that owns it (its images are sent there first), and
 * the micro-batches' gradients and losses are summed either in micro-batch
 * order after gathering them or in fixed-point integers (shardml/exact.h),
 * so the step's gradient has the same bits for any number of ranks and
 * threads. */
/* Refuses (SML_EINPUT, naming the option that drives it and the estimate)
 * a run whose parameters, activations and history (and with --reproducible
 * the micro-batch gradients a rank keeps) would not fit this node's memory
 * on each of `ranks` ranks, before anything is allocated. */
int sml_train_memory_check(const sml_model *m, const sml_train_config *cfg, int64_t n_train, int ranks, sml_err *err);

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
 * exact sum (shardml/exact.h). Either is the same for every layout, and the
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
 * sample count, flags[2] summed over the ranks (signal, timer), *comm_s the
 * time spent exchanging. Collective. Returns -1 when the loss (or, with
 * exact sums, a gradient) is not finite on any rank (every rank returns
 * it), else 0. */
int sml_repro_step(sml_repro *r, const float *params, const int64_t *perm, int64_t lo, int64_t hi, int64_t global_step,
                   sml_grad_sum *grad, double *loss_sum, int64_t *count, int64_t flags[2], double *comm_s);
/* Bytes of this rank's data bound for other ranks in r's steps so far: for
 * the sums (an allreduce's buffer once, its gathered micro-batch gradients
 * once per other rank) and for images; none on one rank. Payloads, not
 * MPI's algorithms: on 2 ranks exactly what crosses between them. */
void sml_repro_sent(const sml_repro *r, int64_t *sum_bytes, int64_t *image_bytes);

/* The buffers of one training's steps, in either mode. */
typedef struct {
  sml_step_scratch scratch; /* default mode */
  sml_repro *repro;         /* --reproducible; NULL otherwise */
  float *grad;              /* [nweights + 4]: the gradient sum, then loss, count, signal, timer */
  sml_reducer *reducer;     /* default mode: sums grad over the ranks */
  int64_t sent_sum_bytes;   /* default mode: the allreduces' payloads so far (sml_step_sent) */
} sml_step_buffers;
void sml_step_buffers_init(sml_step_buffers *b, const sml_model *m, const sml_shard *train, const sml_prep *prep,
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
 * *times: where the step's time went (--reproducible: its exchanges are all
 * counted as waiting). Collective. */
double sml_train_step(sml_step_buffers *b, const sml_model *m, sml_train_state *st, const sml_train_config *cfg,
                      const sml_shard *train, const sml_prep *prep, const int64_t *perm, int64_t lo, int64_t hi,
                      double lr, int64_t flags[2], sml_reduce_times *times, const sml_comm *c);

/* scores[n, C] of n uint8 images, images [first, first + n) of their
 * split: each image's scores are the same bits for any first, n and thread
 * count (fixed blocks aligned to the index in the split; see trainer.c). */
void sml_images_scores(const sml_model *m, const float *params, const sml_prep *prep, const uint8_t *images,
                       int64_t first, int64_t n, float *scores);

/* Accuracy of params on a sharded split (collective); -1 for an empty
 * split. With loss not NULL, also the mean data loss (NAN if empty). */
double sml_evaluate(const sml_model *m, const float *params, const sml_shard *split, const sml_prep *prep,
                    const sml_comm *c, double *loss);

/* Learning rate at a fractional epoch position. */
double sml_lr_at(const sml_train_config *cfg, int64_t epoch, double epoch_fraction);

/* Rank 0 writes history.csv, steps.csv (if steps were logged), loss.svg
 * (training and, with a validation split, validation loss) and
 * accuracy.svg into dir. Returns an agreed status. */
int sml_train_write_history(const sml_train_history *h, const char *dir, const sml_comm *c, sml_err *err);

#endif
