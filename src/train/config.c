/* The typed training set-up: defaults per model kind and optimizer (kept
 * here and nowhere else), checks, the model, and the training state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "shardml/train.h"
#include "train/step.h"

sml_train_config sml_train_unset(void) {
  return (sml_train_config){.epochs = SML_UNSET,
                            .batch = SML_UNSET,
                            .lr = NAN,
                            .reg = NAN,
                            .opt = {.momentum = NAN, .beta1 = NAN, .beta2 = NAN, .eps = NAN, .weight_decay = NAN},
                            .dropout = NAN,
                            .lr_decay = NAN,
                            .lr_step = SML_UNSET,
                            .schedule = SML_SCHEDULE_STEP,
                            .base_batch = SML_UNSET,
                            .warmup_epochs = NAN,
                            .seed = 1,
                            .init_scale = NAN,
                            .micro_batch = SML_UNSET,
                            .overlap = -1,
                            .bucket_mb = NAN,
                            .early_stop = SML_UNSET,
                            .log_every = SML_UNSET};
}

static void fill_real(double *v, double value) {
  if (isnan(*v)) *v = value;
}
static void fill_int(int64_t *v, int64_t value) {
  if (*v == SML_UNSET) *v = value;
}

void sml_train_defaults(sml_train_config *cfg) {
  if (!cfg->model[0]) strcpy(cfg->model, "mlp");
  const int mlp = strcmp(cfg->model, "mlp") == 0;
  if (mlp && cfg->nhidden == 0) cfg->hidden[cfg->nhidden++] = 256;
  if (!cfg->optimizer) cfg->optimizer = sml_optimizer_find("sgd");
  /* SGD rates chosen by a sweep on Fashion-MNIST (docs/guide.md); adaptive
   * optimizers bring their own. */
  const double sgd_lr = strcmp(cfg->model, "svm") == 0 ? 0.01 : strcmp(cfg->model, "softmax") == 0 ? 0.02 : 0.05;
  fill_real(&cfg->lr, cfg->optimizer->default_lr > 0 ? cfg->optimizer->default_lr : sgd_lr);
  fill_int(&cfg->epochs, 20);
  fill_int(&cfg->batch, 128);
  fill_real(&cfg->reg, 1e-4);
  fill_real(&cfg->opt.momentum, 0.9);
  fill_real(&cfg->opt.beta1, 0.9);
  fill_real(&cfg->opt.beta2, 0.999);
  fill_real(&cfg->opt.eps, 1e-8);
  fill_real(&cfg->opt.weight_decay, 0.01);
  fill_real(&cfg->dropout, 0.0);
  fill_real(&cfg->lr_decay, 0.95);
  fill_int(&cfg->lr_step, 1);
  fill_int(&cfg->base_batch, 128);
  fill_real(&cfg->warmup_epochs, 0.0);
  fill_real(&cfg->init_scale, mlp || strcmp(cfg->model, "cnn") == 0 ? 0.0 : 1e-3); /* 0: He */
  fill_int(&cfg->micro_batch, 0); /* from the batch size: sml_micro_batch */
  /* Off by default: where every core computes and moving the bytes is CPU
   * work (shared memory, TCP), the overlapped sum cost the backward pass
   * more than it saved in waiting (docs/performance.md, "Scaling out"). */
  if (cfg->overlap < 0) cfg->overlap = 0;
  fill_real(&cfg->bucket_mb, SML_BUCKET_MB);
  fill_int(&cfg->early_stop, 0);
  fill_int(&cfg->log_every, 0);
}

int sml_train_config_check(const sml_train_config *cfg, int64_t n_train, sml_err *err) {
  if (strcmp(cfg->model, "cnn") == 0 && !cfg->net[0])
    return sml_fail_quantity(err, SML_EINPUT, "network",
                             ": a cnn is given by its layers (e.g. conv32x3,relu,pool2,fc10)");
  if (!(cfg->lr > 0)) return sml_fail_quantity(err, SML_EINPUT, "learning rate", " %g: must be positive", cfg->lr);
  if (cfg->reg < 0) return sml_fail_quantity(err, SML_EINPUT, "L2 strength", " %g: must not be negative", cfg->reg);
  if (cfg->epochs < 1)
    return sml_fail_quantity(err, SML_EINPUT, "epochs", " %lld: must be at least 1", (long long)cfg->epochs);
  if (cfg->batch < 1)
    return sml_fail_quantity(err, SML_EINPUT, "batch size", " %lld: must be at least 1", (long long)cfg->batch);
  if (cfg->batch > n_train)
    return sml_fail_quantity(err, SML_EINPUT, "batch size", " %lld: larger than the training set (%lld images)",
                             (long long)cfg->batch, (long long)n_train);
  if (cfg->opt.momentum < 0 || cfg->opt.momentum >= 1)
    return sml_fail_quantity(err, SML_EINPUT, "momentum", " %g: must be in [0, 1)", cfg->opt.momentum);
  if (cfg->opt.beta1 < 0 || cfg->opt.beta1 >= 1)
    return sml_fail_quantity(err, SML_EINPUT, "beta1", " %g: must be in [0, 1)", cfg->opt.beta1);
  if (cfg->opt.beta2 < 0 || cfg->opt.beta2 >= 1)
    return sml_fail_quantity(err, SML_EINPUT, "beta2", " %g: must be in [0, 1)", cfg->opt.beta2);
  if (!(cfg->opt.eps > 0)) return sml_fail_quantity(err, SML_EINPUT, "epsilon", " %g: must be positive", cfg->opt.eps);
  if (cfg->opt.weight_decay < 0)
    return sml_fail_quantity(err, SML_EINPUT, "weight decay", " %g: must not be negative", cfg->opt.weight_decay);
  if (cfg->dropout < 0 || cfg->dropout >= 1)
    return sml_fail_quantity(err, SML_EINPUT, "dropout", " %g: must be in [0, 1)", cfg->dropout);
  if (cfg->dropout > 0 && strcmp(cfg->model, "cnn") == 0)
    return sml_fail_quantity(err, SML_EINPUT, "dropout",
                             " %g: a network takes dropout as one of its layers (e.g. fc128,relu,dropout0.5,fc10)",
                             cfg->dropout);
  if (cfg->dropout > 0 && cfg->nhidden == 0)
    return sml_fail_quantity(err, SML_EINPUT, "dropout", " %g: applies to hidden layers, and a %s model has none",
                             cfg->dropout, cfg->model);
  if (!(cfg->lr_decay > 0) || cfg->lr_decay > 1)
    return sml_fail_quantity(err, SML_EINPUT, "learning-rate decay", " %g: must be in (0, 1]", cfg->lr_decay);
  if (cfg->lr_step < 1)
    return sml_fail_quantity(err, SML_EINPUT, "decay interval", " %lld: must be at least 1", (long long)cfg->lr_step);
  if (cfg->base_batch < 1)
    return sml_fail_quantity(err, SML_EINPUT, "base batch", " %lld: must be at least 1", (long long)cfg->base_batch);
  if (cfg->warmup_epochs < 0)
    return sml_fail_quantity(err, SML_EINPUT, "warm-up epochs", " %g: must not be negative", cfg->warmup_epochs);
  if (!(cfg->init_scale >= 0))
    return sml_fail_quantity(err, SML_EINPUT, "initial weight scale", " %g: must not be negative (0: He for an MLP)",
                             cfg->init_scale);
  if (cfg->micro_batch < 0)
    return sml_fail_quantity(err, SML_EINPUT, "micro-batch", " %lld: must be positive (or 0: from the batch size)",
                             (long long)cfg->micro_batch);
  if (!(cfg->bucket_mb > 0) || cfg->bucket_mb > 1024)
    return sml_fail_quantity(err, SML_EINPUT, "bucket size", " %g MB: must be in (0, 1024]", cfg->bucket_mb);
  if (cfg->reproducible && cfg->grad_dtype != SML_GRAD_FP32)
    return sml_fail_quantity(err, SML_EINPUT, "gradient wire type",
                             " %s: the reproducible mode sums exactly, and 16-bit sums round (use fp32)",
                             sml_grad_dtype_name((sml_grad_dtype)cfg->grad_dtype));
  if (cfg->early_stop < 0)
    return sml_fail_quantity(err, SML_EINPUT, "early-stopping patience", " %lld: must not be negative",
                             (long long)cfg->early_stop);
  if (cfg->log_every < 0)
    return sml_fail_quantity(err, SML_EINPUT, "logging interval", " %lld: must not be negative",
                             (long long)cfg->log_every);
  return SML_OK;
}

/* Bytes per rank a run of cfg needs, by what drives them: the parameters
 * with their gradient and optimizer state (the widths), the activations of
 * a batch (the batch size), and the history (the epochs and the logging
 * interval). Saturates instead of overflowing. */
static int64_t add_sat(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }
static int64_t mul_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

int sml_train_memory_check(const sml_model *m, const sml_train_config *cfg, int64_t n_train, int ranks, sml_err *err) {
  const int nstate = cfg->optimizer ? cfg->optimizer->nstate : 2;
  int64_t width_sum = 0;
  for (int l = 0; l <= m->nlayers; l++) width_sum = add_sat(width_sum, m->width[l]);
  int batchnorm = 0;
  for (int l = 0; l < m->nops; l++) /* a convolution's unfolded input, kept for backward */
    if (m->op[l].kind == SML_OP_CONV)
      width_sum = add_sat(width_sum,
                          mul_sat((int64_t)m->op[l].c * m->op[l].k * m->op[l].k, (int64_t)m->op[l].oh * m->op[l].ow));
    else if (m->op[l].kind == SML_OP_BATCHNORM) batchnorm = 1;
    else if (m->op[l].kind == SML_OP_DROPOUT) /* its mask */ width_sum = add_sat(width_sum, m->width[l + 1]);
  const int64_t steps_per_epoch = (n_train + cfg->batch - 1) / cfg->batch;
  const int64_t logged = cfg->log_every > 0 ? mul_sat(cfg->epochs, steps_per_epoch) / cfg->log_every : 0;
  /* Reproducible mode: the micro-batch gradients a rank keeps until the
   * step's sum, plus the int64 exact sums where there are more than
   * SML_GATHERED_MICRO micro-batches (src/train/reproducible.c). */
  int64_t micro_bytes = cfg->reproducible
                            ? add_sat(mul_sat(sml_micro_gradients_kept(cfg, ranks), mul_sat(m->nweights, 4)),
                                      sml_repro_exact_sums(cfg) ? mul_sat(m->nweights, 8) : 0)
                            : 0;
  /* ... and the activations of its micro-batches: one per thread, or with
   * batch normalization every micro-batch the rank owns (all of a step's
   * forward passes wait for the global moments before any goes on) */
  if (cfg->reproducible) {
    const int64_t held = batchnorm ? sml_micro_batches_owned(cfg, ranks) : sml_threads();
    micro_bytes = add_sat(micro_bytes, mul_sat(mul_sat(held, sml_micro_batch(cfg)), mul_sat(width_sum, 4 * 4)));
  }
  const struct {
    const char *quantity, *what; /* quantity: named as the CLI maps it to its option */
    int64_t bytes;
  } parts[] = {
      {"hidden layers", "the parameters, their gradient and optimizer state", mul_sat(m->nweights, 4 * (3 + nstate))},
      {"batch size", "a batch's activations", mul_sat(mul_sat(cfg->batch, width_sum), 4 * 4)},
      {"epochs", "the per-epoch history", mul_sat(add_sat(cfg->epochs, 1), (int64_t)sizeof(sml_epoch_stats))},
      {"logging interval", "the logged steps", mul_sat(logged, 16)},
      {"micro-batch", "the reproducible mode's micro-batches and exact sums", micro_bytes},
  };
  int64_t total = 0;
  int biggest = 0;
  for (int i = 0; i < (int)(sizeof parts / sizeof parts[0]); i++) {
    total = add_sat(total, parts[i].bytes);
    if (parts[i].bytes > parts[biggest].bytes) biggest = i;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const int64_t physical = pages > 0 && page > 0 ? mul_sat(pages, page) : INT64_MAX;
  /* A batch system's or the user's limit on the address space (ulimit -v)
   * ends the run in an allocation failure long before memory runs out. */
  struct rlimit as;
  const int64_t limit =
      getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY && as.rlim_cur < (rlim_t)INT64_MAX
          ? (int64_t)as.rlim_cur
          : INT64_MAX;
  if (total > physical || total > limit)
    return sml_fail_quantity(err, SML_EINPUT, parts[biggest].quantity,
                             ": this run needs about %.3g GB per rank (%.3g GB for %s), more than %s %.3g GB",
                             (double)total / 1e9, (double)parts[biggest].bytes / 1e9, parts[biggest].what,
                             limit < physical ? "the address-space limit (ulimit -v) of" : "this node's",
                             (double)(limit < physical ? limit : physical) / 1e9);
  return SML_OK;
}

int64_t sml_micro_batch_setting(const sml_train_config *cfg) {
  if (cfg->micro_batch > 0) return cfg->micro_batch;
  /* A quarter of the batch, within [64, 256] (tests/bench/reproducible.sh,
   * docs/reproducibility.md): a micro-batch costs a few passes over gradient-sized buffers
   * whatever its size, so small ones are slow, and a step has only
   * batch / micro of them to spread over the workers. Never the layout:
   * the micro-batches are what makes runs on all layouts agree. */
  const int64_t quarter = cfg->batch / 4;
  return quarter < 64 ? 64 : quarter > 256 ? 256 : quarter;
}

int64_t sml_micro_batch(const sml_train_config *cfg) {
  /* A larger setting cuts the same one micro-batch per step (the whole
   * batch), so nothing is sized by it. */
  const int64_t setting = sml_micro_batch_setting(cfg);
  return setting < cfg->batch ? setting : cfg->batch;
}

/* Micro-batches in a full step, rounded up without adding first, so that
 * no sum can overflow. */
static int64_t micro_batches(const sml_train_config *cfg) {
  const int64_t micro = sml_micro_batch(cfg);
  return cfg->batch / micro + (cfg->batch % micro != 0);
}

int64_t sml_micro_batches_owned(const sml_train_config *cfg, int ranks) {
  const int64_t nmicro = micro_batches(cfg);
  return nmicro / ranks + (nmicro % ranks != 0);
}

int sml_repro_exact_sums(const sml_train_config *cfg) { return micro_batches(cfg) > SML_GATHERED_MICRO; }

int64_t sml_micro_gradients_kept(const sml_train_config *cfg, int ranks) {
  const int64_t owned = sml_micro_batches_owned(cfg, ranks), nmicro = micro_batches(cfg);
  /* A short last batch of a run with exact sums may gather its few. */
  const int64_t gathered = nmicro < SML_GATHERED_MICRO ? nmicro : SML_GATHERED_MICRO;
  return owned > gathered ? owned : gathered;
}

int sml_train_model_image(const sml_train_config *cfg, int height, int width, int channels, int num_classes,
                          sml_model *m, sml_err *err) {
  /* A shift as large as the image would leave nothing of it. */
  if (cfg->augment.crop >= (height < width ? height : width))
    return sml_fail_quantity(err, SML_EINPUT, "augmentation", " crop%d: must be below the %dx%d images' sides",
                             cfg->augment.crop, height, width);
  if (strcmp(cfg->model, "cnn") == 0) return sml_model_init_net(m, cfg->net, height, width, channels, num_classes, err);
  return sml_model_init(m, cfg->model, (int64_t)height * width * channels, num_classes, cfg->hidden, cfg->nhidden, err);
}

int sml_train_model(const sml_train_config *cfg, int64_t input_dim, int num_classes, sml_model *m, sml_err *err) {
  if (strcmp(cfg->model, "cnn") == 0 && input_dim <= INT32_MAX)
    return sml_model_init_net(m, cfg->net, 1, (int)input_dim, 1, num_classes, err);
  return sml_model_init(m, cfg->model, input_dim, num_classes, cfg->hidden, cfg->nhidden, err);
}

void sml_train_state_init(sml_train_state *st, const sml_model *m, const sml_train_config *cfg,
                          int64_t steps_per_epoch) {
  memset(st, 0, sizeof *st);
  st->params = SML_ALLOC((size_t)m->nweights * sizeof *st->params);
  for (int k = 0; k < cfg->optimizer->nstate; k++)
    st->opt_state[k] = SML_CALLOC((size_t)m->nweights, sizeof *st->opt_state[k]);
  sml_train_history_init(&st->hist, cfg, steps_per_epoch);
}

void sml_train_state_free(sml_train_state *st) {
  free(st->params);
  for (int k = 0; k < SML_OPT_MAX_STATE; k++) free(st->opt_state[k]);
  free(st->residuals);
  sml_train_history_free(&st->hist);
  memset(st, 0, sizeof *st);
}

void sml_train_state_bcast(sml_train_state *st, const sml_model *m, const sml_train_config *cfg, const sml_comm *c) {
  int64_t ints[5] = {st->epoch, st->step_in_epoch, st->global_step, st->hist.nepochs, st->hist.nsteps_logged};
  double sums[4] = {st->epoch_loss_sum, st->epoch_compute_s, st->epoch_allreduce_s, st->epoch_elapsed_s};
  sml_bcast_bytes(c, ints, sizeof ints, 0);
  sml_bcast_bytes(c, sums, sizeof sums, 0);
  st->epoch = ints[0];
  st->step_in_epoch = ints[1];
  st->global_step = ints[2];
  st->hist.nepochs = ints[3];
  st->hist.nsteps_logged = ints[4];
  st->epoch_loss_sum = sums[0];
  st->epoch_compute_s = sums[1];
  st->epoch_allreduce_s = sums[2];
  st->epoch_elapsed_s = sums[3];
  const int64_t bytes = m->nweights * (int64_t)sizeof(float);
  sml_bcast_bytes(c, st->params, bytes, 0);
  for (int k = 0; k < cfg->optimizer->nstate; k++) sml_bcast_bytes(c, st->opt_state[k], bytes, 0);
  sml_bcast_bytes(c, st->hist.epochs, st->hist.nepochs * (int64_t)sizeof *st->hist.epochs, 0);
  sml_bcast_bytes(c, st->hist.step_index, st->hist.nsteps_logged * (int64_t)sizeof *st->hist.step_index, 0);
  sml_bcast_bytes(c, st->hist.step_loss, st->hist.nsteps_logged * (int64_t)sizeof *st->hist.step_loss, 0);
}
