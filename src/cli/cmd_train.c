/* shardml train: data-parallel minibatch SGD for softmax, SVM and MLP
 * models, with HDF5 checkpoints, exact resume and preemption handling;
 * writes the history, the loss curve, the model and (for linear models)
 * the class templates into --out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"
#include "options.h"
#include "shardml/blas_core.h"
#include "shardml/checkpoint.h"
#include "shardml/io.h"
#include "shardml/kernels.h"
#include "shardml/model_file.h"
#include "shardml/prep.h"
#include "shardml/train.h"

/* Defaults chosen on Fashion-MNIST (see README). */
static double default_lr(const char *model) {
  if (strcmp(model, "svm") == 0) return 0.01;
  if (strcmp(model, "softmax") == 0) return 0.02;
  return 0.05;
}

/* Everything a checkpoint write needs, for the trainer's callback. */
typedef struct {
  sml_checkpoint_contents contents;
  const char *dir;
  int keep;
  const sml_comm *world;
} checkpoint_ctx;

static int write_checkpoint(void *ctx, const sml_train_state *st, sml_err *err) {
  checkpoint_ctx *cx = ctx;
  char path[4096];
  sml_checkpoint_path(path, sizeof path, cx->dir, st->global_step);
  cx->contents.state = st;
  SML_TRY(sml_checkpoint_write(path, &cx->contents, err));
  SML_TRY(sml_checkpoint_rotate(cx->dir, path, cx->keep, err));
  fprintf(stderr, "shardml: checkpoint at step %lld (epoch %lld): %s\n", (long long)st->global_step,
          (long long)st->epoch + (st->step_in_epoch ? 1 : 0), path);
  return SML_OK;
}

/* Broadcasts a resumed state from rank 0 (only it reads the file). */
static void bcast_state(sml_train_state *st, int64_t nweights, const sml_comm *c) {
  int64_t ints[5] = {st->epoch, st->step_in_epoch, st->global_step, st->hist.nepochs, st->hist.nsteps_logged};
  double sums[4] = {st->epoch_loss_sum, st->epoch_compute_s, st->epoch_allreduce_s, st->epoch_elapsed_s};
  sml_bcast_bytes(c, ints, sizeof ints, 0);
  sml_bcast_bytes(c, sums, sizeof sums, 0);
  st->epoch = ints[0]; st->step_in_epoch = ints[1]; st->global_step = ints[2];
  st->hist.nepochs = ints[3]; st->hist.nsteps_logged = ints[4];
  st->epoch_loss_sum = sums[0]; st->epoch_compute_s = sums[1]; st->epoch_allreduce_s = sums[2]; st->epoch_elapsed_s = sums[3];
  sml_bcast_bytes(c, st->params, nweights * (int64_t)sizeof(float), 0);
  sml_bcast_bytes(c, st->velocity, nweights * (int64_t)sizeof(float), 0);
  sml_bcast_bytes(c, st->hist.epochs, st->hist.nepochs * (int64_t)sizeof *st->hist.epochs, 0);
  sml_bcast_bytes(c, st->hist.step_index, st->hist.nsteps_logged * (int64_t)sizeof *st->hist.step_index, 0);
  sml_bcast_bytes(c, st->hist.step_loss, st->hist.nsteps_logged * (int64_t)sizeof *st->hist.step_loss, 0);
}

/* --resume auto|PATH on rank 0: the state, or a clear reason. With auto,
 * invalid checkpoints are skipped (and reported) in favour of older ones;
 * none at all means a fresh start. *resumed says whether a state was read. */
static int resume_on_rank0(const char *resume, const char *dir, const sml_model *m, const sml_train_config *cfg,
                           const sml_dataset_identity *id, sml_train_state *st, int *resumed, const sml_comm *c,
                           sml_err *err) {
  int ranks = 0, threads = 0;
  *resumed = 0;
  char used[4096] = "";
  if (strcmp(resume, "auto") != 0) {
    SML_TRY(sml_checkpoint_read(resume, m, cfg, id, st, &ranks, &threads, err));
    snprintf(used, sizeof used, "%s", resume);
  } else {
    if (!dir) return sml_fail(err, SML_EINPUT, "--resume auto needs --checkpoint-dir DIR");
    char (*paths)[4096] = SML_CALLOC(64, sizeof *paths);
    int n = sml_checkpoint_list(dir, paths, 64);
    for (int i = 0; i < n && !used[0]; i++) {
      sml_err why;
      if (sml_checkpoint_read(paths[i], m, cfg, id, st, &ranks, &threads, &why) == SML_OK)
        snprintf(used, sizeof used, "%s", paths[i]);
      else
        fprintf(stderr, "shardml: --resume auto: skipping %s\n", why.msg);
    }
    free(paths);
    if (!used[0]) {
      fprintf(stderr, "shardml: --resume auto: no valid checkpoint in %s; starting from scratch\n", dir);
      return SML_OK;
    }
  }
  *resumed = 1;
  fprintf(stderr, "shardml: resuming from %s at step %lld (epoch %lld, step %lld of it)\n", used,
          (long long)st->global_step, (long long)st->epoch + 1, (long long)st->step_in_epoch);
  if (ranks != c->size || threads != sml_threads())
    fprintf(stderr, "shardml: saved on %d ranks x %d threads, resuming on %d x %d: a statistically equivalent "
            "continuation (same batches, float sums in another order), not a bitwise one\n",
            ranks, threads, c->size, sml_threads());
  return SML_OK;
}

/* "500" -> every 500 steps; "2e" -> every 2 epochs. */
static int parse_every(const char *text, int64_t *steps, int64_t *epochs, sml_err *err) {
  char *end;
  long long v = strtoll(text, &end, 10);
  if (end == text || v < 1 || (*end && strcmp(end, "e") != 0 && strcmp(end, "epochs") != 0))
    return sml_fail(err, SML_EINPUT, "--checkpoint-every %s: expected N (steps) or Ne (epochs), N >= 1", text);
  if (*end) *epochs = v;
  else *steps = v;
  return SML_OK;
}

int cmd_train(const sml_comm *world, int argc, char **argv, sml_err *err) {
  return cmd_train_run(world, argc, argv, NULL, err);
}

int cmd_train_run(const sml_comm *world, int argc, char **argv, double *test_acc, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  cli_model_args marg = {0};
  int64_t epochs = 20, batch = 128, lr_step = 1, base_batch = 128, log_every = 0, keep = 3;
  double lr = NAN, reg = 1e-4, momentum = 0.9, lr_decay = 0.95, warmup = 0, init_scale = NAN, ckpt_seconds = 0;
  const char *schedule = "step", *out = "shardml-out", *ckpt_dir = NULL, *ckpt_every = NULL, *resume = NULL;
  int lr_scaling = 0;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      CLI_MODEL_OPTIONS(&marg),
      {"epochs", OPT_INT, &epochs, "E", "passes over the training set (default 20)"},
      {"batch", OPT_INT, &batch, "B", "global minibatch size, split over the ranks (default 128)"},
      {"lr", OPT_REAL, &lr, "ETA", "learning rate (default: svm 0.01, softmax 0.02, mlp 0.05)"},
      {"reg", OPT_REAL, &reg, "LAMBDA", "L2 regularisation: loss += LAMBDA * sum W^2; biases are not regularised (default 1e-4)"},
      {"momentum", OPT_REAL, &momentum, "MU", "SGD momentum (default 0.9)"},
      {"schedule", OPT_STRING, &schedule, "step|cosine", "learning-rate schedule (default step)"},
      {"lr-decay", OPT_REAL, &lr_decay, "GAMMA", "step schedule: lr *= GAMMA every --lr-step epochs (default 0.95)"},
      {"lr-step", OPT_INT, &lr_step, "N", "epochs between decays (default 1)"},
      {"lr-scaling", OPT_FLAG, &lr_scaling, NULL, "linear scaling: lr * batch / --base-batch (large global batches)"},
      {"base-batch", OPT_INT, &base_batch, "B", "reference batch of --lr-scaling (default 128)"},
      {"warmup-epochs", OPT_REAL, &warmup, "W", "ramp the learning rate up linearly over W epochs (default 0)"},
      {"init-scale", OPT_REAL, &init_scale, "STD", "initial weight std (default: 1e-3 linear, He for mlp)"},
      {"log-every", OPT_INT, &log_every, "N", "record the loss every N steps into steps.csv (default 0: off)"},
      {"out", OPT_STRING, &out, "DIR", "output directory (default shardml-out)"},
      {"checkpoint-dir", OPT_STRING, &ckpt_dir, "DIR", "write checkpoints ckpt-<step>.h5 and a 'latest' pointer here"},
      {"checkpoint-every", OPT_STRING, &ckpt_every, "N|Ne", "checkpoint every N steps, or every N epochs with Ne"},
      {"checkpoint-seconds", OPT_REAL, &ckpt_seconds, "T", "also checkpoint when T seconds passed since the last"},
      {"keep", OPT_INT, &keep, "K", "checkpoints kept in --checkpoint-dir (default 3)"},
      {"resume", OPT_STRING, &resume, "auto|FILE", "continue from the newest valid checkpoint in --checkpoint-dir, or from FILE"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "train",
                    "Train a softmax, SVM or MLP classifier with data-parallel minibatch SGD.\n"
                    "On SIGTERM or SIGUSR1 every rank finishes its step, a checkpoint is written (with\n"
                    "--checkpoint-dir) and shardml exits with status 3.",
                    argc, argv, opts, err));
  /* From now on SIGTERM/SIGUSR1 mean "checkpoint and stop" (polled once a step). */
  sml_signals_install();
  const char *kind = marg.model ? marg.model : "mlp";
  sml_train_config cfg = {
      .epochs = epochs, .batch = batch, .lr = isnan(lr) ? default_lr(kind) : lr, .reg = reg,
      .momentum = momentum, .lr_decay = lr_decay, .lr_step = lr_step,
      .schedule = strcmp(schedule, "cosine") == 0 ? SML_SCHEDULE_COSINE : SML_SCHEDULE_STEP,
      .lr_scaling = lr_scaling, .base_batch = base_batch, .warmup_epochs = warmup, .seed = cli_seed(&data),
      .init_scale = isnan(init_scale) ? (strcmp(kind, "mlp") == 0 ? 0 : 1e-3) : init_scale,
      .log_every = log_every};
  sml_checkpoint_policy policy = {.dir = ckpt_dir, .every_seconds = ckpt_seconds, .keep = (int)keep};
  if (strcmp(schedule, "step") != 0 && strcmp(schedule, "cosine") != 0)
    return sml_fail(err, SML_EINPUT, "--schedule %s: expected step or cosine", schedule);
  if (base_batch < 1) return sml_fail(err, SML_EINPUT, "--base-batch %lld: must be at least 1", (long long)base_batch);
  if (keep < 1) return sml_fail(err, SML_EINPUT, "--keep %lld: must be at least 1", (long long)keep);
  if (ckpt_seconds < 0) return sml_fail(err, SML_EINPUT, "--checkpoint-seconds %g: must not be negative", ckpt_seconds);
  if (ckpt_every) SML_TRY(parse_every(ckpt_every, &policy.every_steps, &policy.every_epochs, err));
  if ((ckpt_every || ckpt_seconds > 0) && !ckpt_dir)
    return sml_fail(err, SML_EINPUT, "--checkpoint-every/--checkpoint-seconds need --checkpoint-dir DIR");
  /* Options that need no data are checked before the (slow) load. */
  sml_model model;
  SML_TRY(cli_model_build(&marg, 1, 2, &model, err));
  SML_TRY(sml_train_config_check(&cfg, INT64_MAX, err));

  sml_data_options dopt;
  SML_TRY(cli_data_options(&data, 1, &dopt, err));
  sml_dataset ds;
  SML_TRY(sml_dataset_load(&ds, &dopt, world, err));
  int status = cli_model_build(&marg, sml_dataset_dim(&ds), ds.num_classes, &model, err);
  if (status == SML_OK) status = sml_train_config_check(&cfg, ds.train.total, err);
  if (status == SML_OK && world->rank == 0) status = sml_mkdirs(out, err);
  if (status == SML_OK && world->rank == 0 && ckpt_dir) status = sml_mkdirs(ckpt_dir, err);
  status = sml_agree(world, status, err);
  if (status != SML_OK) {
    sml_dataset_free(&ds);
    return status;
  }
  sml_prep prep;
  sml_prep_init(&prep, &ds.train, sml_dataset_dim(&ds), world);
  sml_dataset_identity identity;
  sml_dataset_identity_of(&identity, &ds, world);

  const int64_t steps_per_epoch = (ds.train.total + cfg.batch - 1) / cfg.batch;
  sml_train_state state = {0};
  state.params = SML_ALLOC((size_t)model.nweights * sizeof *state.params);
  state.velocity = SML_CALLOC((size_t)model.nweights, sizeof *state.velocity);
  sml_train_history_init(&state.hist, &cfg, steps_per_epoch);
  /* Parameters start identical everywhere: rank 0 draws (or reads), everyone receives. */
  int resumed = 0;
  if (world->rank == 0) sml_model_init_params(&model, state.params, cfg.seed, cfg.init_scale);
  if (resume) {
    status = world->rank == 0 ? resume_on_rank0(resume, ckpt_dir, &model, &cfg, &identity, &state, &resumed, world, err)
                              : SML_OK;
    status = sml_agree(world, status, err);
  }
  if (status == SML_OK) {
    bcast_state(&state, model.nweights, world);
    sml_log(world, "training %s (%lld parameters) on %lld images, %d ranks x %d threads, batch %lld, lr %g, reg %g; "
            "kernels %s, OpenBLAS %s",
            model.kind, (long long)model.nweights, (long long)ds.train.total, world->size, sml_threads(),
            (long long)cfg.batch, cfg.lr, cfg.reg, sml_kernels_active()->name, sml_blas_core_name());
    checkpoint_ctx cx = {.contents = {.model = &model, .cfg = &cfg, .data = &identity, .ds = &ds, .mean = prep.mean,
                                      .dim = prep.dim, .nranks = world->size, .nthreads = sml_threads()},
                         .dir = ckpt_dir, .keep = (int)keep, .world = world};
    policy.write = write_checkpoint;
    policy.ctx = &cx;
    status = sml_train(&model, &state, &ds, &prep, &cfg, &policy, world, err);
    if (status == SML_OK) status = sml_train_write_history(&state.hist, out, world, err);
    if (status == SML_OK) {
      int st = SML_OK;
      if (world->rank == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.h5", out);
        cx.contents.final = 1;
        cx.contents.state = &state;
        st = sml_checkpoint_write(path, &cx.contents, err);
        if (st == SML_OK && model.nlayers == 1) {
          snprintf(path, sizeof path, "%s/weights.png", out);
          st = sml_weights_png(path, &model, state.params, &ds, err);
        }
        if (test_acc) *test_acc = state.hist.test_acc;
        if (st == SML_OK) {
          if (state.hist.test_acc >= 0) printf("test accuracy %.4f\n", state.hist.test_acc);
          else printf("test accuracy n/a (no test split)\n");
          fflush(stdout);
          sml_log(world, "wrote %s/{history.csv,loss.svg,model.h5%s}", out, model.nlayers == 1 ? ",weights.png" : "");
        }
      }
      status = sml_agree(world, st, err);
    }
  }
  sml_train_history_free(&state.hist);
  free(state.params);
  free(state.velocity);
  sml_prep_free(&prep);
  sml_dataset_free(&ds);
  return status;
}
