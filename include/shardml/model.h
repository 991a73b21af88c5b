/* src/nn/: models: layers as forward/backward pairs over one parameter buffer. */
/* Parametric models: a stack of affine layers with ReLU between them and a
 * loss on top. A linear classifier (softmax or SVM) is the stack with no
 * hidden layer; an MLP has one or more. All parameters live in one
 * contiguous float buffer described by a table of (name, shape, offset);
 * gradients and optimizer state use the same layout, so one allreduce, one
 * update loop and one checkpoint write cover the whole model. */
#ifndef SHARDML_MODEL_H
#define SHARDML_MODEL_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/error.h"

SHARDML_BEGIN_DECLS

#define SML_MAX_LAYERS 12

typedef enum { SML_LOSS_SOFTMAX, SML_LOSS_SVM } sml_loss_kind;

typedef struct {
  char name[16]; /* "W0", "b0", "W1", ... */
  int ndim;      /* 2 for weights [out, in], 1 for biases [out] */
  int64_t shape[2];
  int64_t offset; /* in floats, into the flat buffer */
  int64_t size;
  int regularized; /* weights get L2 regularisation, biases do not */
  float fill;      /* the start value of an entry that is not drawn (regularized ones are) */
  /* 1 for a batch normalization's running statistics: no gradient (it
   * stays zero, so every optimizer leaves them as they are); the training
   * step moves them towards each batch's statistics instead. */
  int running;
} sml_param_entry;

/* The layers of a network given as a spec (model kind "cnn", see
 * sml_model_init_net): each takes c x h x w values per sample (NCHW) and
 * gives oc x oh x ow, followed by a ReLU when relu is set. Dropout keeps
 * the shape: it drops values while training and passes them on unchanged
 * otherwise. */
typedef enum { SML_OP_FC, SML_OP_CONV, SML_OP_MAXPOOL, SML_OP_AVGPOOL, SML_OP_DROPOUT, SML_OP_BATCHNORM } sml_op_kind;
typedef struct {
  sml_op_kind kind;
  int relu;
  int c, h, w;        /* input */
  int oc, oh, ow;     /* output */
  int k, stride, pad; /* conv: kernel k x k; pooling: window and stride k */
  int param;          /* its weights' entry in param[] (its bias the next), -1: none; batch
                         normalization: gamma, beta, running mean, running variance */
  double drop;        /* dropout: the probability of dropping a value */
} sml_op;
#define SML_NET_LEN 192

typedef struct {
  char kind[16]; /* "softmax", "svm", "mlp" or "cnn" */
  sml_loss_kind loss;
  float svm_margin;
  int nlayers;                       /* affine layers */
  int64_t width[SML_MAX_LAYERS + 1]; /* width[0] = D inputs ... width[nlayers] = C classes */
  int nparams;
  sml_param_entry param[4 * SML_MAX_LAYERS];
  int64_t nweights; /* floats in the flat buffer */
  /* kind "cnn": the spec it was built from and its layers (nlayers of
   * them; width[l + 1] is layer l's output size per sample) */
  char net[SML_NET_LEN];
  int nops;
  sml_op op[SML_MAX_LAYERS];
} sml_model;

/* kind: "softmax", "svm" (no hidden layers allowed) or "mlp" (hidden widths
 * required). */
SHARDML_API int sml_model_init(sml_model *m, const char *kind, int64_t input_dim, int num_classes,
                               const int64_t *hidden, int nhidden, sml_err *err);
/* A network from a spec, for images of height x width x channels and
 * num_classes classes: layers joined by commas, each one of
 *   conv<F>x<K>[s<S>][p<P>]  F filters of K x K, stride S (1), zero padding P ((K-1)/2)
 *   pool<K>, avgpool<K>       max or average pooling over K x K windows, stride K
 *   fc<N>                     fully connected, N outputs (the input flattened)
 *   relu                      a ReLU after the layer before it
 *   dropout<P>                inverted dropout with probability P (0 < P < 1), while training
 *   bn                        batch normalization per channel: while training over the
 *                             global batch (every rank's samples), otherwise with the
 *                             running averages (momentum 0.1, epsilon 1e-5, as PyTorch)
 * ending with fc<num_classes>, at most SML_MAX_LAYERS layers (a ReLU is
 * part of its layer): "conv32x3,relu,pool2,conv64x3,relu,pool2,fc128,relu,fc10".
 * Softmax cross-entropy on top. Errors name the element and what is wrong
 * (quantity "network"). */
SHARDML_API int sml_model_init_net(sml_model *m, const char *net, int height, int width, int channels, int num_classes,
                                   sml_err *err);
/* Seeded initialisation (call on rank 0, then broadcast): weights
 * N(0, std^2) with std = weight_scale, or He (sqrt(2/fan_in)) when
 * weight_scale <= 0; biases 0. */
SHARDML_API void sml_model_init_params(const sml_model *m, float *params, uint64_t seed, double weight_scale);

/* Scratch buffers for a batch of up to max_batch samples. */
typedef struct {
  int64_t max_batch;
  float *act[SML_MAX_LAYERS + 1];  /* act[l]: [B, width[l]]; act[0] unused (input is external) */
  float *mask[SML_MAX_LAYERS + 1]; /* mask[l]: [B, width[l]] dropout scales of hidden layer l (of
                                      a network: of the dropout layer whose output is act[l]) */
  float *grad_a, *grad_b;          /* [B, max width], ping-pong for backward */
  /* networks (kind "cnn"): per convolution its unfolded input col[l]
   * for backward (unfolded by forward, or for a Winograd layer by
   * backward itself; NULL for a thin layer, which unfolds a few images at
   * a time in conv_scratch), per max pooling its argmax[l];
   * relaid[l]: layer l's input in the order it reads (planar [C, B, H, W]
   * for convolutions and pooling, rows [B, C*H*W] for fully connected
   * layers) where the layer below left the other; shared scratch
   * conv_scratch [conv_scratch_floats] (nn/layers.h) and tmp; xin: the
   * input as the first layer reads it when it has several channels
   * (images arrive HWC) */
  float *col[SML_MAX_LAYERS];
  int32_t *argmax[SML_MAX_LAYERS];
  float *relaid[SML_MAX_LAYERS];
  float *conv_scratch, *tmp, *xin;
  int64_t conv_scratch_floats;
  /* per batch normalization l: xhat[l] [B, c*h*w] its normalized input,
   * bn[l] [5c + 2] doubles: the sums a training pass agrees on (forward:
   * per channel sum of x, of x^2, then the sample count; backward: per
   * channel sum of dy, of dy * xhat), then the batch's mean, 1/std and
   * biased variance per channel and its sample count (nn/net.h) */
  float *xhat[SML_MAX_LAYERS];
  double *bn[SML_MAX_LAYERS];
  /* How a training pass agrees on those sums across ranks: sum(ctx, v, n)
   * replaces v[n] by its sum over every rank (collective); NULL: this
   * batch is the whole batch. */
  void (*sum)(const void *ctx, double *v, int64_t n);
  const void *sum_ctx;
} sml_workspace;

/* Inverted dropout on the hidden layers for one training step: each hidden
 * unit is zeroed with probability p and the others scaled by 1 / (1 - p)
 * (a network's dropout layers use their own probability instead of p; for
 * them, drop not NULL is what says the pass is training).
 * Whether unit j of layer l is kept for sample `id` at step `step` is a
 * hash of (seed, step, id, l, j) (sml_dropout_keep), so the masks do not
 * depend on ranks, threads or the order samples are processed in. */
typedef struct {
  double p;
  uint64_t seed;
  int64_t step;       /* the global step (0-based) */
  const int64_t *ids; /* [B] the samples' global indices */
} sml_dropout;
/* 1 if unit `unit` of hidden layer `layer` of sample `id` is kept. */
SHARDML_API int sml_dropout_keep(const sml_dropout *d, int64_t id, int layer, int64_t unit);
SHARDML_API void sml_workspace_init(sml_workspace *ws, const sml_model *m, int64_t max_batch);
SHARDML_API void sml_workspace_free(sml_workspace *ws);

/* Forward pass for evaluation: returns scores [B, C] (inside ws). A row's
 * bits may depend on B, its place in the batch and the threads (BLAS);
 * sml_images_scores calls it on fixed blocks so that they do not. */
SHARDML_API const float *sml_model_forward(const sml_model *m, const float *params, const float *x, int64_t B,
                                           sml_workspace *ws);
/* Forward + loss + backward: returns the SUM of per-sample data losses and
 * ACCUMULATES the summed data-loss gradient into grad (no regularisation, no
 * division by B: the trainer does both after the allreduce). With drop (not
 * NULL, p > 0) the hidden layers are dropped out as it says. */
SHARDML_API double sml_model_loss_grad(const sml_model *m, const float *params, float *grad, const float *x,
                                       const uint8_t *labels, int64_t B, const sml_dropout *drop, sml_workspace *ws);
/* Told by the backward pass as gradients become final, which happens from
 * the end of the flat buffer down: after ready(ctx, from), grad[from,
 * nweights) will not change again in this pass. A weight matrix holding
 * one of the cuts (offsets, ascending) is produced in row blocks that start
 * at or below each cut, so that a reduction of the part above it can begin
 * while the rest is computed. */
typedef struct {
  void (*ready)(void *ctx, int64_t from);
  void *ctx;
  const int64_t *cuts;
  int ncuts;
} sml_grad_hook;
/* sml_model_loss_grad, telling hook (NULL: nobody) as it goes. The same
 * sums, but a weight gradient cut into row blocks is several matrix
 * products, whose rounding may differ in the last bits. */
SHARDML_API double sml_model_loss_grad_hooked(const sml_model *m, const float *params, float *grad, const float *x,
                                              const uint8_t *labels, int64_t B, const sml_dropout *drop,
                                              sml_workspace *ws, const sml_grad_hook *hook);
/* The SUM of per-sample data losses of scores[B, C] (no gradient kept). */
SHARDML_API double sml_model_loss(const sml_model *m, const float *scores, const uint8_t *labels, int64_t B,
                                  sml_workspace *ws);
/* reg * sum of squared regularised weights; adds 2*reg*W to grad if not NULL. */
SHARDML_API double sml_model_regularize(const sml_model *m, const float *params, float *grad, double reg);
/* Index of the largest score (the first of equal ones). */
SHARDML_API int sml_argmax(const float *scores, int64_t C);
/* Number of correct argmax predictions in a batch. */
SHARDML_API int64_t sml_count_correct(const float *scores, const uint8_t *labels, int64_t B, int64_t C);

SHARDML_END_DECLS

#endif
