/* One training step, in either arithmetic mode (see train/step.h): the
 * local forward and backward pass, the sum over the ranks, the update. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/train.h"
#include "nn/net.h"
#include "train/step.h"

/* Flags carried in the gradient allreduce, after the gradient, loss and count. */
enum { FLAG_LOSS, FLAG_COUNT, FLAG_SIGNAL, FLAG_TIMER, NFLAGS };

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
  s->rows = SML_ALLOC((size_t)batch * sizeof *s->rows);
  s->augmented = SML_ALLOC((size_t)(batch * dim));
  sml_workspace_init(&s->ws, m, batch);
}

void sml_step_scratch_free(sml_step_scratch *s) {
  free(s->idx);
  free(s->ids);
  free(s->x);
  free(s->y);
  free(s->rows);
  free(s->augmented);
  sml_workspace_free(&s->ws);
}

void sml_step_prepare(const sml_augment_step *aug, const sml_prep *prep, const int64_t *ids, const uint8_t **rows,
                      int64_t n, uint8_t *scratch, float *out) {
  if (aug && (aug->spec.crop || aug->spec.flip)) {
    sml_augment_images(&aug->spec, aug->seed, aug->epoch, ids, rows, n, aug->height, aug->width, aug->channels,
                       scratch);
    sml_prep_batch(prep, scratch, NULL, n, out);
  } else {
    sml_prep_rows(prep, rows, n, out);
  }
}

double sml_step_local(const sml_model *m, const float *params, const sml_shard *train, const sml_prep *prep,
                      const int64_t *perm, int64_t lo, int64_t hi, const sml_dropout *drop, const sml_augment_step *aug,
                      sml_step_scratch *s, float *grad, int64_t *count, const sml_grad_hook *hook) {
  const int64_t n = local_part(perm, lo, hi, train, s->idx);
  for (int64_t i = 0; i < n; i++) {
    s->y[i] = train->labels[s->idx[i]];
    s->ids[i] = train->first + s->idx[i];
  }
  for (int64_t i = 0; i < n; i++) s->rows[i] = train->images + s->idx[i] * prep->dim;
  sml_step_prepare(aug, prep, s->ids, s->rows, n, s->augmented, s->x);
  memset(grad, 0, (size_t)m->nweights * sizeof *grad);
  *count = n;
  sml_dropout d = {0};
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

/* The workspace's way to agree batch normalization sums: over the ranks. */
static void sum_over_ranks(const void *comm, double *v, int64_t n) { sml_allreduce_sum_f64(comm, v, n); }

void sml_step_buffers_init(sml_step_buffers *b, const sml_model *m, const sml_dataset *ds, const sml_prep *prep,
                           const sml_train_config *cfg, const sml_comm *c) {
  sml_step_scratch_init(&b->scratch, m, cfg->batch, prep->dim);
  b->scratch.ws.sum = sum_over_ranks;
  b->scratch.ws.sum_ctx = c;
  b->repro = cfg->reproducible ? sml_repro_init(m, &ds->train, prep, cfg, c) : NULL;
  b->image[0] = ds->height;
  b->image[1] = ds->width;
  b->image[2] = ds->channels;
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
  const sml_augment_step aug = {.spec = cfg->augment,
                                .seed = cfg->seed,
                                .epoch = st->epoch,
                                .height = b->image[0],
                                .width = b->image[1],
                                .channels = b->image[2]};
  if (b->repro) {
    /* Exact sums of fixed micro-batches: the same bits for any layout. */
    int64_t n;
    double loss_sum;
    const int ok = sml_repro_step(b->repro, st->params, perm, lo, hi, st->global_step, &aug, &grad_sum, &loss_sum, &n,
                                  flags, times);
    grad[nw + FLAG_LOSS] = ok == 0 ? (float)loss_sum : NAN;
    grad[nw + FLAG_COUNT] = (float)n;
    times->compute_s = sml_now() - t0 - times->wait_s;
  } else {
    int64_t n;
    const sml_dropout drop = {.p = cfg->dropout, .seed = cfg->seed, .step = st->global_step};
    const sml_grad_hook *hook = sml_reducer_begin(b->reducer);
    grad[nw + FLAG_LOSS] =
        (float)sml_step_local(m, st->params, train, prep, perm, lo, hi, &drop, &aug, &b->scratch, grad, &n, hook);
    grad[nw + FLAG_COUNT] = (float)n;
    grad[nw + FLAG_SIGNAL] = (float)flags[0];
    grad[nw + FLAG_TIMER] = (float)flags[1];
    sml_reducer_finish(b->reducer, times);
    times->compute_s = sml_now() - t0 - times->wait_s;
    b->sent_sum_bytes += sml_reducer_step_bytes(b->reducer); /* as sml_repro_sent counts */
    flags[0] = (int64_t)grad[nw + FLAG_SIGNAL];
    flags[1] = (int64_t)grad[nw + FLAG_TIMER];
  }
  /* The optimizer's fused update pass, then the running statistics of
   * batch normalizations (the forward pass agreed them on every rank). */
  const double count = grad[nw + FLAG_COUNT];
  const double l2 = sml_optimizer_step(cfg->optimizer, m, st->params, st->opt_state, &grad_sum, count, lr, cfg->reg,
                                       st->global_step + 1, &cfg->opt);
  if (m->nops > 0) sml_net_update_running(m, st->params, b->repro ? sml_repro_stats(b->repro) : &b->scratch.ws);
  return grad[nw + FLAG_LOSS] / count + l2;
}

/* Seconds this rank waited for slower ones over an epoch: per step, the
 * slowest rank's compute time less its own (steps not run here, before a
 * resume, are zero everywhere). Collective. */
