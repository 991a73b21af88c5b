/* The affine/ReLU stack: parameter table, initialisation, forward and
 * backward passes over one batch. */
#include "shardml/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "nn/layers.h"
#include "nn/net.h"
#include "base/rng.h"

sml_param_entry *sml_model_add_param(sml_model *m, const char *name, int layer, int ndim, int64_t d0, int64_t d1,
                                     int regularized) {
  sml_param_entry *p = &m->param[m->nparams++];
  snprintf(p->name, sizeof p->name, "%s%d", name, layer);
  p->ndim = ndim;
  p->shape[0] = d0;
  p->shape[1] = ndim == 2 ? d1 : 1;
  p->size = d0 * p->shape[1];
  p->offset = m->nweights;
  p->regularized = regularized;
  m->nweights += p->size;
  return p;
}

int sml_model_init(sml_model *m, const char *kind, int64_t input_dim, int num_classes, const int64_t *hidden,
                   int nhidden, sml_err *err) {
  memset(m, 0, sizeof *m);
  if (strcmp(kind, "softmax") == 0 || strcmp(kind, "mlp") == 0) {
    m->loss = SML_LOSS_SOFTMAX;
  } else if (strcmp(kind, "svm") == 0) {
    m->loss = SML_LOSS_SVM;
  } else {
    return sml_fail_quantity(err, SML_EINPUT, "model", " %s: unknown (softmax, svm, mlp, cnn)", kind);
  }
  if (strcmp(kind, "mlp") == 0 && nhidden == 0)
    return sml_fail_quantity(err, SML_EINPUT, "hidden layers", ": an mlp needs at least one");
  if (strcmp(kind, "mlp") != 0 && nhidden > 0)
    return sml_fail_quantity(err, SML_EINPUT, "hidden layers", ": a %s classifier is linear (only an mlp has them)",
                             kind);
  if (nhidden > SML_MAX_LAYERS - 1)
    return sml_fail_quantity(err, SML_EINPUT, "hidden layers", ": at most %d", SML_MAX_LAYERS - 1);
  snprintf(m->kind, sizeof m->kind, "%s", kind);
  m->svm_margin = 1.0f;
  m->nlayers = nhidden + 1;
  m->width[0] = input_dim;
  for (int l = 0; l < nhidden; l++) {
    if (hidden[l] < 1 || hidden[l] > (1 << 20))
      return sml_fail_quantity(err, SML_EINPUT, "hidden layers", ": width %lld out of range", (long long)hidden[l]);
    m->width[l + 1] = hidden[l];
  }
  m->width[m->nlayers] = num_classes;
  for (int l = 0; l < m->nlayers; l++) {
    sml_model_add_param(m, "W", l, 2, m->width[l + 1], m->width[l], 1);
    sml_model_add_param(m, "b", l, 1, m->width[l + 1], 0, 0);
  }
  return SML_OK;
}

void sml_model_init_params(const sml_model *m, float *params, uint64_t seed, double weight_scale) {
  sml_rng rng = sml_rng_stream(seed, SML_STREAM_INIT, 0);
  for (int p = 0; p < m->nparams; p++) {
    const sml_param_entry *e = &m->param[p];
    if (!e->regularized) { /* biases start at zero, batch normalization's gamma at one */
      for (int64_t i = 0; i < e->size; i++) params[e->offset + i] = e->fill;
      continue;
    }
    double std = weight_scale > 0 ? weight_scale : sqrt(2.0 / (double)e->shape[1]);
    for (int64_t i = 0; i < e->size; i++) params[e->offset + i] = (float)(std * sml_rng_normal(&rng));
  }
}

void sml_workspace_init(sml_workspace *ws, const sml_model *m, int64_t max_batch) {
  memset(ws, 0, sizeof *ws);
  ws->max_batch = max_batch;
  if (m->nops > 0) {
    sml_net_workspace(ws, m, max_batch);
    return;
  }
  int64_t widest = 0;
  for (int l = 0; l <= m->nlayers; l++) {
    if (l > 0) ws->act[l] = SML_ALLOC((size_t)(max_batch * m->width[l]) * sizeof(float));
    if (l > 0 && l < m->nlayers) ws->mask[l] = SML_ALLOC((size_t)(max_batch * m->width[l]) * sizeof(float));
    if (m->width[l] > widest) widest = m->width[l];
  }
  ws->grad_a = SML_ALLOC((size_t)(max_batch * widest) * sizeof(float));
  ws->grad_b = SML_ALLOC((size_t)(max_batch * widest) * sizeof(float));
}

void sml_workspace_free(sml_workspace *ws) {
  for (int l = 0; l <= SML_MAX_LAYERS; l++) {
    free(ws->act[l]);
    free(ws->mask[l]);
  }
  for (int l = 0; l < SML_MAX_LAYERS; l++) {
    free(ws->col[l]);
    free(ws->argmax[l]);
    free(ws->relaid[l]);
    free(ws->xhat[l]);
    free(ws->bn[l]);
  }
  free(ws->grad_a);
  free(ws->grad_b);
  free(ws->conv_scratch);
  free(ws->tmp);
  free(ws->xin);
  memset(ws, 0, sizeof *ws);
}

/* A sample's row key at one layer and step, then one hash per unit. */
static uint64_t dropout_row(const sml_dropout *d, int64_t id, int layer) {
  const uint64_t step_key = sml_mix64(sml_mix64(d->seed) ^ sml_mix64((uint64_t)d->step + 0x9e3779b97f4a7c15ull));
  return sml_mix64(step_key ^ sml_mix64((uint64_t)id * 0x100000001b3ull + (uint64_t)layer));
}
static int dropout_unit_kept(uint64_t row, int64_t unit, double p) {
  const double u = (double)(sml_mix64(row + (uint64_t)(unit + 1) * 0x9e3779b97f4a7c15ull) >> 11) * 0x1.0p-53;
  return u >= p;
}

int sml_dropout_keep(const sml_dropout *d, int64_t id, int layer, int64_t unit) {
  return dropout_unit_kept(dropout_row(d, id, layer), unit, d->p);
}

void sml_dropout_forward(const sml_dropout *d, double p, int layer, float *act, float *mask, int64_t B, int64_t C,
                         int64_t hw, int planar) {
  const float scale = (float)(1.0 / (1.0 - p));
#pragma omp parallel for schedule(static) if (B * C * hw >= (1 << 14))
  for (int64_t b = 0; b < B; b++) {
    const uint64_t row = dropout_row(d, d->ids[b], layer);
    for (int64_t c = 0; c < C; c++) {
      const int64_t at = planar ? (c * B + b) * hw : (b * C + c) * hw;
      for (int64_t q = 0; q < hw; q++) {
        mask[at + q] = dropout_unit_kept(row, c * hw + q, p) ? scale : 0.0f;
        act[at + q] *= mask[at + q];
      }
    }
  }
}

/* Wide layers are BLAS calls, narrow ones the dispatched kernels. */
static const float *forward(const sml_model *m, const float *params, const float *x, int64_t B, const sml_dropout *drop,
                            sml_workspace *ws) {
  SML_ASSERT(B <= ws->max_batch);
  if (m->nops > 0) return sml_net_forward(m, params, x, B, drop, ws);
  const float *in = x;
  for (int l = 0; l < m->nlayers; l++) {
    const sml_param_entry *w = &m->param[2 * l], *b = &m->param[2 * l + 1];
    float *out = ws->act[l + 1];
    sml_affine_forward(out, in, params + w->offset, params + b->offset, B, m->width[l], m->width[l + 1]);
    if (l + 1 < m->nlayers) {
      sml_relu_forward(out, out, B * m->width[l + 1]);
      if (drop && drop->p > 0)
        sml_dropout_forward(drop, drop->p, l + 1, out, ws->mask[l + 1], B, 1, m->width[l + 1], 0);
    }
    in = out;
  }
  return ws->act[m->nlayers];
}

const float *sml_model_forward(const sml_model *m, const float *params, const float *x, int64_t B, sml_workspace *ws) {
  return forward(m, params, x, B, NULL, ws);
}

/* The data loss of scores; dscores (per-sample gradient) into ws->grad_a. */
static double scores_loss(const sml_model *m, const float *scores, const uint8_t *labels, int64_t B,
                          sml_workspace *ws) {
  const int64_t C = m->width[m->nlayers];
  return m->loss == SML_LOSS_SOFTMAX ? sml_softmax_loss(ws->grad_a, scores, labels, B, C)
                                     : sml_svm_loss(ws->grad_a, scores, labels, B, C, m->svm_margin);
}

double sml_net_loss(const sml_model *m, const uint8_t *labels, int64_t B, sml_workspace *ws) {
  return scores_loss(m, ws->act[m->nops], labels, B, ws);
}

double sml_model_loss(const sml_model *m, const float *scores, const uint8_t *labels, int64_t B, sml_workspace *ws) {
  return B > 0 ? scores_loss(m, scores, labels, B, ws) : 0.0;
}

/* The weight gradient of layer l (w: its entry), in row blocks cut at the
 * hook's offsets inside it, last rows first, each handed on when done. */
static void weight_grad_blocks(const sml_model *m, int l, float *grad, const float *dout, const float *in, int64_t B,
                               const sml_grad_hook *hook) {
  const sml_param_entry *w = &m->param[2 * l];
  const int64_t Din = m->width[l], Dout = m->width[l + 1];
  int64_t hi = Dout;
  for (int k = hook ? hook->ncuts - 1 : -1; k >= 0; k--) {
    const int64_t row = (hook->cuts[k] - w->offset) / Din;
    if (hook->cuts[k] <= w->offset || row >= hi) continue; /* below this matrix, or in the block done */
    sml_affine_weight_grad_rows(grad + w->offset, dout, in, B, Din, Dout, row, hi);
    hook->ready(hook->ctx, w->offset + row * Din);
    hi = row;
  }
  sml_affine_weight_grad_rows(grad + w->offset, dout, in, B, Din, Dout, 0, hi);
  if (hook) hook->ready(hook->ctx, w->offset);
}

double sml_model_loss_grad_hooked(const sml_model *m, const float *params, float *grad, const float *x,
                                  const uint8_t *labels, int64_t B, const sml_dropout *drop, sml_workspace *ws,
                                  const sml_grad_hook *hook) {
  /* A network's pass runs even without samples here: its batch
   * normalizations agree their sums with every rank. */
  if (B == 0 && m->nops == 0) return 0.0;
  const float *scores = forward(m, params, x, B, drop, ws);
  const double loss = scores_loss(m, scores, labels, B, ws);
  if (m->nops > 0) {
    sml_net_backward(m, params, grad, x, B, drop, ws, hook);
    return loss;
  }
  float *dout = ws->grad_a, *dnext = ws->grad_b;
  for (int l = m->nlayers - 1; l >= 0; l--) {
    const sml_param_entry *w = &m->param[2 * l], *b = &m->param[2 * l + 1];
    const float *in = l == 0 ? x : ws->act[l];
    const int64_t Din = m->width[l], Dout = m->width[l + 1];
    /* In the order of the flat buffer, from its end: the bias (after the
     * weights), then the weights' rows from the last. */
    sml_affine_bias_grad(grad + b->offset, dout, B, Dout);
    if (hook) hook->ready(hook->ctx, b->offset);
    weight_grad_blocks(m, l, grad, dout, in, B, hook);
    if (l > 0) {
      sml_affine_input_grad(dnext, dout, params + w->offset, B, Din, Dout);
      const int64_t n = B * Din;
      if (drop && drop->p > 0) /* through the dropout scales, then the ReLU */
        for (int64_t i = 0; i < n; i++) dnext[i] *= ws->mask[l][i];
      sml_relu_backward(dnext, dnext, ws->act[l], n);
      float *t = dout;
      dout = dnext;
      dnext = t;
    }
  }
  return loss;
}

double sml_model_loss_grad(const sml_model *m, const float *params, float *grad, const float *x, const uint8_t *labels,
                           int64_t B, const sml_dropout *drop, sml_workspace *ws) {
  return sml_model_loss_grad_hooked(m, params, grad, x, labels, B, drop, ws, NULL);
}

double sml_model_regularize(const sml_model *m, const float *params, float *grad, double reg) {
  double sumsq = 0.0;
  for (int p = 0; p < m->nparams; p++) {
    const sml_param_entry *e = &m->param[p];
    if (!e->regularized) continue;
    const float *w = params + e->offset;
    float *g = grad ? grad + e->offset : NULL;
    const float twice = (float)(2.0 * reg);
    double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (e->size >= (1 << 16))
    for (int64_t i = 0; i < e->size; i++) {
      s += (double)w[i] * w[i];
      if (g) g[i] += twice * w[i];
    }
    sumsq += s;
  }
  return reg * sumsq;
}

int sml_argmax(const float *scores, int64_t C) {
  int best = 0;
  for (int64_t j = 1; j < C; j++)
    if (scores[j] > scores[best]) best = (int)j;
  return best;
}

int64_t sml_count_correct(const float *scores, const uint8_t *labels, int64_t B, int64_t C) {
  int64_t correct = 0;
  for (int64_t i = 0; i < B; i++) correct += sml_argmax(scores + i * C, C) == labels[i];
  return correct;
}
