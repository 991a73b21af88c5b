/* Layers and losses as forward/backward pairs on raw float buffers.
 * Matrices are row-major; a batch is B rows. Backward functions ACCUMULATE
 * into parameter gradients (so a whole model's gradient can be built in one
 * flat buffer) and OVERWRITE input gradients. */
#ifndef SHARDML_LAYERS_H
#define SHARDML_LAYERS_H

#include <stdint.h>

#include "shardml/model.h"

/* out[B,Dout] = in[B,Din] . w[Dout,Din]^T + b[Dout] */
void sml_affine_forward(float *out, const float *in, const float *w, const float *b, int64_t B, int64_t Din,
                        int64_t Dout);
/* dw[Dout,Din] += dout[B,Dout]^T . in[B,Din];  db[Dout] += sum_b dout[b,:];
 * din[B,Din] = dout . w   (skipped when din is NULL, e.g. for the input layer) */
void sml_affine_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                         int64_t B, int64_t Din, int64_t Dout);

/* sml_affine_backward's three products one by one, for a caller that
 * hands each gradient on as soon as it is final (the overlapped reduction):
 * db += column sums of dout; rows [r0, r1) of dw += dout^T . in (a weight
 * gradient produced in row blocks); din = dout . w. */
void sml_affine_bias_grad(float *db, const float *dout, int64_t B, int64_t Dout);
void sml_affine_weight_grad_rows(float *dw, const float *dout, const float *in, int64_t B, int64_t Din, int64_t Dout,
                                 int64_t r0, int64_t r1);
void sml_affine_input_grad(float *din, const float *dout, const float *w, int64_t B, int64_t Din, int64_t Dout);

/* out[n] = max(in[n], 0); out may alias in. */
void sml_relu_forward(float *out, const float *in, int64_t n);
/* din[n] = dout[n] where out[n] > 0, else 0; din may alias dout. */
void sml_relu_backward(float *din, const float *dout, const float *out, int64_t n);

/* Inverted dropout in place: act[B, C, hw] *= mask (same shape), the mask
 * 1 / (1 - p) for a kept value and 0 for a dropped one, kept as
 * sml_dropout_keep says for (d->ids[b], layer, c*hw + q) with probability
 * p instead of d->p. planar: act and mask are [C, B, hw] instead. Backward
 * is din = dout * mask. */
void sml_dropout_forward(const sml_dropout *d, double p, int layer, float *act, float *mask, int64_t B, int64_t C,
                         int64_t hw, int planar);

/* Convolution: f filters of k x k over c channels, stride and zero
 * padding; an h x w input gives oh = (h + 2 pad - k) / stride + 1 rows
 * (likewise ow). Batches are planar, channel by channel:
 * [c, B, h, w] in, [f, B, oh, ow] out. */
/* How a convolution's products are taken: im2col + one sgemm, Winograd's
 * F(2 x 2, 3 x 3), or thin (few terms per output: a few images unfolded
 * at a time, nn/conv.c); SML_CONV_ALGOS counts them. */
typedef enum { SML_CONV_IM2COL, SML_CONV_WINOGRAD, SML_CONV_THIN, SML_CONV_ALGOS } sml_conv_algo;
typedef struct {
  int c, h, w, f, k, stride, pad, oh, ow;
  sml_conv_algo algo; /* how the products are taken (sml_conv_pick) */
} sml_conv_shape;
/* The faster algorithm for s, as measured (tests/bench/conv.c): thin
 * where each output sums at most 36 terms (c*k*k), else Winograd's where it
 * fits and the input has enough channels. */
sml_conv_algo sml_conv_pick(const sml_conv_shape *s);
/* Whether forward fills col for backward (else col is not read). */
int sml_conv_keeps_col(const sml_conv_shape *s);
/* out[f, B, oh, ow] = conv(in[c, B, h, w], w[f, c*k*k]) + bias[f], through
 * a ReLU when relu is set. col[c*k*k, B*oh*ow]: the unfolded input, kept
 * for backward where sml_conv_keeps_col (im2col's algorithm; Winograd's
 * backward unfolds a few images at a time, as the thin algorithm does
 * both ways; col may then be NULL); scratch: sml_conv_scratch_floats
 * floats, shared with backward (nothing kept). */
void sml_conv_forward(float *out, float *col, const float *in, const float *w, const float *bias, int relu, int64_t B,
                      const sml_conv_shape *s, float *scratch, int64_t scratch_floats);
/* dw[f, c*k*k] += ..., db[f] += ..., from dout[f, B, oh, ow] and the col
 * forward left (or, where forward keeps none, unfolds in, the forward's
 * input, a few images at a time);
 * with relu_out (the forward's output after its ReLU) dout is first passed
 * back through the ReLU, in place (the thin algorithm without din applies
 * it as it reads, and leaves dout as it was). din[c, B, h, w] overwritten
 * (skipped when NULL). */
void sml_conv_backward(float *din, float *dw, float *db, float *dout, const float *relu_out, float *col,
                       const float *in, const float *w, int64_t B, const sml_conv_shape *s, float *scratch,
                       int64_t scratch_floats);
/* The scratch a convolution of a batch of B needs on the threads
 * omp_get_max_threads() says (fewer threads work with it too). */
int64_t sml_conv_scratch_floats(int64_t B, const sml_conv_shape *s);

/* 3 x 3 convolutions of stride 1 and padding up to 2 by Winograd's
 * F(2 x 2, 3 x 3) (nn/winograd.c), for sml_conv_forward and _backward:
 * out = conv(in) + bias (NULL: none), through a ReLU when relu is set;
 * din = the input gradient from dout; dw += the weight gradient from dout
 * and in. Scratch: at least sml_winograd_scratch_floats(B, s, 1) floats;
 * each thread needs its share. */
/* The threads that run a convolution's chunks of images (Winograd's, the
 * thin algorithm's): at most one per chunk and no more than the scratch
 * has room for, one at least (the scratch holds one thread's always). */
int sml_chunk_threads(int64_t chunks, int64_t room);
int sml_winograd_fits(const sml_conv_shape *s);
int64_t sml_winograd_scratch_floats(int64_t B, const sml_conv_shape *s, int nthreads);
void sml_winograd_forward(float *out, const float *in, const float *w, const float *bias, int relu, int64_t B,
                          const sml_conv_shape *s, float *scratch, int64_t scratch_floats);
void sml_winograd_input_grad(float *din, const float *dout, const float *w, int64_t B, const sml_conv_shape *s,
                             float *scratch, int64_t scratch_floats);
void sml_winograd_weight_grad(float *dw, const float *dout, const float *in, int64_t B, const sml_conv_shape *s,
                              float *scratch, int64_t scratch_floats);

/* Pooling over k x k windows with stride k (rows and columns that do not
 * fill a window are dropped), plane by plane, so the B x c planes may come
 * in either order ([B, c, ..] or planar [c, B, ..]): max (argmax, one per
 * output in the same order, records the winner, the first of equal ones,
 * as an index into its input plane) or average (argmax unused). */
typedef struct {
  int c, h, w, k, oh, ow, max;
} sml_pool_shape;
void sml_pool_forward(float *out, int32_t *argmax, const float *in, int64_t B, const sml_pool_shape *s);
/* din[B x c planes of h x w] overwritten from dout (planes of oh x ow).
 * pooled (max pooling only, else NULL): the pooling's output, when its
 * input came out of a ReLU: the gradient then passes only where that is
 * above 0, which is all the ReLU's backward would do after a max pooling
 * (only a window's largest input gets a gradient, and it passed the ReLU
 * exactly when the output is above 0). */
void sml_pool_backward(float *din, const float *dout, const int32_t *argmax, const float *pooled, int64_t B,
                       const sml_pool_shape *s);

/* Batch normalization per channel of x[B, C, hw] (NCHW; a planar batch
 * [C, B, hw] is x[1, C, B*hw], summed in the same order):
 * y = gamma (x - mean) invstd + beta. moments: sums[2C] = per channel
 * sum of x, then of x^2 (double, the same bits for any thread count).
 * forward: xhat[B, C, hw] = (x - mean) invstd kept for backward, y out.
 * dsums: sums[2C] = per channel sum of dy, then of dy * xhat (the
 * gradients of beta and gamma). input_grad: dx = gamma invstd (dy -
 * dsums_dy / count - xhat dsums_dyxhat / count) with the sums over the
 * whole batch of count values per channel (training), or dx = gamma
 * invstd dy when dsums is NULL (fixed statistics). */
void sml_bn_moments(double *sums, const float *x, int64_t B, int C, int64_t hw);
void sml_bn_forward(float *y, float *xhat, const float *x, const float *gamma, const float *beta, const double *mean,
                    const double *invstd, int64_t B, int C, int64_t hw);
void sml_bn_dsums(double *sums, const float *dy, const float *xhat, int64_t B, int C, int64_t hw);
void sml_bn_input_grad(float *dx, const float *dy, const float *xhat, const float *gamma, const double *invstd,
                       const double *dsums, double count, int64_t B, int C, int64_t hw);

/* Losses over a batch: return the SUM of per-sample losses (the trainer
 * divides by the global sample count after the allreduce) and write
 * dscores[B,C] = d(per-sample loss)/d(scores), not averaged.
 * Softmax cross-entropy, computed with scores shifted by their row maximum. */
double sml_softmax_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C);
/* Multiclass hinge: L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin). */
double sml_svm_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C, float margin);

#endif
