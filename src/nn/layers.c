/* Affine and ReLU layers, softmax and SVM losses. Wide matrix products are
 * BLAS calls; narrow layers (a linear classifier's 10 classes, an MLP's
 * output layer) and the per-sample loops are the dispatched kernels of
 * kernels/kernels.h, compiled for the CPU's instruction-set level. */
#include "nn/layers.h"

#include <cblas.h>
#include <string.h>

#include "kernels/kernels.h"

void sml_affine_forward(float *out, const float *in, const float *w, const float *b, int64_t B, int64_t Din,
                        int64_t Dout) {
  const sml_kernels *k = sml_kernels_active();
  if (Dout <= k->narrow_max_out) {
    k->narrow_forward(out, in, w, b, B, Din, Dout);
    return;
  }
  /* out[B,Dout] = b (broadcast), then += in[B,Din] . w[Dout,Din]^T */
  for (int64_t i = 0; i < B; i++) memcpy(out + i * Dout, b, (size_t)Dout * sizeof *out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)Dout, (int)Din, 1.0f, in, (int)Din, w, (int)Din,
              1.0f, out, (int)Dout);
}

void sml_affine_bias_grad(float *db, const float *dout, int64_t B, int64_t Dout) {
  for (int64_t i = 0; i < B; i++) {
    const float *row = dout + i * Dout;
    for (int64_t j = 0; j < Dout; j++) db[j] += row[j];
  }
}

void sml_affine_weight_grad_rows(float *dw, const float *dout, const float *in, int64_t B, int64_t Din, int64_t Dout,
                                 int64_t r0, int64_t r1) {
  const sml_kernels *k = sml_kernels_active();
  if (Dout <= k->narrow_max_out && r0 == 0 && r1 == Dout) {
    k->narrow_weight_grad(dw, dout, in, B, Din, Dout);
    return;
  }
  /* dw[r0:r1, Din] += dout[B, r0:r1]^T . in[B, Din] */
  if (r1 > r0)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(r1 - r0), (int)Din, (int)B, 1.0f, dout + r0, (int)Dout,
                in, (int)Din, 1.0f, dw + r0 * Din, (int)Din);
}

void sml_affine_input_grad(float *din, const float *dout, const float *w, int64_t B, int64_t Din, int64_t Dout) {
  const sml_kernels *k = sml_kernels_active();
  /* din[B,Din] = dout[B,Dout] . w[Dout,Din] */
  if (Dout <= k->narrow_max_out) k->narrow_input_grad(din, dout, w, B, Din, Dout);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)Din, (int)Dout, 1.0f, dout, (int)Dout, w,
                (int)Din, 0.0f, din, (int)Din);
}

void sml_affine_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                         int64_t B, int64_t Din, int64_t Dout) {
  sml_affine_weight_grad_rows(dw, dout, in, B, Din, Dout, 0, Dout);
  sml_affine_bias_grad(db, dout, B, Dout);
  if (din) sml_affine_input_grad(din, dout, w, B, Din, Dout);
}

void sml_relu_forward(float *out, const float *in, int64_t n) { sml_kernels_active()->relu_forward(out, in, n); }

void sml_relu_backward(float *din, const float *dout, const float *out, int64_t n) {
  sml_kernels_active()->relu_backward(din, dout, out, n);
}

double sml_softmax_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C) {
  return sml_kernels_active()->softmax_loss(dscores, scores, labels, B, C);
}

double sml_svm_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C, float margin) {
  return sml_kernels_active()->svm_loss(dscores, scores, labels, B, C, margin);
}
