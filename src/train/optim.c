/* SGD with momentum and the learning-rate schedule. */
#include <math.h>

#include "shardml/train.h"

#define SML_PI 3.14159265358979323846

double sml_lr_at(const sml_train_config *cfg, int64_t epoch, double epoch_fraction) {
  double lr = cfg->lr;
  if (cfg->lr_scaling && cfg->base_batch > 0) lr *= (double)cfg->batch / (double)cfg->base_batch;
  double t = (double)epoch + epoch_fraction; /* epochs done so far */
  if (cfg->schedule == SML_SCHEDULE_COSINE) {
    lr *= 0.5 * (1.0 + cos(SML_PI * t / (double)cfg->epochs));
  } else if (cfg->lr_decay != 1.0) {
    lr *= pow(cfg->lr_decay, (double)(epoch / (cfg->lr_step > 0 ? cfg->lr_step : 1)));
  }
  if (cfg->warmup_epochs > 0 && t < cfg->warmup_epochs) lr *= t / cfg->warmup_epochs;
  return lr;
}

double sml_sgd_step(const sml_model *m, float *params, float *velocity, const float *grad_sum,
                    double count, double reg, double lr, double momentum) {
  const float inv = (float)(1.0 / count), mu = (float)momentum, eta = (float)lr;
  double sumsq = 0.0;
  for (int p = 0; p < m->nparams; p++) {
    const sml_param_entry *e = &m->param[p];
    float *w = params + e->offset, *v = velocity + e->offset;
    const float *g = grad_sum + e->offset;
    const float twice = e->regularized ? (float)(2.0 * reg) : 0.0f;
    double s = 0.0;
#pragma omp parallel for simd reduction(+ : s) schedule(static) if (e->size >= (1 << 16))
    for (int64_t i = 0; i < e->size; i++) {
      s += (double)w[i] * w[i];
      v[i] = mu * v[i] - eta * (g[i] * inv + twice * w[i]);
      w[i] += v[i];
    }
    if (e->regularized) sumsq += s;
  }
  return reg * sumsq;
}
