/* Affine and ReLU layers, softmax and SVM losses. Matrix products are BLAS
 * calls; per-sample loops are OpenMP over rows. */
#include "shardml/layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* dw[Dout,Din] += dout[B,Dout]^T . in[B,Din] for a narrow layer (a linear
 * classifier's 10 classes). OpenBLAS spends most of such a call packing the
 * B x Din input (measured: 27 GFLOP/s). Here a tile of 16 columns of dw for
 * all Dout rows stays in registers while the batch streams through: one
 * load of in per 16 x Dout multiply-adds. Dout is a compile-time constant in
 * each instance, so the accumulators are registers. */
#define NARROW_TILE 16
typedef float tile_vec __attribute__((vector_size(NARROW_TILE * sizeof(float)), aligned(4)));

static inline __attribute__((always_inline)) void narrow_tile(float *dw, const float *dout, const float *in,
                                                               int64_t B, int64_t Din, int64_t j, const int Dout) {
  tile_vec acc[NARROW_TILE];
  for (int o = 0; o < Dout; o++) acc[o] = *(const tile_vec *)(dw + o * Din + j);
  for (int64_t b = 0; b < B; b++) {
    const tile_vec x = *(const tile_vec *)(in + b * Din + j);
    const float *g = dout + b * Dout;
    for (int o = 0; o < Dout; o++) acc[o] += g[o] * x;
  }
  for (int o = 0; o < Dout; o++) *(tile_vec *)(dw + o * Din + j) = acc[o];
}

#define NARROW_CASE(n) \
  case n: narrow_tile(dw, dout, in, B, Din, j, n); break;

static void narrow_weight_grad(float *dw, const float *dout, const float *in, int64_t B, int64_t Din,
                               int64_t Dout) {
  const int64_t full = Din / NARROW_TILE * NARROW_TILE;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < full; j += NARROW_TILE) {
    switch (Dout) {
      NARROW_CASE(1) NARROW_CASE(2) NARROW_CASE(3) NARROW_CASE(4) NARROW_CASE(5) NARROW_CASE(6)
      NARROW_CASE(7) NARROW_CASE(8) NARROW_CASE(9) NARROW_CASE(10) NARROW_CASE(11) NARROW_CASE(12)
      NARROW_CASE(13) NARROW_CASE(14) NARROW_CASE(15) NARROW_CASE(16)
    }
  }
  for (int64_t b = 0; b < B; b++) /* the last Din % 16 columns */
    for (int64_t o = 0; o < Dout; o++)
      for (int64_t j = full; j < Din; j++) dw[o * Din + j] += dout[b * Dout + o] * in[b * Din + j];
}


/* out[b, :] = b + in[b, :] . w^T for a narrow layer: two samples at a time,
 * each of the Dout weight tiles loaded once for both, 2 x Dout accumulators
 * in registers, reduced across lanes at the end. */
static inline __attribute__((always_inline)) float lane_sum(tile_vec v) {
  float s = 0;
  for (int i = 0; i < NARROW_TILE; i++) s += v[i];
  return s;
}

static inline __attribute__((always_inline)) void narrow_rows(float *out, const float *in, const float *w,
                                                               const float *bias, int64_t b, int64_t nb,
                                                               int64_t Din, const int Dout) {
  tile_vec acc0[NARROW_TILE], acc1[NARROW_TILE];
  const tile_vec zero = {0};
  for (int o = 0; o < Dout; o++) acc0[o] = acc1[o] = zero;
  const float *x0 = in + b * Din, *x1 = in + (b + nb - 1) * Din; /* nb == 1: the same row twice */
  const int64_t full = Din / NARROW_TILE * NARROW_TILE;
  for (int64_t j = 0; j < full; j += NARROW_TILE) {
    const tile_vec a = *(const tile_vec *)(x0 + j), c = *(const tile_vec *)(x1 + j);
    for (int o = 0; o < Dout; o++) {
      const tile_vec wt = *(const tile_vec *)(w + o * Din + j);
      acc0[o] += a * wt;
      acc1[o] += c * wt;
    }
  }
  for (int o = 0; o < Dout; o++) {
    float s0 = bias[o] + lane_sum(acc0[o]), s1 = bias[o] + lane_sum(acc1[o]);
    for (int64_t j = full; j < Din; j++) {
      s0 += x0[j] * w[o * Din + j];
      s1 += x1[j] * w[o * Din + j];
    }
    out[b * Dout + o] = s0;
    if (nb == 2) out[(b + 1) * Dout + o] = s1;
  }
}

#define NARROW_ROWS_CASE(n) \
  case n: narrow_rows(out, in, w, bias, b, nb, Din, n); break;

static void narrow_forward(float *out, const float *in, const float *w, const float *bias, int64_t B, int64_t Din,
                           int64_t Dout) {
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < B; b += 2) {
    const int64_t nb = B - b < 2 ? 1 : 2;
    switch (Dout) {
      NARROW_ROWS_CASE(1) NARROW_ROWS_CASE(2) NARROW_ROWS_CASE(3) NARROW_ROWS_CASE(4) NARROW_ROWS_CASE(5)
      NARROW_ROWS_CASE(6) NARROW_ROWS_CASE(7) NARROW_ROWS_CASE(8) NARROW_ROWS_CASE(9) NARROW_ROWS_CASE(10)
      NARROW_ROWS_CASE(11) NARROW_ROWS_CASE(12) NARROW_ROWS_CASE(13) NARROW_ROWS_CASE(14) NARROW_ROWS_CASE(15)
      NARROW_ROWS_CASE(16)
    }
  }
}

void sml_affine_forward(float *out, const float *in, const float *w, const float *b, int64_t B,
                        int64_t Din, int64_t Dout) {
  if (Dout <= NARROW_TILE) {
    narrow_forward(out, in, w, b, B, Din, Dout);
    return;
  }
  /* out[B,Dout] = b (broadcast), then += in[B,Din] . w[Dout,Din]^T */
  for (int64_t i = 0; i < B; i++) memcpy(out + i * Dout, b, (size_t)Dout * sizeof *out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)Dout, (int)Din, 1.0f, in,
              (int)Din, w, (int)Din, 1.0f, out, (int)Dout);
}

void sml_affine_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int64_t B, int64_t Din, int64_t Dout) {
  /* dw[Dout,Din] += dout[B,Dout]^T . in[B,Din] */
  if (Dout <= NARROW_TILE)
    narrow_weight_grad(dw, dout, in, B, Din, Dout);
  else
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
