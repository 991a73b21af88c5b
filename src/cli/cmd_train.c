/* shardml train: data-parallel minibatch SGD for softmax, SVM and MLP
 * models; writes the history, the loss curve, the model and (for linear
 * models) the class templates into --out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"
#include "options.h"
#include "shardml/io.h"
#include "shardml/model_file.h"
#include "shardml/prep.h"
#include "shardml/train.h"

/* Defaults chosen on Fashion-MNIST (see README). */
static double default_lr(const char *model) {
  if (strcmp(model, "svm") == 0) return 0.01;
  if (strcmp(model, "softmax") == 0) return 0.02;
  return 0.05;
}

int cmd_train(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = {0};
  cli_model_args marg = {0};
  int64_t epochs = 20, batch = 128, seed = 1, lr_step = 1, base_batch = 128, log_every = 0;
  double lr = NAN, reg = 1e-4, momentum = 0.9, lr_decay = 0.95, warmup = 0, init_scale = NAN;
  const char *schedule = "step", *out = "shardml-out";
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
      {"seed", OPT_INT, &seed, "S", "seed for initialisation and shuffling (default 1)"},
      {"init-scale", OPT_REAL, &init_scale, "STD", "initial weight std (default: 1e-3 linear, He for mlp)"},
      {"log-every", OPT_INT, &log_every, "N", "record the loss every N steps into steps.csv (default 0: off)"},
      {"out", OPT_STRING, &out, "DIR", "output directory (default shardml-out)"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "train", "Train a softmax, SVM or MLP classifier with data-parallel minibatch SGD.",
                    argc, argv, opts, err));
  const char *kind = marg.model ? marg.model : "mlp";
  sml_train_config cfg = {
      .epochs = epochs, .batch = batch, .lr = isnan(lr) ? default_lr(kind) : lr, .reg = reg,
      .momentum = momentum, .lr_decay = lr_decay, .lr_step = lr_step,
      .schedule = strcmp(schedule, "cosine") == 0 ? SML_SCHEDULE_COSINE : SML_SCHEDULE_STEP,
      .lr_scaling = lr_scaling, .base_batch = base_batch, .warmup_epochs = warmup, .seed = (uint64_t)seed,
      .init_scale = isnan(init_scale) ? (strcmp(kind, "mlp") == 0 ? 0 : 1e-3) : init_scale,
      .log_every = log_every};
  if (strcmp(schedule, "step") != 0 && strcmp(schedule, "cosine") != 0)
    return sml_fail(err, SML_EINPUT, "--schedule %s: expected step or cosine", schedule);
  if (base_batch < 1) return sml_fail(err, SML_EINPUT, "--base-batch %lld: must be at least 1", (long long)base_batch);
  /* Options that need no data are checked before the (slow) load. */
  sml_model model;
  SML_TRY(cli_model_build(&marg, 1, 2, &model, err));
  SML_TRY(sml_train_config_check(&cfg, INT64_MAX, err));

  sml_data_options dopt = cli_data_options(&data, 1);
  sml_dataset ds;
  SML_TRY(sml_dataset_load(&ds, &dopt, world, err));
  int status = cli_model_build(&marg, sml_dataset_dim(&ds), ds.num_classes, &model, err);
  if (status == SML_OK) status = sml_train_config_check(&cfg, ds.train.total, err);
  if (status == SML_OK && world->rank == 0) status = sml_mkdirs(out, err);
  status = sml_agree(world, status, err);
  if (status != SML_OK) {
    sml_dataset_free(&ds);
    return status;
  }
  sml_prep prep;
  sml_prep_init(&prep, &ds.train, sml_dataset_dim(&ds), world);

  /* Parameters start identical everywhere: rank 0 draws, everyone receives. */
  float *params = SML_ALLOC((size_t)model.nweights * sizeof *params);
  if (world->rank == 0) sml_model_init_params(&model, params, cfg.seed, cfg.init_scale);
  sml_bcast_bytes(world, params, model.nweights * (int64_t)sizeof *params, 0);
  sml_log(world, "training %s (%lld parameters) on %lld images, %d ranks x %d threads, batch %lld, lr %g, reg %g",
          model.kind, (long long)model.nweights, (long long)ds.train.total, world->size, sml_threads(),
          (long long)cfg.batch, cfg.lr, cfg.reg);

  sml_train_history hist;
  status = sml_train(&model, params, &ds, &prep, &cfg, world, &hist, err);
  if (status == SML_OK) status = sml_train_write_history(&hist, out, world, err);
  if (status == SML_OK) {
    int st = SML_OK;
    if (world->rank == 0) {
      char path[4096];
      snprintf(path, sizeof path, "%s/model.h5", out);
      st = sml_model_save(path, &model, params, &ds, &cfg, hist.test_acc, err);
      if (st == SML_OK && model.nlayers == 1) {
        snprintf(path, sizeof path, "%s/weights.png", out);
        st = sml_weights_png(path, &model, params, &ds, err);
      }
      if (st == SML_OK) {
        if (hist.test_acc >= 0) printf("test accuracy %.4f\n", hist.test_acc);
        else printf("test accuracy n/a (no test split)\n");
        fflush(stdout);
        sml_log(world, "wrote %s/{history.csv,loss.svg,model.h5%s}", out, model.nlayers == 1 ? ",weights.png" : "");
      }
    }
    status = sml_agree(world, st, err);
  }
  sml_train_history_free(&hist);
  free(params);
  sml_prep_free(&prep);
  sml_dataset_free(&ds);
  return status;
}
