/* The data-parallel training loop (see shardml/train.h for the scheme). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/checkpoint.h"
#include "shardml/io.h"
#include "shardml/rng.h"
#include "shardml/train.h"

#define EVAL_CHUNK 1024

int sml_train_config_check(const sml_train_config *cfg, int64_t n_train, sml_err *err) {
  if (!(cfg->lr > 0)) return sml_fail_quantity(err, SML_EINPUT, "learning rate", " %g: must be positive", cfg->lr);
  if (cfg->reg < 0) return sml_fail_quantity(err, SML_EINPUT, "L2 strength", " %g: must not be negative", cfg->reg);
  if (cfg->epochs < 1) return sml_fail_quantity(err, SML_EINPUT, "epochs", " %lld: must be at least 1", (long long)cfg->epochs);
  if (cfg->batch < 1) return sml_fail_quantity(err, SML_EINPUT, "batch size", " %lld: must be at least 1", (long long)cfg->batch);
  if (cfg->batch > n_train)
    return sml_fail_quantity(err, SML_EINPUT, "batch size", " %lld: larger than the training set (%lld images)",
                    (long long)cfg->batch, (long long)n_train);
  if (cfg->momentum < 0 || cfg->momentum >= 1)
    return sml_fail_quantity(err, SML_EINPUT, "momentum", " %g: must be in [0, 1)", cfg->momentum);
  if (!(cfg->lr_decay > 0) || cfg->lr_decay > 1)
    return sml_fail_quantity(err, SML_EINPUT, "learning-rate decay", " %g: must be in (0, 1]", cfg->lr_decay);
  if (cfg->lr_step < 1) return sml_fail_quantity(err, SML_EINPUT, "decay interval", " %lld: must be at least 1", (long long)cfg->lr_step);
  if (cfg->warmup_epochs < 0) return sml_fail_quantity(err, SML_EINPUT, "warm-up epochs", " %g: must not be negative", cfg->warmup_epochs);
  if (cfg->log_every < 0) return sml_fail_quantity(err, SML_EINPUT, "logging interval", " %lld: must not be negative", (long long)cfg->log_every);
  return SML_OK;
}

void sml_images_scores(const sml_model *m, const float *params, const sml_prep *prep, const uint8_t *images,
                       int64_t n, float *scores) {
  if (n == 0) return;
  const int64_t C = m->width[m->nlayers];
  sml_workspace ws;
  sml_workspace_init(&ws, m, EVAL_CHUNK);
  float *x = SML_ALLOC((size_t)(EVAL_CHUNK * prep->dim) * sizeof *x);
  for (int64_t lo = 0; lo < n; lo += EVAL_CHUNK) {
    const int64_t b = n - lo < EVAL_CHUNK ? n - lo : EVAL_CHUNK;
    sml_prep_batch(prep, images + lo * prep->dim, NULL, b, x);
    memcpy(scores + lo * C, sml_model_forward(m, params, x, b, &ws), (size_t)(b * C) * sizeof *scores);
  }
  free(x);
  sml_workspace_free(&ws);
}

double sml_evaluate(const sml_model *m, const float *params, const sml_shard *split,
                    const sml_prep *prep, const sml_comm *c) {
  int64_t counts[2] = {0, split->count}; /* correct, seen */
  if (split->count > 0) {
    const int64_t C = m->width[m->nlayers];
    float *scores = SML_ALLOC((size_t)(split->count * C) * sizeof *scores);
    sml_images_scores(m, params, prep, split->images, split->count, scores);
    counts[0] = sml_count_correct(scores, split->labels, split->count, C);
    free(scores);
  }
  sml_allreduce_sum_i64(c, counts, 2);
  return split->total > 0 ? (double)counts[0] / (double)counts[1] : -1.0;
}

void sml_train_history_init(sml_train_history *h, const sml_train_config *cfg, int64_t steps_per_epoch) {
  memset(h, 0, sizeof *h);
  h->epochs = SML_CALLOC((size_t)cfg->epochs + 1, sizeof *h->epochs);
  int64_t max_logged = cfg->log_every > 0 ? cfg->epochs * steps_per_epoch / cfg->log_every + 1 : 0;
  h->step_index = SML_CALLOC((size_t)max_logged + 1, sizeof *h->step_index);
  h->step_loss = SML_CALLOC((size_t)max_logged + 1, sizeof *h->step_loss);
  h->test_acc = -1;
}

void sml_train_history_free(sml_train_history *h) {
  free(h->epochs);
  free(h->step_index);
  free(h->step_loss);
  memset(h, 0, sizeof *h);
}

/* Local indices (into this rank's shard) of global positions [lo, hi) of perm. */
static int64_t local_part(const int64_t *perm, int64_t lo, int64_t hi, const sml_shard *sh,
                          int64_t *idx) {
  int64_t n = 0;
  for (int64_t k = lo; k < hi; k++) {
    int64_t g = perm[k] - sh->first;
    if (g >= 0 && g < sh->count) idx[n++] = g;
  }
  return n;
}

void sml_step_scratch_init(sml_step_scratch *s, const sml_model *m, int64_t batch, int64_t dim) {
  s->idx = SML_ALLOC((size_t)batch * sizeof *s->idx);
  s->x = SML_ALLOC((size_t)(batch * dim) * sizeof *s->x);
  s->y = SML_ALLOC((size_t)batch);
  sml_workspace_init(&s->ws, m, batch);
}

void sml_step_scratch_free(sml_step_scratch *s) {
  free(s->idx);
  free(s->x);
  free(s->y);
  sml_workspace_free(&s->ws);
}

double sml_step_local(const sml_model *m, const float *params, const sml_shard *train, const sml_prep *prep,
                      const int64_t *perm, int64_t lo, int64_t hi, sml_step_scratch *s, float *grad,
                      int64_t *count) {
  const int64_t n = local_part(perm, lo, hi, train, s->idx);
  for (int64_t i = 0; i < n; i++) s->y[i] = train->labels[s->idx[i]];
  sml_prep_batch(prep, train->images, s->idx, n, s->x);
  memset(grad, 0, (size_t)m->nweights * sizeof *grad);
  *count = n;
  return sml_model_loss_grad(m, params, grad, s->x, s->y, n, &s->ws);
}

/* Checkpoints on rank 0, with the verdict agreed (a failed write stops every rank). */
static int checkpoint_now(const sml_checkpoint_policy *policy, const sml_train_state *st, const sml_comm *c,
                          sml_err *err) {
  int status = c->rank == 0 ? policy->write(policy->ctx, st, err) : SML_OK;
  return sml_agree(c, status, err);
}

/* Flags carried in the gradient allreduce, after the gradient, loss and count. */
enum { FLAG_LOSS, FLAG_COUNT, FLAG_SIGNAL, FLAG_TIMER, NFLAGS };

int sml_train(const sml_model *m, sml_train_state *state, const sml_dataset *ds, const sml_prep *prep,
              const sml_train_config *cfg, const sml_checkpoint_policy *policy, const sml_comm *c,
              sml_err *err) {
  const sml_shard *train = &ds->train;
  const int64_t N = train->total, B = cfg->batch, D = prep->dim, nw = m->nweights;
  const int64_t steps_per_epoch = (N + B - 1) / B;
  const int checkpointing = policy && policy->dir && policy->write;
  sml_train_history *hist = &state->hist;
  float *params = state->params, *velocity = state->velocity;

  int64_t *perm = SML_ALLOC((size_t)N * sizeof *perm);
  sml_step_scratch scratch;
  sml_step_scratch_init(&scratch, m, B, D);
  /* grad[0..nw) = gradient sum, then the flags: one allreduce per step. */
  float *grad = SML_ALLOC((size_t)(nw + NFLAGS) * sizeof *grad);

  int status = SML_OK;
  double last_checkpoint = sml_now();
  while (state->epoch < cfg->epochs && status == SML_OK) {
    const int64_t epoch = state->epoch;
    sml_rng shuffle = sml_rng_stream(cfg->seed, SML_STREAM_SHUFFLE, (uint64_t)epoch);
    sml_rng_permutation(&shuffle, perm, N);
    double lr = sml_lr_at(cfg, epoch, 0.0);
    while (state->step_in_epoch < steps_per_epoch) {
      const int64_t step = state->step_in_epoch;
      const double t0 = sml_now();
      int64_t n;
      grad[nw + FLAG_LOSS] = (float)sml_step_local(m, params, train, prep, perm, step * B,
                                                   step * B + B < N ? step * B + B : N, &scratch, grad, &n);
      grad[nw + FLAG_COUNT] = (float)n;
      grad[nw + FLAG_SIGNAL] = sml_signal_pending() ? 1.0f : 0.0f;
      grad[nw + FLAG_TIMER] = checkpointing && policy->every_seconds > 0 && c->rank == 0 &&
                              sml_now() - last_checkpoint >= policy->every_seconds;
      const double t1 = sml_now();
      sml_allreduce_sum_f32(c, grad, nw + NFLAGS);
      const double t2 = sml_now();

      /* The rate for this step, then one fused update pass. */
      lr = sml_lr_at(cfg, epoch, (double)step / (double)steps_per_epoch);
      const double count = grad[nw + FLAG_COUNT];
      const double loss = grad[nw + FLAG_LOSS] / count +
                          sml_sgd_step(m, params, velocity, grad, count, cfg->reg, lr, cfg->momentum);
      if (!isfinite(loss)) {
        status = sml_fail(err, SML_ERUNTIME,
                          "training diverged at step %lld (epoch %lld): the loss is %s; "
                          "try a smaller learning rate (now %g)",
                          (long long)state->global_step + 1, (long long)epoch + 1,
                          isnan(loss) ? "NaN" : "infinite", cfg->lr);
        break;
      }
      state->step_in_epoch++;
      state->global_step++;
      state->epoch_loss_sum += loss;
      state->epoch_compute_s += t1 - t0;
      state->epoch_allreduce_s += t2 - t1;
      state->epoch_elapsed_s += sml_now() - t0;
      if (cfg->log_every > 0 && state->global_step % cfg->log_every == 0) {
        hist->step_index[hist->nsteps_logged] = state->global_step;
        hist->step_loss[hist->nsteps_logged++] = loss;
      }
      const int signalled = grad[nw + FLAG_SIGNAL] > 0;
      if (checkpointing && (signalled || grad[nw + FLAG_TIMER] > 0 ||
                            (policy->every_steps > 0 && state->global_step % policy->every_steps == 0))) {
        status = checkpoint_now(policy, state, c, err);
        last_checkpoint = sml_now();
        if (status != SML_OK) break;
      }
      if (signalled) {
        status = checkpointing
                     ? sml_fail(err, SML_EXIT_PREEMPTED,
                                "stopped by a signal after step %lld; checkpoint written to %s; resume from it (--resume auto)",
                                (long long)state->global_step, policy->dir)
                     : sml_fail(err, SML_EXIT_PREEMPTED,
                                "stopped by a signal after step %lld; no checkpoint directory, so nothing was saved",
                                (long long)state->global_step);
        break;
      }
    }
    if (status != SML_OK) break;

    /* End of the epoch: metrics, one log line, maybe a checkpoint. */
    sml_epoch_stats *e = &hist->epochs[epoch];
    e->loss = state->epoch_loss_sum / (double)steps_per_epoch;
    e->lr = lr;
    e->compute_s = state->epoch_compute_s;
    e->allreduce_s = state->epoch_allreduce_s;
    e->other_s = state->epoch_elapsed_s - e->compute_s - e->allreduce_s;
    e->images_per_sec = (double)N / state->epoch_elapsed_s;
    const double t_eval = sml_now();
    e->train_acc = cfg->quiet ? -1 : sml_evaluate(m, params, &ds->train, prep, c);
    e->val_acc = sml_evaluate(m, params, &ds->val, prep, c);
    e->eval_s = sml_now() - t_eval;
    hist->nepochs = epoch + 1;
    char val[32] = "";
    if (e->val_acc >= 0) snprintf(val, sizeof val, " val_acc %.4f", e->val_acc);
    if (!cfg->quiet)
      sml_log(c, "epoch %lld/%lld loss %.4f train_acc %.4f%s lr %.3g | %.0f img/s, compute %.2fs allreduce %.2fs other %.2fs (eval %.2fs)",
            (long long)epoch + 1, (long long)cfg->epochs, e->loss, e->train_acc, val, e->lr,
            e->images_per_sec, e->compute_s, e->allreduce_s, e->other_s, e->eval_s);
    state->epoch++;
    state->step_in_epoch = 0;
    state->epoch_loss_sum = state->epoch_compute_s = state->epoch_allreduce_s = state->epoch_elapsed_s = 0;
    if (checkpointing && policy->every_epochs > 0 && state->epoch % policy->every_epochs == 0) {
      status = checkpoint_now(policy, state, c, err);
      last_checkpoint = sml_now();
    }
  }
  if (status == SML_OK) hist->test_acc = sml_evaluate(m, params, &ds->test, prep, c);

  sml_step_scratch_free(&scratch);
  free(perm); free(grad);
  /* Loss, signals and timers travel in the allreduce: every rank reached
   * the same verdict at the same step. */
  return status;
}

int sml_train_write_history(const sml_train_history *h, const char *dir, const sml_comm *c,
                            sml_err *err) {
  int status = SML_OK;
  if (c->rank == 0) {
    char path[4096];
    sml_atomic_file a;
    snprintf(path, sizeof path, "%s/history.csv", dir);
    status = sml_atomic_open(&a, path, err);
    if (status == SML_OK) {
      fprintf(a.f, "epoch,loss,train_acc,val_acc,lr,images_per_sec,compute_s,allreduce_s,other_s,eval_s\n");
      for (int64_t i = 0; i < h->nepochs; i++) {
        const sml_epoch_stats *e = &h->epochs[i];
        fprintf(a.f, "%lld,%.8g,%.6f,%.6f,%.6g,%.1f,%.4f,%.4f,%.4f,%.4f\n", (long long)i + 1, e->loss,
                e->train_acc, e->val_acc, e->lr, e->images_per_sec, e->compute_s, e->allreduce_s,
                e->other_s, e->eval_s);
      }
      status = sml_atomic_commit(&a, err);
    }
    if (status == SML_OK && h->nsteps_logged > 0) {
      snprintf(path, sizeof path, "%s/steps.csv", dir);
      status = sml_atomic_open(&a, path, err);
      if (status == SML_OK) {
        fprintf(a.f, "step,loss\n");
        for (int64_t i = 0; i < h->nsteps_logged; i++)
          fprintf(a.f, "%lld,%.9g\n", (long long)h->step_index[i], h->step_loss[i]);
        status = sml_atomic_commit(&a, err);
      }
    }
    if (status == SML_OK) {
      /* Loss curve: logged steps if any, else one point per epoch. */
      int64_t n = h->nsteps_logged > 0 ? h->nsteps_logged : h->nepochs;
      double *xs = SML_ALLOC((size_t)(n + 1) * sizeof *xs), *ys = SML_ALLOC((size_t)(n + 1) * sizeof *ys);
      for (int64_t i = 0; i < n; i++) {
        xs[i] = h->nsteps_logged > 0 ? (double)h->step_index[i] : (double)(i + 1);
        ys[i] = h->nsteps_logged > 0 ? h->step_loss[i] : h->epochs[i].loss;
      }
      sml_svg_series s = {.name = "training loss", .n = n, .x = xs, .y = ys};
      snprintf(path, sizeof path, "%s/loss.svg", dir);
      status = sml_svg_plot(path, "Training loss", h->nsteps_logged > 0 ? "step" : "epoch",
                            "minibatch loss (data + L2)", 0, &s, 1, err);
      free(xs);
      free(ys);
    }
  }
  return sml_agree(c, status, err);
}
