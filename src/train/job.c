/* A whole training run with its files (see shardml/job.h). */
#include "shardml/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_core.h"
#include "shardml/checkpoint.h"
#include "io/io.h"
#include "nn/net.h"
#include "train/step.h"
#include "kernels/kernels.h"
#include "train/weights_png.h"
#include "shardml/prep.h"

/* Everything a checkpoint or model write needs, for the trainer's callbacks. */
typedef struct {
  sml_checkpoint_contents contents;
  const sml_train_job *job;
  sml_checkpoint_dir *own; /* the run's own checkpoint files (rank 0) */
} job_ctx;

static int write_checkpoint(void *ctx, const sml_train_state *st, sml_err *err) {
  job_ctx *cx = ctx;
  char path[4096];
  sml_checkpoint_path(path, sizeof path, cx->job->checkpoint_dir, st->global_step);
  cx->contents.state = st;
  cx->contents.final = 0;
  SML_TRY(sml_checkpoint_write(path, &cx->contents, err));
  SML_TRY(sml_checkpoint_rotate(cx->own, cx->job->checkpoint_dir, path, (int)cx->job->keep, err));
  fprintf(stderr, "shardml: checkpoint at step %lld (epoch %lld): %s\n", (long long)st->global_step,
          (long long)st->epoch + (st->step_in_epoch ? 1 : 0), path);
  return SML_OK;
}

/* best.h5: a model file of the epoch that just beat every earlier one. */
static int write_best(void *ctx, const sml_train_state *st, sml_err *err) {
  job_ctx *cx = ctx;
  char path[4096];
  snprintf(path, sizeof path, "%s/best.h5", cx->job->out);
  cx->contents.state = st;
  cx->contents.final = 1;
  return sml_checkpoint_write(path, &cx->contents, err);
}

/* resume auto|PATH on rank 0: the state, or a clear reason. With auto,
 * invalid checkpoints are skipped (and reported) in favour of older ones;
 * none at all means a fresh start. *resumed says whether a state was read. */
static int resume_on_rank0(const sml_train_job *job, const sml_model *m, const sml_dataset_identity *id,
                           sml_train_state *st, int *resumed, const sml_comm *c, sml_err *err) {
  int ranks = 0, threads = 0;
  *resumed = 0;
  char used[4096] = "";
  if (strcmp(job->resume, "auto") != 0) {
    SML_TRY(sml_checkpoint_read(job->resume, m, &job->cfg, id, st, &ranks, &threads, err));
    snprintf(used, sizeof used, "%s", job->resume);
  } else {
    if (!job->checkpoint_dir) return sml_fail(err, SML_EINPUT, "resume auto: needs a checkpoint directory");
    char **paths; /* every one, newest first, until one verifies */
    const int n = sml_checkpoint_list(job->checkpoint_dir, &paths);
    for (int i = 0; i < n && !used[0]; i++) {
      sml_err why;
      if (sml_checkpoint_read(paths[i], m, &job->cfg, id, st, &ranks, &threads, &why) == SML_OK)
        snprintf(used, sizeof used, "%s", paths[i]);
      else fprintf(stderr, "shardml: resume auto: skipping %s\n", why.msg);
    }
    sml_checkpoint_list_free(paths, n);
    if (!used[0]) {
      fprintf(stderr, "shardml: resume auto: no valid checkpoint in %s; starting from scratch\n", job->checkpoint_dir);
      return SML_OK;
    }
  }
  *resumed = 1;
  fprintf(stderr, "shardml: resuming from %s at step %lld (epoch %lld, step %lld of it)\n", used,
          (long long)st->global_step, (long long)st->epoch + 1, (long long)st->step_in_epoch);
  if (ranks != c->size || threads != sml_threads())
    fprintf(stderr, "shardml: saved on %d ranks x %d threads, resuming on %d x %d: %s\n", ranks, threads, c->size,
            sml_threads(),
            job->cfg.reproducible ? "reproducible mode, so bitwise the continuation the saved layout would have run"
                                  : "a statistically equivalent continuation (same batches, float sums in another "
                                    "order), not a bitwise one");
  return SML_OK;
}

/* history, plots, model.h5, weights.png (linear) or filters.png (a network
 * starting with a convolution) and the test accuracy line (rank 0). */
static int write_outputs(const sml_train_job *job, job_ctx *cx, const sml_model *m, const sml_train_state *state,
                         const sml_dataset *ds, sml_err *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/model.h5", job->out);
  cx->contents.final = 1;
  cx->contents.state = state;
  SML_TRY(sml_checkpoint_write(path, &cx->contents, err));
  const int filters = m->nops > 0 && m->op[0].kind == SML_OP_CONV;
  if (m->nlayers == 1) {
    snprintf(path, sizeof path, "%s/weights.png", job->out);
    SML_TRY(sml_weights_png(path, m, state->params, ds, err));
  } else if (filters) {
    snprintf(path, sizeof path, "%s/filters.png", job->out);
    SML_TRY(sml_filters_png(path, m, state->params, err));
  }
  if (state->hist.test_acc >= 0) printf("test accuracy %.4f\n", state->hist.test_acc);
  else printf("test accuracy n/a (no test split)\n");
  fflush(stdout);
  fprintf(stderr, "shardml: wrote %s/{history.csv,%sloss.svg,accuracy.svg,model.h5%s%s}\n", job->out,
          state->hist.nsteps_logged > 0 ? "steps.csv," : "", job->keep_best ? ",best.h5" : "",
          m->nlayers == 1 ? ",weights.png"
          : filters       ? ",filters.png"
                          : "");
  return SML_OK;
}

/* A checkpoint directory serves one run at a time (rank 0 holds the lock
 * until the run ends): two runs on one directory (the same batch script
 * submitted twice, a requeue while the old step still runs) would resume
 * from and overwrite each other's files. */
static int lock_checkpoint_dir(const char *dir, sml_lock *lock, sml_err *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/shardml.lock", dir);
  return sml_lock_exclusive(lock, path, -1, dir, "another training run is using this checkpoint directory", "directory",
                            err);
}

int sml_train_job_run(const sml_train_job *job, const sml_comm *world, double *test_acc, sml_err *err) {
  const sml_train_config *cfg = &job->cfg;
  if (job->keep < 1)
    return sml_fail_quantity(err, SML_EINPUT, "checkpoints kept", " %lld: must be at least 1", (long long)job->keep);
  if (job->checkpoint_seconds < 0)
    return sml_fail_quantity(err, SML_EINPUT, "checkpoint interval", " %g s: must not be negative",
                             job->checkpoint_seconds);
  if (job->keep_best && job->data.val_count == 0 && job->data.val_fraction == 0)
    return sml_fail(err, SML_EINPUT, "keeping the best model needs a validation split to judge it");
  if (cfg->early_stop > 0 && job->data.val_count == 0 && job->data.val_fraction == 0)
    return sml_fail(err, SML_EINPUT, "early stopping needs a validation split to watch");
  /* What needs no data is checked before the (slow) load. */
  sml_model model;
  if (strcmp(cfg->model, "cnn") != 0) SML_TRY(sml_train_model(cfg, 1, 2, &model, err)); /* a network needs the images */
  SML_TRY(sml_train_config_check(cfg, INT64_MAX, err));

  sml_dataset ds;
  SML_TRY(sml_dataset_load(&ds, &job->data, world, err));
  int status = sml_train_model_image(cfg, ds.height, ds.width, ds.channels, ds.num_classes, &model, err);
  if (status == SML_OK) status = sml_train_config_check(cfg, ds.train.total, err);
  if (status == SML_OK) status = sml_train_memory_check(&model, cfg, ds.train.total, world->size, err);
  if (status == SML_OK && world->rank == 0) status = sml_mkdirs(job->out, err);
  if (status == SML_OK && world->rank == 0 && job->checkpoint_dir) status = sml_mkdirs(job->checkpoint_dir, err);
  sml_lock dir_lock = {-1};
  if (status == SML_OK && world->rank == 0 && job->checkpoint_dir)
    status = lock_checkpoint_dir(job->checkpoint_dir, &dir_lock, err);
  if (status == SML_OK && world->rank == 0) { /* half-written files of runs killed mid-write */
    const char *dirs[2] = {job->out, job->checkpoint_dir};
    for (int i = 0; i < 2; i++)
      if (dirs[i]) sml_remove_stale_temps(dirs[i]);
  }
  status = sml_agree(world, status, err);
  if (status != SML_OK) {
    sml_lock_release(&dir_lock);
    sml_dataset_free(&ds);
    return status;
  }
  sml_prep prep;
  sml_prep_init(&prep, &ds.train, sml_dataset_dim(&ds), world);
  sml_dataset_identity identity;
  sml_dataset_identity_of(&identity, &ds, world);

  sml_train_state state;
  sml_train_state_init(&state, &model, cfg, (ds.train.total + cfg->batch - 1) / cfg->batch);
  /* Parameters start identical everywhere: rank 0 draws (or reads), everyone receives. */
  int resumed = 0;
  if (world->rank == 0) sml_model_init_params(&model, state.params, cfg->seed, cfg->init_scale);
  if (job->resume) {
    status = world->rank == 0 ? resume_on_rank0(job, &model, &identity, &state, &resumed, world, err) : SML_OK;
    status = sml_agree(world, status, err);
  }
  sml_checkpoint_dir own = {0};
  if (status == SML_OK && job->checkpoint_dir) {
    const int64_t last_step = cfg->epochs * ((ds.train.total + cfg->batch - 1) / cfg->batch);
    status = world->rank == 0 ? sml_checkpoint_dir_scan(&own, job->checkpoint_dir,
                                                        sml_checkpoint_run_identity(&model, cfg, &identity),
                                                        state.global_step, last_step, err)
                              : SML_OK;
    status = sml_agree(world, status, err);
  }
  if (status == SML_OK) {
    sml_train_state_bcast(&state, &model, cfg, world);
    char augment[32];
    sml_augment_format(&cfg->augment, augment, sizeof augment);
    sml_log(world,
            "training %s (%lld parameters) on %lld images, %d ranks x %d threads, batch %lld, %s lr %g, "
            "reg %g%s%s%s; kernels %s, %s",
            model.kind, (long long)model.nweights, (long long)ds.train.total, world->size, sml_threads(),
            (long long)cfg->batch, cfg->optimizer->name, cfg->lr, cfg->reg, cfg->dropout > 0 ? ", dropout" : "",
            augment[0] ? ", augmentation " : "", augment, sml_kernels_active()->name, sml_blas_summary());
    if (model.nops > 0) { /* every layer's output shape and parameters */
      char layers[1024];
      sml_net_describe(&model, layers, sizeof layers);
      sml_log(world, "network %s: %s", model.net, layers);
    }
    /* What one step moves, per rank (docs/performance.md's figures come from here). */
    const double grad_bytes = (double)(model.nweights + 4) * (cfg->reproducible ? 8.0 : 4.0);
    const double image_kb =
        (double)cfg->batch * (double)(sml_dataset_dim(&ds) + 1) * (world->size - 1) / world->size / world->size / 1e3;
    if (cfg->reproducible && sml_repro_exact_sums(cfg))
      sml_log(
          world,
          "reproducible: micro-batches of %lld images; per step each rank allreduces %.0f kB (int64 "
          "fixed point; %.0f kB as floats in the default mode)%s and sends about %.0f kB of images",
          (long long)sml_micro_batch(cfg), grad_bytes / 1e3, grad_bytes / 2e3,
          cfg->overlap == 1 && world->size > 1 ? ", tensor by tensor during its last micro-batch's backward pass," : "",
          image_kb);
    else if (cfg->reproducible) /* few micro-batches: their float gradients are gathered, then added in order */
      sml_log(world,
              "reproducible: micro-batches of %lld images; per step each rank gathers the %lld micro-batch "
              "gradients as floats (%.0f kB each) and adds them in micro-batch order, and sends about %.0f kB of "
              "images",
              (long long)sml_micro_batch(cfg), (long long)sml_micro_batches_owned(cfg, 1), grad_bytes / 2e3, image_kb);
    else sml_log(world, "per step each rank allreduces %.0f kB", grad_bytes / 1e3);
    const int64_t nmicro = sml_micro_batches_owned(cfg, 1), workers = (int64_t)world->size * sml_threads();
    if (cfg->reproducible && nmicro < workers) /* a full step's worth; the short last one has fewer */
      sml_log(world,
              "warning: %lld micro-batches per step for %lld workers (%d ranks x %d threads): some stay idle; "
              "a micro-batch of %lld would use them all (every run to be compared needs the same value)",
              (long long)nmicro, (long long)workers, world->size, sml_threads(),
              (long long)((cfg->batch + workers - 1) / workers));
    job_ctx cx = {.contents = {.model = &model,
                               .cfg = cfg,
                               .data = &identity,
                               .ds = &ds,
                               .mean = prep.mean,
                               .dim = prep.dim,
                               .nranks = world->size,
                               .nthreads = sml_threads()},
                  .job = job,
                  .own = &own};
    sml_checkpoint_policy policy = {.dir = job->checkpoint_dir,
                                    .every_steps = job->checkpoint_every_steps,
                                    .every_epochs = job->checkpoint_every_epochs,
                                    .every_seconds = job->checkpoint_seconds,
                                    .keep = (int)job->keep,
                                    .write = write_checkpoint,
                                    .write_best = job->keep_best ? write_best : NULL,
                                    .ctx = &cx};
    status = sml_train(&model, &state, &ds, &prep, cfg, &policy, world, err);
    if (status == SML_OK) status = sml_train_write_history(&state.hist, job->out, world, err);
    if (status == SML_OK) {
      status = sml_agree(world, world->rank == 0 ? write_outputs(job, &cx, &model, &state, &ds, err) : SML_OK, err);
      if (test_acc) *test_acc = state.hist.test_acc;
    }
  }
  sml_checkpoint_dir_free(&own);
  sml_train_state_free(&state);
  sml_prep_free(&prep);
  sml_dataset_free(&ds);
  sml_lock_release(&dir_lock);
  return status;
}
