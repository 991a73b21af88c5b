/* The data-parallel training loop (see shardml/train.h for the scheme). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/checkpoint.h"
#include "shardml/exact.h"
#include "shardml/io.h"
#include "shardml/rng.h"
#include "shardml/train.h"

/* Evaluation forwards images in blocks of EVAL_BLOCK rows aligned to their
 * index in the split (block k: images k*EVAL_BLOCK up to the next block),
 * the rows a shard lacks left zero, each block whole on one thread with
 * single-threaded kernels (BLAS inside an active parallel region runs on
 * the calling thread). So every image goes through the same matrix
 * products in the same row whatever the ranks and threads, and its scores,
 * and the accuracies and losses from them, are the same bits; and wide
 * layers are matrix products, not row-by-row loops. */
#define EVAL_BLOCK 64

void sml_images_scores(const sml_model *m, const float *params, const sml_prep *prep, const uint8_t *images,
                       int64_t first, int64_t n, float *scores) {
  if (n == 0) return;
  const int64_t C = m->width[m->nlayers], D = prep->dim;
  const int64_t block_lo = first / EVAL_BLOCK, block_hi = (first + n - 1) / EVAL_BLOCK + 1;
  const int nthreads = sml_threads();
  sml_workspace *ws = SML_ALLOC((size_t)nthreads * sizeof *ws);
  float **x = SML_ALLOC((size_t)nthreads * sizeof *x);
  for (int t = 0; t < nthreads; t++) {
    sml_workspace_init(&ws[t], m, EVAL_BLOCK);
    x[t] = SML_CALLOC((size_t)(EVAL_BLOCK * D), sizeof *x[t]);
  }
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t k = block_lo; k < block_hi; k++) {
    const int t = omp_get_thread_num();
    const int64_t lo = k * EVAL_BLOCK > first ? k * EVAL_BLOCK : first;
    const int64_t hi = (k + 1) * EVAL_BLOCK < first + n ? (k + 1) * EVAL_BLOCK : first + n;
    const int64_t row = lo - k * EVAL_BLOCK; /* the first present image's row in the block */
    if (hi - lo < EVAL_BLOCK) memset(x[t], 0, (size_t)(EVAL_BLOCK * D) * sizeof *x[t]);
    sml_prep_batch(prep, images + (lo - first) * D, NULL, hi - lo, x[t] + row * D);
    const float *s = sml_model_forward(m, params, x[t], EVAL_BLOCK, &ws[t]);
    memcpy(scores + (lo - first) * C, s + row * C, (size_t)((hi - lo) * C) * sizeof *scores);
  }
  for (int t = 0; t < nthreads; t++) {
    sml_workspace_free(&ws[t]);
    free(x[t]);
  }
  free(ws);
  free(x);
}

double sml_evaluate(const sml_model *m, const float *params, const sml_shard *split, const sml_prep *prep,
                    const sml_comm *c, double *loss) {
  int64_t counts[3] = {0, split->count, 0}; /* correct, seen, the loss in fixed point */
  double *sample_loss = NULL, maxabs = 0.0;
  if (split->count > 0) {
    const int64_t C = m->width[m->nlayers];
    float *scores = SML_ALLOC((size_t)(split->count * C) * sizeof *scores);
    sml_images_scores(m, params, prep, split->images, split->first, split->count, scores);
    counts[0] = sml_count_correct(scores, split->labels, split->count, C);
    if (loss) {
      /* One loss per image, summed exactly below: the same total for any
       * number of ranks. */
      sml_workspace ws;
      sml_workspace_init(&ws, m, 1);
      sample_loss = SML_ALLOC((size_t)split->count * sizeof *sample_loss);
      for (int64_t i = 0; i < split->count; i++) {
        sample_loss[i] = sml_model_loss(m, scores + i * C, split->labels + i, 1, &ws);
        /* Infinity, not NaN, marks a bad value: MPI_MAX keeps it whatever the order. */
        maxabs = isfinite(sample_loss[i]) ? fmax(maxabs, fabs(sample_loss[i])) : INFINITY;
      }
      sml_workspace_free(&ws);
    }
    free(scores);
  }
  if (loss) {
    sml_allreduce_max_f64(c, &maxabs, 1);
    const int q = sml_fixed_exponent(isfinite(maxabs) ? maxabs : 0.0, split->total);
    const double scale = sml_fixed_scale(q);
    for (int64_t i = 0; isfinite(maxabs) && i < split->count; i++) counts[2] += sml_to_fixed(sample_loss[i], scale);
    free(sample_loss);
    sml_allreduce_sum_i64(c, counts, 3);
    *loss = split->total > 0 && isfinite(maxabs) ? sml_from_fixed(counts[2], q) / (double)split->total : NAN;
  } else {
    sml_allreduce_sum_i64(c, counts, 2);
  }
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
static int64_t local_part(const int64_t *perm, int64_t lo, int64_t hi, const sml_shard *sh, int64_t *idx) {
  int64_t n = 0;
  for (int64_t k = lo; k < hi; k++) {
    int64_t g = perm[k] - sh->first;
    if (g >= 0 && g < sh->count) idx[n++] = g;
  }
  return n;
}

void sml_step_scratch_init(sml_step_scratch *s, const sml_model *m, int64_t batch, int64_t dim) {
  s->idx = SML_ALLOC((size_t)batch * sizeof *s->idx);
  s->ids = SML_ALLOC((size_t)batch * sizeof *s->ids);
  s->x = SML_ALLOC((size_t)(batch * dim) * sizeof *s->x);
  s->y = SML_ALLOC((size_t)batch);
  sml_workspace_init(&s->ws, m, batch);
}

void sml_step_scratch_free(sml_step_scratch *s) {
  free(s->idx);
  free(s->ids);
  free(s->x);
  free(s->y);
  sml_workspace_free(&s->ws);
}

double sml_step_local(const sml_model *m, const float *params, const sml_shard *train, const sml_prep *prep,
                      const int64_t *perm, int64_t lo, int64_t hi, const sml_dropout *drop, sml_step_scratch *s,
                      float *grad, int64_t *count, const sml_grad_hook *hook) {
  const int64_t n = local_part(perm, lo, hi, train, s->idx);
  for (int64_t i = 0; i < n; i++) {
    s->y[i] = train->labels[s->idx[i]];
    s->ids[i] = train->first + s->idx[i];
  }
  sml_prep_batch(prep, train->images, s->idx, n, s->x);
  memset(grad, 0, (size_t)m->nweights * sizeof *grad);
  *count = n;
  sml_dropout d;
  if (drop) {
    d = *drop;
    d.ids = s->ids;
  }
  const double loss = sml_model_loss_grad_hooked(m, params, grad, s->x, s->y, n, drop ? &d : NULL, &s->ws, hook);
  /* A rank without samples in this step produced no gradient parts; its
   * zeros are final now. */
  if (n == 0 && hook) hook->ready(hook->ctx, 0);
  return loss;
}

/* Checkpoints on rank 0, with the verdict agreed (a failed write stops every rank). */
/* What most likely made training blow up. With L2 strength reg the update
 * shrinks a weight by the factor 1 - 2 lr reg, which overshoots zero and
 * grows without bound once 2 lr reg reaches 2 (and oscillates from 1 on):
 * then the regularisation, not the data's gradient, is to blame. */
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

/* Flags carried in the gradient allreduce, after the gradient, loss and count. */
enum { FLAG_LOSS, FLAG_COUNT, FLAG_SIGNAL, FLAG_TIMER, NFLAGS };

void sml_step_buffers_init(sml_step_buffers *b, const sml_model *m, const sml_shard *train, const sml_prep *prep,
                           const sml_train_config *cfg, const sml_comm *c) {
  sml_step_scratch_init(&b->scratch, m, cfg->batch, prep->dim);
  b->repro = cfg->reproducible ? sml_repro_init(m, train, prep, cfg, c) : NULL;
  b->grad = SML_ALLOC_COMM((size_t)(m->nweights + NFLAGS) * sizeof *b->grad);
  b->reducer = cfg->reproducible ? NULL
                                 : sml_reducer_init(m, b->grad, NFLAGS, cfg->overlap, cfg->bucket_mb * 1e6,
                                                    (sml_grad_dtype)cfg->grad_dtype, c);
  b->sent_sum_bytes = 0;
}

void sml_step_sent(const sml_step_buffers *b, int64_t *sum_bytes, int64_t *image_bytes) {
  if (b->repro) {
    sml_repro_sent(b->repro, sum_bytes, image_bytes);
    return;
  }
  *sum_bytes = b->sent_sum_bytes;
  *image_bytes = 0;
}

void sml_step_buffers_free(sml_step_buffers *b) {
  sml_step_scratch_free(&b->scratch);
  sml_repro_free(b->repro);
  sml_reducer_free(b->reducer);
  free(b->grad);
}

double sml_train_step(sml_step_buffers *b, const sml_model *m, sml_train_state *st, const sml_train_config *cfg,
                      const sml_shard *train, const sml_prep *prep, const int64_t *perm, int64_t lo, int64_t hi,
                      double lr, int64_t flags[2], sml_reduce_times *times, const sml_comm *c) {
  const int64_t nw = m->nweights;
  float *grad = b->grad;
  const double t0 = sml_now();
  sml_grad_sum grad_sum = {.floats = grad};
  if (b->repro) {
    /* Exact sums of fixed micro-batches: the same bits for any layout. */
    int64_t n;
    double loss_sum, comm_s;
    const int ok =
        sml_repro_step(b->repro, st->params, perm, lo, hi, st->global_step, &grad_sum, &loss_sum, &n, flags, &comm_s);
    grad[nw + FLAG_LOSS] = ok == 0 ? (float)loss_sum : NAN;
    grad[nw + FLAG_COUNT] = (float)n;
    *times = (sml_reduce_times){.compute_s = sml_now() - t0 - comm_s, .wait_s = comm_s};
  } else {
    int64_t n;
    const sml_dropout drop = {.p = cfg->dropout, .seed = cfg->seed, .step = st->global_step};
    const sml_grad_hook *hook = sml_reducer_begin(b->reducer);
    grad[nw + FLAG_LOSS] = (float)sml_step_local(m, st->params, train, prep, perm, lo, hi,
                                                 cfg->dropout > 0 ? &drop : NULL, &b->scratch, grad, &n, hook);
    grad[nw + FLAG_COUNT] = (float)n;
    grad[nw + FLAG_SIGNAL] = (float)flags[0];
    grad[nw + FLAG_TIMER] = (float)flags[1];
    sml_reducer_finish(b->reducer, times);
    times->compute_s = sml_now() - t0 - times->wait_s;
    b->sent_sum_bytes += sml_reducer_step_bytes(b->reducer); /* as sml_repro_sent counts */
    flags[0] = (int64_t)grad[nw + FLAG_SIGNAL];
    flags[1] = (int64_t)grad[nw + FLAG_TIMER];
  }
  /* The optimizer's fused update pass. */
  const double count = grad[nw + FLAG_COUNT];
  return grad[nw + FLAG_LOSS] / count + sml_optimizer_step(cfg->optimizer, m, st->params, st->opt_state, &grad_sum,
                                                           count, lr, cfg->reg, st->global_step + 1, &cfg->opt);
}

/* Seconds this rank waited for slower ones over an epoch: per step, the
 * slowest rank's compute time less its own (steps not run here, before a
 * resume, are zero everywhere). Collective. */
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
  sml_step_buffers_init(&bufs, m, train, prep, cfg, c);
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
        status =
            checkpointing
                ? sml_fail(
                      err, SML_EXIT_PREEMPTED,
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
static int write_curves(const sml_train_history *h, const char *dir, sml_err *err) {
  const int64_t ne = h->nepochs, ns = h->nsteps_logged;
  const int64_t steps_per_epoch = ne > 0 && ns > 0 ? (h->step_index[ns - 1] + ne - 1) / ne : 1;
  double *sx = SML_ALLOC((size_t)(ns + 1) * sizeof *sx), *sy = SML_ALLOC((size_t)(ns + 1) * sizeof *sy);
  double *ex = SML_ALLOC((size_t)(ne + 1) * sizeof *ex), *cols[4];
  for (int k = 0; k < 4; k++) cols[k] = SML_ALLOC((size_t)(ne + 1) * sizeof *cols[k]);
  int has_val = 0;
  for (int64_t i = 0; i < ns; i++) {
    sx[i] = (double)h->step_index[i];
    sy[i] = h->step_loss[i];
  }
  for (int64_t i = 0; i < ne; i++) {
    const sml_epoch_stats *e = &h->epochs[i];
    ex[i] = ns > 0 ? (double)((i + 1) * steps_per_epoch) : (double)(i + 1);
    cols[0][i] = e->loss;
    cols[1][i] = e->val_loss;
    cols[2][i] = e->train_acc;
    cols[3][i] = e->val_acc;
    has_val |= e->val_acc >= 0;
  }
  sml_svg_series loss[2] = {
      {.name = "training loss", .n = ns > 0 ? ns : ne, .x = ns > 0 ? sx : ex, .y = ns > 0 ? sy : cols[0]},
      {.name = "validation loss", .n = ne, .x = ex, .y = cols[1]}};
  sml_svg_series acc[2] = {{.name = "training accuracy", .n = ne, .x = ex, .y = cols[2]},
                           {.name = "validation accuracy", .n = ne, .x = ex, .y = cols[3]}};
  char path[4096];
  snprintf(path, sizeof path, "%s/loss.svg", dir);
  int st = sml_svg_plot(path, "Loss", ns > 0 ? "step" : "epoch", "loss (training: data + L2; validation: data)", 0,
                        loss, has_val ? 2 : 1, err);
  const int has_train_acc = ne > 0 && h->epochs[0].train_acc >= 0;
  if (st == SML_OK && (has_train_acc || has_val)) {
    snprintf(path, sizeof path, "%s/accuracy.svg", dir);
    st = sml_svg_plot(path, "Accuracy", ns > 0 ? "step" : "epoch", "accuracy", 0, has_train_acc ? acc : acc + 1,
                      has_train_acc + has_val, err);
  }
  free(sx);
  free(sy);
  free(ex);
  for (int k = 0; k < 4; k++) free(cols[k]);
  return st;
}

int sml_train_write_history(const sml_train_history *h, const char *dir, const sml_comm *c, sml_err *err) {
  int status = SML_OK;
  if (c->rank == 0) {
    char path[4096];
    sml_atomic_file a;
    snprintf(path, sizeof path, "%s/history.csv", dir);
    status = sml_atomic_open(&a, path, err);
    if (status == SML_OK) {
      /* allreduce_s (waiting for the sums) = comm_exposed_s + imbalance_s;
       * comm_hidden_s ran during compute_s. */
      fprintf(a.f,
              "epoch,loss,train_acc,val_acc,lr,images_per_sec,compute_s,allreduce_s,other_s,eval_s,val_loss,"
              "comm_hidden_s,comm_exposed_s,imbalance_s\n");
      for (int64_t i = 0; i < h->nepochs; i++) {
        const sml_epoch_stats *e = &h->epochs[i];
        fprintf(a.f, "%lld,%.8g,%.6f,%.6f,%.6g,%.1f,%.4f,%.4f,%.4f,%.4f,%.8g,%.4f,%.4f,%.4f\n", (long long)i + 1,
                e->loss, e->train_acc, e->val_acc, e->lr, e->images_per_sec, e->compute_s, e->allreduce_s, e->other_s,
                e->eval_s, e->val_loss, e->comm_hidden_s, e->comm_exposed_s, e->imbalance_s);
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
    if (status == SML_OK) status = write_curves(h, dir, err);
  }
  return sml_agree(c, status, err);
}
