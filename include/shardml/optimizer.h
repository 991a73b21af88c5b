/* Optimizers: one update function each, plus a table of named state
 * buffers (each laid out like the parameters) that the trainer allocates,
 * broadcasts and keeps, and that checkpoints write, checksum, verify and
 * reload generically as /optimizer/<state name>/<tensor>. Adding one means
 * writing its update in src/train/optimizers.c and registering it in the
 * table there; nothing else in shardml names a particular optimizer. */
#ifndef SHARDML_OPTIMIZER_H
#define SHARDML_OPTIMIZER_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/model.h"

SHARDML_BEGIN_DECLS

#define SML_OPT_MAX_STATE 2

/* The hyperparameters every optimizer may read (each reads its own). */
typedef struct {
  double momentum;     /* sgd, nesterov */
  double beta1, beta2; /* adam(w): moment decays; rmsprop: beta2 is the square average's decay */
  double eps;          /* adam(w), rmsprop: added to the root of the second moment */
  double weight_decay; /* adamw: decoupled decay of the weights, w -= lr wd w (biases excluded) */
} sml_opt_hyper;

/* One step's arguments for one tensor. */
typedef struct {
  float lr;           /* the rate for this step (schedule applied) */
  float l2;           /* 2 reg for weights, 0 for biases: added to the gradient (coupled L2) */
  float decay;        /* weight_decay for weights, 0 for biases (decoupled; adamw uses it) */
  double correction1; /* 1 - beta1^t and 1 - beta2^t at this step t (1-based): bias corrections */
  double correction2;
  const sml_opt_hyper *h;
} sml_opt_step;

typedef struct {
  const char *name;    /* its name, as users choose it */
  const char *summary; /* one line for help texts and the documentation */
  double default_lr;   /* 0: the SGD rates per model (train.h) */
  int nstate;          /* state buffers, zero at the start */
  const char *state_names[SML_OPT_MAX_STATE];
  /* Updates n parameters w (a piece of one tensor; the driver shares the
   * pieces among threads) from the summed gradient g_sum (scaled by
   * inv_count to the mean) and the state buffers, in place. Returns the sum
   * of w^2 before the step (for the L2 term of the loss). One pass, so the
   * update costs one read and write of each buffer. Single-threaded. */
  double (*update)(float *w, float *const *state, const float *g_sum, float inv_count, int64_t n,
                   const sml_opt_step *s);
} sml_optimizer;

/* The registered optimizers, by name (any case); NULL if unknown. */
SHARDML_API const sml_optimizer *sml_optimizer_find(const char *name);
/* ... and by position, 0 <= i < sml_optimizer_count(). */
SHARDML_API int sml_optimizer_count(void);
SHARDML_API const sml_optimizer *sml_optimizer_at(int i);
/* "sgd, nesterov, adam, adamw" for messages and help. */
SHARDML_API const char *sml_optimizer_names(void);

/* The summed gradient a step reads: floats, or one of the reproducible mode's two
 * forms, turned into floats one piece at a time as the update reads them
 * (no float copy of the gradient is written and read back): exact
 * fixed-point sums (base/exact.h) with each tensor's power-of-two
 * unscale, or every micro-batch's gradient, to be added in their order. */
typedef struct {
  const float *floats;   /* [nweights], or NULL: */
  const int64_t *fixed;  /* [nweights], or NULL: */
  const double *unscale; /* [nparams] 2^-q of each tensor */
  const float *rows;     /* [nrows, stride] micro-batch gradients (stride >= nweights) */
  int64_t nrows, stride;
} sml_grad_sum;

/* One step over every tensor of the model: state[k] are the optimizer's
 * buffers, [nweights] each; step is the 1-based update count (for bias
 * corrections). Returns reg * sum of the regularised weights' squares
 * before the step. Identical on every rank given identical inputs. */
SHARDML_API double sml_optimizer_step(const sml_optimizer *o, const sml_model *m, float *params, float *const *state,
                                      const sml_grad_sum *grad, double count, double lr, double reg, int64_t step,
                                      const sml_opt_hyper *h);

SHARDML_END_DECLS

#endif
