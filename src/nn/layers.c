/* Affine and ReLU layers, softmax and SVM losses. Matrix products are BLAS
 * calls; per-sample loops are OpenMP over rows. */
#include "shardml/layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void sml_affine_forward(float *out, const float *in, const float *w, const float *b, int64_t B,
                        int64_t Din, int64_t Dout) {
  /* out[B,Dout] = b (broadcast), then += in[B,Din] . w[Dout,Din]^T */
  for (int64_t i = 0; i < B; i++) memcpy(out + i * Dout, b, (size_t)Dout * sizeof *out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)Dout, (int)Din, 1.0f, in,
              (int)Din, w, (int)Din, 1.0f, out, (int)Dout);
}

void sml_affine_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int64_t B, int64_t Din, int64_t Dout) {
  /* dw[Dout,Din] += dout[B,Dout]^T . in[B,Din] */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Dout, (int)Din, (int)B, 1.0f, dout,
              (int)Dout, in, (int)Din, 1.0f, dw, (int)Din);
  /* db[Dout] += column sums of dout */
  for (int64_t i = 0; i < B; i++) {
    const float *row = dout + i * Dout;
    for (int64_t j = 0; j < Dout; j++) db[j] += row[j];
  }
  /* din[B,Din] = dout[B,Dout] . w[Dout,Din] */
  if (din)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)Din, (int)Dout, 1.0f, dout,
                (int)Dout, w, (int)Din, 0.0f, din, (int)Din);
}

void sml_relu_forward(float *out, const float *in, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void sml_relu_backward(float *din, const float *dout, const float *out, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

double sml_softmax_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B,
                        int64_t C) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t i = 0; i < B; i++) {
    const float *s = scores + i * C;
    float *d = dscores + i * C;
    float mx = s[0];
    for (int64_t j = 1; j < C; j++) mx = s[j] > mx ? s[j] : mx;
    double sum = 0.0;
    for (int64_t j = 0; j < C; j++) {
      d[j] = expf(s[j] - mx);
      sum += d[j];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < C; j++) d[j] *= inv;
    total += log(sum) - (double)(s[labels[i]] - mx);
    d[labels[i]] -= 1.0f;
  }
  return total;
}

double sml_svm_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B,
                    int64_t C, float margin) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t i = 0; i < B; i++) {
    const float *s = scores + i * C;
    float *d = dscores + i * C;
    const int64_t y = labels[i];
    int64_t violations = 0;
    for (int64_t j = 0; j < C; j++) {
      float m = s[j] - s[y] + margin;
      if (j != y && m > 0.0f) {
        total += m;
        d[j] = 1.0f;
        violations++;
      } else {
        d[j] = 0.0f;
      }
    }
    d[y] = -(float)violations;
  }
  return total;
}
