/* src/train/: training: the set-up, the data-parallel loop, optimizers, checkpoints, jobs. */
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

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/comm.h"
#include "shardml/model.h"
#include "shardml/optimizer.h"
#include "shardml/prep.h"

SHARDML_BEGIN_DECLS

typedef enum { SML_SCHEDULE_STEP, SML_SCHEDULE_COSINE } sml_schedule;

/* The type of the default mode's gradient sums on the wire. */
typedef enum { SML_GRAD_FP32, SML_GRAD_BF16, SML_GRAD_FP16 } sml_grad_dtype;
/* "fp32", "bf16", "fp16" -> dtype; -1 when unknown. */
SHARDML_API int sml_grad_dtype_parse(const char *name, sml_grad_dtype *out);
SHARDML_API const char *sml_grad_dtype_name(sml_grad_dtype d);

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
  char net[SML_NET_LEN]; /* model "cnn": its layers (sml_model_init_net's spec) */
  /* the trajectory */
  int64_t epochs;
  int64_t batch; /* global minibatch size */
  double lr;     /* base learning rate */
  double reg;    /* L2 strength: loss += reg * sum W^2 (biases excluded) */
  const sml_optimizer *optimizer;
  sml_opt_hyper opt;   /* momentum, betas, epsilon, weight decay */
  double dropout;      /* probability of dropping a hidden unit (inverted dropout), 0: none */
  sml_augment augment; /* random crops and flips of the training images (zero: none) */
  double lr_decay;     /* step schedule: lr *= lr_decay every lr_step epochs */
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
  /* the gradient sum of the default mode (src/train/reduce.h) */
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
SHARDML_API sml_train_config sml_train_unset(void);
/* Fills every field not given: model mlp (hidden 256), optimizer sgd,
 * epochs 20, batch 128, lr by optimizer and model (SGD: softmax 0.02, svm
 * 0.01, mlp 0.05; Adam: 1e-3), reg 1e-4, momentum 0.9, betas 0.9 and
 * 0.999, epsilon 1e-8, weight decay 0.01, no dropout, step schedule with
 * decay 0.95 every epoch, base batch 128, no warm-up, seed 1, init std 1e-3
 * for linear models and He for the mlp, no early stopping, no step log. */
SHARDML_API void sml_train_defaults(sml_train_config *cfg);
/* Builds cfg's model for images of height x width x channels. */
SHARDML_API int sml_train_model_image(const sml_train_config *cfg, int height, int width, int channels, int num_classes,
                                      sml_model *m, sml_err *err);
/* The same for inputs of input_dim values (a network's spec takes them as
 * one row of pixels). */
SHARDML_API int sml_train_model(const sml_train_config *cfg, int64_t input_dim, int num_classes, sml_model *m,
                                sml_err *err);

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

SHARDML_API void sml_train_history_free(sml_train_history *h);
/* Room for cfg's epochs and logged steps. */
SHARDML_API void sml_train_history_init(sml_train_history *h, const sml_train_config *cfg, int64_t steps_per_epoch);

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
  /* 16-bit wire types (grad_dtype bf16|fp16): every rank's error-feedback residual,
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
SHARDML_API void sml_train_state_init(sml_train_state *st, const sml_model *m, const sml_train_config *cfg,
                                      int64_t steps_per_epoch);
SHARDML_API void sml_train_state_free(sml_train_state *st);
/* Rank 0's state (drawn or read from a checkpoint) to every rank, so that
 * parameters start identical everywhere. Collective. */
SHARDML_API void sml_train_state_bcast(sml_train_state *st, const sml_model *m, const sml_train_config *cfg,
                                       const sml_comm *c);

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

SHARDML_API int sml_train_config_check(const sml_train_config *cfg, int64_t n_train, sml_err *err);
/* Refuses (SML_EINPUT, naming the option that drives it and the estimate)
 * a run whose parameters, activations and history (and in the reproducible mode
 * the micro-batch gradients a rank keeps) would not fit this node's memory
 * on each of `ranks` ranks, before anything is allocated. */
SHARDML_API int sml_train_memory_check(const sml_model *m, const sml_train_config *cfg, int64_t n_train, int ranks,
                                       sml_err *err);

/* Trains from state (params identical on every rank) to the end of
 * cfg->epochs, checkpointing as policy says (policy may be NULL). Returns
 * SML_OK, an error, or SML_EXIT_PREEMPTED (3) when SIGTERM/SIGUSR1 arrived
 * on any rank (after sml_signals_install): then every rank finished the step and a checkpoint was
 * written. Collective. */
SHARDML_API int sml_train(const sml_model *m, sml_train_state *state, const sml_dataset *ds, const sml_prep *prep,
                          const sml_train_config *cfg, const sml_checkpoint_policy *policy, const sml_comm *c,
                          sml_err *err);

/* scores[n, C] of n uint8 images, images [first, first + n) of their
 * split: each image's scores are the same bits for any first, n and thread
 * count (fixed blocks aligned to the index in the split; see trainer.c). */
SHARDML_API void sml_images_scores(const sml_model *m, const float *params, const sml_prep *prep, const uint8_t *images,
                                   int64_t first, int64_t n, float *scores);

/* Accuracy of params on a sharded split (collective); -1 for an empty
 * split. With loss not NULL, also the mean data loss (NAN if empty). */
SHARDML_API double sml_evaluate(const sml_model *m, const float *params, const sml_shard *split, const sml_prep *prep,
                                const sml_comm *c, double *loss);

/* Learning rate at a fractional epoch position. */
SHARDML_API double sml_lr_at(const sml_train_config *cfg, int64_t epoch, double epoch_fraction);

/* Rank 0 writes history.csv, steps.csv (if steps were logged), loss.svg
 * (training and, with a validation split, validation loss) and
 * accuracy.svg into dir. Returns an agreed status. */
SHARDML_API int sml_train_write_history(const sml_train_history *h, const char *dir, const sml_comm *c, sml_err *err);

SHARDML_END_DECLS

#endif
