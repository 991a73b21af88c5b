/* The data-parallel training loop (see shardml/train.h for the scheme):
 * epochs of steps, checkpoints, early stopping, the epoch lines. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "io/io.h"
#include "shardml/checkpoint.h"
#include "shardml/signals.h"
#include "shardml/train.h"
#include "train/step.h"

static void divergence_hint(const sml_train_config *cfg, double lr, char *out, size_t len) {
  if (2 * lr * cfg->reg >= 1)
    snprintf(out, len,
             "the L2 term alone makes each step overshoot (2 x learning rate x L2 strength = %g, must be "
             "below 1): try a smaller L2 strength (now %g) or learning rate (now %g)",
             2 * lr * cfg->reg, cfg->reg, lr);
  else snprintf(out, len, "try a smaller learning rate (now %g)", lr);
}

/* Non-finite parameters are never written: checked before every
 * checkpoint and model file (the loss, checked before each update, cannot
 * see the last one). The parameters are the same on every rank; the
 * verdict is agreed all the same. Collective. */
static int params_finite(const sml_model *m, const sml_train_state *st, const sml_train_config *cfg, double lr,
                         const sml_comm *c, sml_err *err) {
  int64_t bad = 0;
  for (int64_t i = 0; i < m->nweights; i++) bad += !isfinite(st->params[i]);
  int status = SML_OK;
  if (bad > 0) {
    char hint[256];
    divergence_hint(cfg, lr, hint, sizeof hint);
    status = sml_fail(err, SML_ERUNTIME,
                      "training diverged by step %lld (epoch %lld): %lld of %lld parameters are not finite after the "
                      "update; nothing was written; %s",
                      (long long)st->global_step, (long long)st->epoch + (st->step_in_epoch ? 1 : 0), (long long)bad,
                      (long long)m->nweights, hint);
  }
  return sml_agree(c, status, err);
}

/* Every rank's error-feedback residual onto rank 0's state, for the
 * checkpoint: without them a resumed 16-bit run would round differently
 * from the uninterrupted one. Collective (on every rank alike: the wire
 * type and the rank count are the run's). */
static void gather_residuals(sml_train_state *st, sml_step_buffers *b, const sml_model *m, const sml_train_config *cfg,
                             const sml_comm *c) {
  const float *mine = b->reducer ? sml_reducer_residual(b->reducer) : NULL;
  if (!mine || c->size > SML_RESIDUALS_MAX / m->nweights) return;
  if (c->rank == 0 && st->residual_ranks != c->size) {
    free(st->residuals);
    st->residuals = SML_ALLOC((size_t)c->size * (size_t)m->nweights * sizeof *st->residuals);
    st->residual_ranks = c->size;
  }
  if (c->rank == 0) st->residual_dtype = cfg->grad_dtype;
  sml_gather_bytes(c, mine, m->nweights * (int64_t)sizeof *mine, st->residuals, 0);
}

/* The residuals a checkpoint brought (rank 0's state) back to their ranks,
 * when this run has as many ranks and the same wire type; otherwise error
 * feedback starts from zero, said once. Collective. */
static void scatter_residuals(const sml_train_state *st, sml_step_buffers *b, const sml_model *m,
                              const sml_train_config *cfg, const sml_comm *c) {
  float *mine = b->reducer ? sml_reducer_residual(b->reducer) : NULL;
  if (!mine) return;
  int64_t saved[2] = {st->residuals ? st->residual_ranks : 0, st->residual_dtype};
  sml_bcast_bytes(c, saved, sizeof saved, 0);
  if (saved[0] == c->size && saved[1] == cfg->grad_dtype)
    sml_scatter_bytes(c, st->residuals, m->nweights * (int64_t)sizeof *mine, mine, 0);
  else if (saved[0] > 0)
    sml_log(c,
            "the checkpoint's error-feedback residuals are of %lld ranks (%s); this run has %d (%s): they "
            "restart at zero",
            (long long)saved[0], sml_grad_dtype_name((sml_grad_dtype)saved[1]), c->size,
            sml_grad_dtype_name((sml_grad_dtype)cfg->grad_dtype));
}

static int checkpoint_now(const sml_checkpoint_policy *policy, const sml_model *m, sml_train_state *st,
                          sml_step_buffers *b, const sml_train_config *cfg, double lr, const sml_comm *c,
                          sml_err *err) {
  SML_TRY(params_finite(m, st, cfg, lr, c, err));
  gather_residuals(st, b, m, cfg, c);
  int status = c->rank == 0 ? policy->write(policy->ctx, st, err) : SML_OK;
  return sml_agree(c, status, err);
}

/* The epoch with the best validation accuracy so far (the first of equal
 * ones), -1 without validation. */
static int64_t best_epoch(const sml_train_history *h) {
  int64_t best = -1;
  for (int64_t i = 0; i < h->nepochs; i++)
    if (h->epochs[i].val_acc >= 0 && (best < 0 || h->epochs[i].val_acc > h->epochs[best].val_acc)) best = i;
  return best;
}

/* Early stopping: cfg->early_stop epochs have passed since the best one.
 * A function of the history alone, so a resumed run stops where the
 * uninterrupted one would have. */
static int patience_exhausted(const sml_train_history *h, const sml_train_config *cfg) {
  const int64_t best = best_epoch(h);
  return cfg->early_stop > 0 && best >= 0 && h->nepochs - 1 - best >= cfg->early_stop;
}

/* "42s", "3:07", "1:02:03": elapsed times and ETAs in log lines. */
static void format_duration(double seconds, char *out, size_t len) {
  const long long t = seconds > 0 && seconds < 1e9 ? (long long)(seconds + 0.5) : 0;
  if (t < 60) snprintf(out, len, "%llds", t);
  else if (t < 3600) snprintf(out, len, "%lld:%02lld", t / 60, t % 60);
  else snprintf(out, len, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
}

/* Seconds left at this run's pace so far (steps since it started or resumed). */
static double seconds_left(double elapsed, int64_t steps_done, int64_t steps_left) {
  return steps_done > 0 ? elapsed / (double)steps_done * (double)steps_left : 0;
}

static double epoch_imbalance(const double *step_compute, double *slowest, int64_t steps, const sml_comm *c) {
  memcpy(slowest, step_compute, (size_t)steps * sizeof *slowest);
  sml_allreduce_max_f64(c, slowest, steps);
  double late = 0;
  for (int64_t s = 0; s < steps; s++) late += slowest[s] - step_compute[s];
  return late;
}

int sml_train(const sml_model *m, sml_train_state *state, const sml_dataset *ds, const sml_prep *prep,
              const sml_train_config *cfg, const sml_checkpoint_policy *policy, const sml_comm *c, sml_err *err) {
  const sml_shard *train = &ds->train;
  const int64_t N = train->total, B = cfg->batch;
  const int64_t steps_per_epoch = (N + B - 1) / B;
  const int checkpointing = policy && policy->dir && policy->write;
  sml_train_history *hist = &state->hist;
  float *params = state->params;

  int64_t *perm = SML_ALLOC((size_t)N * sizeof *perm);
  /* Each step's compute time on this rank, and the slowest rank's. */
  double *step_compute = SML_CALLOC((size_t)steps_per_epoch, sizeof *step_compute);
  double *slowest = SML_ALLOC((size_t)steps_per_epoch * sizeof *slowest);
  sml_step_buffers bufs;
  sml_step_buffers_init(&bufs, m, ds, prep, cfg, c);
  scatter_residuals(state, &bufs, m, cfg, c);

  int status = SML_OK;
  double last_checkpoint = sml_now();
  const double run_start = sml_now();
  const int64_t run_first_step = state->global_step, run_steps = cfg->epochs * steps_per_epoch;
  double last_progress = run_start;
  while (state->epoch < cfg->epochs && status == SML_OK && !patience_exhausted(hist, cfg)) {
    const int64_t epoch = state->epoch;
    sml_rng shuffle = sml_rng_stream(cfg->seed, SML_STREAM_SHUFFLE, (uint64_t)epoch);
    sml_rng_permutation(&shuffle, perm, N);
    memset(step_compute, 0, (size_t)steps_per_epoch * sizeof *step_compute);
    double lr = sml_lr_at(cfg, epoch, 0.0);
    while (state->step_in_epoch < steps_per_epoch) {
      const int64_t step = state->step_in_epoch;
      const double t0 = sml_now();
      const int64_t lo = step * B, hi = step * B + B < N ? step * B + B : N;
      const int signal_here = sml_signal_pending() != 0;
      const int timer_here = checkpointing && policy->every_seconds > 0 && c->rank == 0 &&
                             sml_now() - last_checkpoint >= policy->every_seconds;
      /* The rate for this step, then the step. */
      lr = sml_lr_at(cfg, epoch, (double)step / (double)steps_per_epoch);
      int64_t flags[2] = {signal_here, timer_here};
      sml_reduce_times times;
      const double loss = sml_train_step(&bufs, m, state, cfg, train, prep, perm, lo, hi, lr, flags, &times, c);
      if (!isfinite(loss)) {
        char hint[256];
        divergence_hint(cfg, lr, hint, sizeof hint);
        status =
            sml_fail(err, SML_ERUNTIME, "training diverged at step %lld (epoch %lld): the loss is %s; %s",
                     (long long)state->global_step + 1, (long long)epoch + 1, isnan(loss) ? "NaN" : "infinite", hint);
        break;
      }
      state->step_in_epoch++;
      state->global_step++;
      state->epoch_loss_sum += loss;
      state->epoch_compute_s += times.compute_s;
      state->epoch_allreduce_s += times.wait_s;
      state->epoch_hidden_s += times.hidden_s;
      step_compute[step] = times.compute_s;
      state->epoch_elapsed_s += sml_now() - t0;
      if (!cfg->quiet && sml_progress_enabled(c) && sml_now() - last_progress >= 0.5) {
        char left[32];
        last_progress = sml_now();
        format_duration(seconds_left(last_progress - run_start, state->global_step - run_first_step,
                                     run_steps - state->global_step),
                        left, sizeof left);
        sml_progress(c, "epoch %lld/%lld step %lld/%lld loss %.4f, ETA %s", (long long)epoch + 1,
                     (long long)cfg->epochs, (long long)state->step_in_epoch, (long long)steps_per_epoch, loss, left);
      }
      if (cfg->log_every > 0 && state->global_step % cfg->log_every == 0) {
        hist->step_index[hist->nsteps_logged] = state->global_step;
        hist->step_loss[hist->nsteps_logged++] = loss;
      }
      const int signalled = flags[0] > 0;
      if (checkpointing &&
          (signalled || flags[1] > 0 || (policy->every_steps > 0 && state->global_step % policy->every_steps == 0))) {
        status = checkpoint_now(policy, m, state, &bufs, cfg, lr, c, err);
        last_checkpoint = sml_now();
        if (status != SML_OK) break;
      }
      if (signalled) {
        status = checkpointing
                     ? sml_fail(err, SML_EXIT_PREEMPTED,
                                "stopped by a signal after step %lld; checkpoint written to %s; the same command with "
                                "automatic resume continues",
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
    e->comm_hidden_s = state->epoch_hidden_s;
    e->imbalance_s = epoch_imbalance(step_compute, slowest, steps_per_epoch, c);
    e->comm_exposed_s = e->allreduce_s > e->imbalance_s ? e->allreduce_s - e->imbalance_s : 0;
    e->images_per_sec = (double)N / state->epoch_elapsed_s;
    const double t_eval = sml_now();
    e->train_acc = cfg->quiet ? -1 : sml_evaluate(m, params, &ds->train, prep, c, NULL);
    e->val_acc = sml_evaluate(m, params, &ds->val, prep, c, &e->val_loss);
    e->eval_s = sml_now() - t_eval;
    hist->nepochs = epoch + 1;
    char val[64] = "";
    if (e->val_acc >= 0) snprintf(val, sizeof val, " val_loss %.4f val_acc %.4f", e->val_loss, e->val_acc);
    if (!cfg->quiet) {
      char elapsed[32], left[32];
      const double run_s = sml_now() - run_start;
      format_duration(run_s, elapsed, sizeof elapsed);
      format_duration(seconds_left(run_s, state->global_step - run_first_step, run_steps - state->global_step), left,
                      sizeof left);
      sml_log(c,
              "epoch %lld/%lld loss %.4f train_acc %.4f%s lr %.3g | %.0f img/s, compute %.2fs comm %.2fs "
              "(hidden %.2fs exposed %.2fs) imbalance %.2fs other %.2fs (eval %.2fs) | elapsed %s, ETA %s",
              (long long)epoch + 1, (long long)cfg->epochs, e->loss, e->train_acc, val, e->lr, e->images_per_sec,
              e->compute_s, e->comm_hidden_s + e->comm_exposed_s, e->comm_hidden_s, e->comm_exposed_s, e->imbalance_s,
              e->other_s, e->eval_s, elapsed, left);
    }
    state->epoch++;
    state->step_in_epoch = 0;
    state->epoch_loss_sum = state->epoch_compute_s = state->epoch_allreduce_s = state->epoch_elapsed_s = 0;
    state->epoch_hidden_s = 0;
    if (policy && policy->write_best && e->val_acc >= 0 && best_epoch(hist) == epoch) {
      status = params_finite(m, state, cfg, lr, c, err);
      if (status == SML_OK)
        status = sml_agree(c, c->rank == 0 ? policy->write_best(policy->ctx, state, err) : SML_OK, err);
    }
    if (status == SML_OK && checkpointing && policy->every_epochs > 0 && state->epoch % policy->every_epochs == 0) {
      status = checkpoint_now(policy, m, state, &bufs, cfg, lr, c, err);
      last_checkpoint = sml_now();
    }
    if (status == SML_OK && patience_exhausted(hist, cfg) && !cfg->quiet)
      sml_log(c,
              "early stop after epoch %lld: validation accuracy has not improved for %lld epochs (best %.4f, "
              "epoch %lld)",
              (long long)epoch + 1, (long long)cfg->early_stop, hist->epochs[best_epoch(hist)].val_acc,
              (long long)best_epoch(hist) + 1);
  }
  /* The model file and the test accuracy come from the last update. */
  if (status == SML_OK) status = params_finite(m, state, cfg, sml_lr_at(cfg, state->epoch, 0.0), c, err);
  if (status == SML_OK) hist->test_acc = sml_evaluate(m, params, &ds->test, prep, c, NULL);

  sml_step_buffers_free(&bufs);
  free(perm);
  free(step_compute);
  free(slowest);
  /* Loss, signals and timers travel in the allreduce: every rank reached
   * the same verdict at the same step. */
  return status;
}

/* loss.svg: the training loss (logged steps if any, else per epoch) and,
 * with a validation split, the validation loss per epoch; accuracy.svg:
 * training and validation accuracy per epoch. Epochs are plotted at the
 * step they ended when steps were logged, so both share one x axis. */
