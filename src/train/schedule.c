/* The learning-rate schedule. */
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
