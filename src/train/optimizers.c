/* The optimizers and their registry (see shardml/optimizer.h). Each update
 * is one fused pass over a piece of a tensor: read the gradient, the state
 * and the weights once, write the state and the weights once, and sum the
 * squares of the weights on the way (the L2 term of the loss). The driver
 * cuts tensors into pieces of a fixed size and sums the pieces' squares in
 * order, so the loss it reports does not depend on the thread count. */
#include "shardml/optimizer.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/kernels.h"

/* Below this many parameters the calling thread updates them alone (a
 * parallel region costs more than the work). */
#define PAR_MIN (1 << 16)
/* The pieces threads share out; fixed, so that the sums do not depend on
 * how many threads there are. */
#define PIECE (1 << 14)

/* Momentum, in CS231n's form: v = mu v - lr g, then plain SGD steps along
 * the velocity (w += v) and Nesterov's looks ahead along it
 * (w += -mu v_prev + (1 + mu) v). */
static inline double momentum_core(float *w, float *const *state, const float *g_sum, float inv, int64_t n,
                                   const sml_opt_step *s, int nesterov) {
  float *v = state[0];
  const float mu = (float)s->h->momentum, lr = s->lr, l2 = s->l2;
  double sumsq = 0.0;
#pragma omp simd reduction(+ : sumsq)
  for (int64_t i = 0; i < n; i++) {
    sumsq += (double)w[i] * w[i];
    const float prev = v[i];
    v[i] = mu * v[i] - lr * (g_sum[i] * inv + l2 * w[i]);
    w[i] += nesterov ? -mu * prev + (1.0f + mu) * v[i] : v[i];
  }
  return sumsq;
}

static double sgd_update(float *w, float *const *state, const float *g_sum, float inv, int64_t n,
                         const sml_opt_step *s) {
  return momentum_core(w, state, g_sum, inv, n, s, 0);
}

static double nesterov_update(float *w, float *const *state, const float *g_sum, float inv, int64_t n,
                              const sml_opt_step *s) {
  return momentum_core(w, state, g_sum, inv, n, s, 1);
}

/* Adam (Kingma & Ba) with bias correction, as torch.optim.Adam; the
 * weights first shrink by the factor `shrink` (1 for Adam; 1 - lr wd for
 * AdamW's decoupled decay, as torch.optim.AdamW). */
static inline double adam_core(float *w, float *const *state, const float *g_sum, float inv, int64_t n,
                               const sml_opt_step *s, float shrink) {
  float *m = state[0], *v = state[1];
  const float b1 = (float)s->h->beta1, b2 = (float)s->h->beta2, eps = (float)s->h->eps, l2 = s->l2;
  const float step = (float)(s->lr / s->correction1), root_c2 = (float)sqrt(s->correction2);
  double sumsq = 0.0;
#pragma omp simd reduction(+ : sumsq)
  for (int64_t i = 0; i < n; i++) {
    sumsq += (double)w[i] * w[i];
    const float g = g_sum[i] * inv + l2 * w[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    w[i] = w[i] * shrink - step * m[i] / (sqrtf(v[i]) / root_c2 + eps);
  }
  return sumsq;
}

static double adam_update(float *w, float *const *state, const float *g_sum, float inv, int64_t n,
                          const sml_opt_step *s) {
  return adam_core(w, state, g_sum, inv, n, s, 1.0f);
}

static double adamw_update(float *w, float *const *state, const float *g_sum, float inv, int64_t n,
                           const sml_opt_step *s) {
  return adam_core(w, state, g_sum, inv, n, s, 1.0f - s->lr * s->decay);
}

/* RMSProp, as torch.optim.RMSprop (no momentum, not centred): a running
 * average of squared gradients (decay beta2, torch's alpha) scales each
 * step, w -= lr g / (sqrt(v) + eps). */
static double rmsprop_update(float *w, float *const *state, const float *g_sum, float inv, int64_t n,
                             const sml_opt_step *s) {
  float *v = state[0];
  const float a = (float)s->h->beta2, eps = (float)s->h->eps, lr = s->lr, l2 = s->l2;
  double sumsq = 0.0;
#pragma omp simd reduction(+ : sumsq)
  for (int64_t i = 0; i < n; i++) {
    sumsq += (double)w[i] * w[i];
    const float g = g_sum[i] * inv + l2 * w[i];
    v[i] = a * v[i] + (1.0f - a) * g * g;
    w[i] -= lr * g / (sqrtf(v[i]) + eps);
  }
  return sumsq;
}

/* The registry: users choose an optimizer by these names. */
static const sml_optimizer optimizers[] = {
    {"sgd", "SGD with momentum mu: v = mu v - lr g; w += v", 0, 1, {"velocity"}, sgd_update},
    {"nesterov", "Nesterov momentum mu: w += -mu v_prev + (1 + mu) v", 0, 1, {"velocity"}, nesterov_update},
    {"adam",
     "Adam with bias correction (beta1, beta2, epsilon), as torch.optim.Adam",
     1e-3,
     2,
     {"m", "v"},
     adam_update},
    {"adamw", "Adam with decoupled weight decay, as torch.optim.AdamW", 1e-3, 2, {"m", "v"}, adamw_update},
    {"rmsprop", "RMSProp (beta2 as its decay, epsilon), as torch.optim.RMSprop", 1e-3, 1, {"v"}, rmsprop_update},
};
#define NOPTIMIZERS (sizeof optimizers / sizeof optimizers[0])

const sml_optimizer *sml_optimizer_find(const char *name) {
  for (size_t i = 0; i < NOPTIMIZERS; i++)
    if (strcasecmp(name, optimizers[i].name) == 0) return &optimizers[i];
  return NULL;
}

int sml_optimizer_count(void) { return (int)NOPTIMIZERS; }

const sml_optimizer *sml_optimizer_at(int i) { return i >= 0 && i < (int)NOPTIMIZERS ? &optimizers[i] : NULL; }

const char *sml_optimizer_names(void) {
  static char names[256];
  if (!names[0])
    for (size_t i = 0, used = 0; i < NOPTIMIZERS && used < sizeof names; i++)
      used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", optimizers[i].name);
  return names;
}

double sml_optimizer_step(const sml_optimizer *o, const sml_model *m, float *params, float *const *state,
                          const sml_grad_sum *grad, double count, double lr, double reg, int64_t step,
                          const sml_opt_hyper *h) {
  const float inv = (float)(1.0 / count);
  const sml_opt_step common = {.lr = (float)lr,
                               .correction1 = 1.0 - pow(h->beta1, (double)step),
                               .correction2 = 1.0 - pow(h->beta2, (double)step),
                               .h = h};
  /* Pieces of at most PIECE parameters, each within one tensor. */
  int64_t npieces = 0;
  for (int p = 0; p < m->nparams; p++) npieces += (m->param[p].size + PIECE - 1) / PIECE;
  int64_t *first = SML_ALLOC((size_t)npieces * sizeof *first);
  int *tensor = SML_ALLOC((size_t)npieces * sizeof *tensor);
  double *sumsq = SML_ALLOC((size_t)npieces * sizeof *sumsq);
  for (int p = 0, k = 0; p < m->nparams; p++)
    for (int64_t i = 0; i < m->param[p].size; i += PIECE, k++) {
      first[k] = m->param[p].offset + i;
      tensor[k] = p;
    }
  /* Fixed-point sums or micro-batch rows become floats here, a piece per
   * thread, in cache. */
  float *converted = grad->floats ? NULL : SML_ALLOC((size_t)omp_get_max_threads() * PIECE * sizeof *converted);
  const sml_kernels *kern = sml_kernels_active();
#pragma omp parallel for schedule(static) if (m->nweights >= PAR_MIN)
  for (int64_t k = 0; k < npieces; k++) {
    const sml_param_entry *e = &m->param[tensor[k]];
    const int64_t end = e->offset + e->size, n = end - first[k] < PIECE ? end - first[k] : PIECE;
    const float *g_sum = grad->floats ? grad->floats + first[k] : NULL;
    if (!g_sum) {
      float *mine = converted + (int64_t)omp_get_thread_num() * PIECE;
      if (grad->fixed) kern->fixed_to_float(mine, grad->fixed + first[k], n, grad->unscale[tensor[k]]);
      else kern->ordered_sum_rows(mine, grad->rows + first[k], grad->stride, grad->nrows, n);
      g_sum = mine;
    }
    sml_opt_step s = common;
    s.l2 = e->regularized ? (float)(2.0 * reg) : 0.0f;
    s.decay = e->regularized ? (float)h->weight_decay : 0.0f;
    float *piece_state[SML_OPT_MAX_STATE];
    for (int j = 0; j < o->nstate; j++) piece_state[j] = state[j] + first[k];
    sumsq[k] = o->update(params + first[k], piece_state, g_sum, inv, n, &s);
  }
  double total = 0.0;
  for (int64_t k = 0; k < npieces; k++)
    if (m->param[tensor[k]].regularized) total += sumsq[k];
  free(converted);
  free(first);
  free(tensor);
  free(sumsq);
  return reg * total;
}
