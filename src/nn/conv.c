/* Convolution and pooling layers on NCHW batches (see nn/layers.h).
 *
 * A convolution is one matrix product for the whole batch: the input
 * patches are unfolded into col[C*k*k, B*OH*OW] (im2col), the product
 * W[F, C*k*k] . col gives [F, B*OH*OW], which is folded back to
 * [B, F, OH*OW] with the bias added. One large product keeps BLAS at its
 * speed where one product per image would be small (F x OH*OW). Every
 * output element is one dot product of length C*k*k in BLAS's order for
 * that length, so an image's outputs do not depend on its place in the
 * batch or on the batch size. */
#include <string.h>

#include "nn/layers.h"
#include <cblas.h>

/* The output columns x whose input column x*stride - pad + j lies inside
 * [0, w): [*x0, *x1). */
static void valid_columns(const sml_conv_shape *s, int j, int *x0, int *x1) {
  const int lo = s->pad - j, hi = s->w - 1 + s->pad - j; /* x*stride in [lo, hi] */
  *x0 = lo > 0 ? (lo + s->stride - 1) / s->stride : 0;
  *x1 = hi < 0 ? 0 : hi / s->stride + 1;
  if (*x1 > s->ow) *x1 = s->ow;
  if (*x0 > *x1) *x0 = *x1;
}

/* col[(c*k + i)*k + j][b*OH*OW + y*OW + x] = in[b][c][y*s - p + i][x*s - p + j] (0 outside). */
static void im2col(float *col, const float *in, int64_t B, const sml_conv_shape *s) {
  const int64_t ohw = (int64_t)s->oh * s->ow, n = B * ohw, rows = (int64_t)s->c * s->k * s->k;
#pragma omp parallel for schedule(static) if (rows * n >= (1 << 16))
  for (int64_t r = 0; r < rows; r++) {
    const int c = (int)(r / (s->k * s->k)), i = (int)(r / s->k % s->k), j = (int)(r % s->k);
    int x0, x1;
    valid_columns(s, j, &x0, &x1);
    float *dst = col + r * n;
    for (int64_t b = 0; b < B; b++) {
      const float *src = in + (b * s->c + c) * (int64_t)s->h * s->w;
      for (int y = 0; y < s->oh; y++) {
        const int iy = y * s->stride - s->pad + i;
        float *d = dst + b * ohw + (int64_t)y * s->ow;
        if (iy < 0 || iy >= s->h) {
          memset(d, 0, (size_t)s->ow * sizeof *d);
          continue;
        }
        const float *row = src + (int64_t)iy * s->w - s->pad + j; /* row[x * stride] for x in [x0, x1) */
        for (int x = 0; x < x0; x++) d[x] = 0.0f;
        if (s->stride == 1) memcpy(d + x0, row + x0, (size_t)(x1 - x0) * sizeof *d);
        else
          for (int x = x0; x < x1; x++) d[x] = row[(int64_t)x * s->stride];
        for (int x = x1; x < s->ow; x++) d[x] = 0.0f;
      }
    }
  }
}

/* din[b][c][..] = sum of the col entries that im2col took from it. Each
 * thread owns whole (b, c) planes, so nothing is added concurrently, and
 * the additions run in the same order for any thread count. */
static void col2im(float *din, const float *col, int64_t B, const sml_conv_shape *s) {
  const int64_t ohw = (int64_t)s->oh * s->ow, n = B * ohw, hw = (int64_t)s->h * s->w;
  const int64_t planes = B * s->c;
#pragma omp parallel for schedule(static) if (planes * hw >= (1 << 14))
  for (int64_t pl = 0; pl < planes; pl++) {
    const int64_t b = pl / s->c;
    const int c = (int)(pl % s->c);
    float *dst = din + pl * hw;
    memset(dst, 0, (size_t)hw * sizeof *dst);
    for (int i = 0; i < s->k; i++)
      for (int j = 0; j < s->k; j++) {
        int x0, x1;
        valid_columns(s, j, &x0, &x1);
        const float *src = col + (((int64_t)c * s->k + i) * s->k + j) * n + b * ohw;
        for (int y = 0; y < s->oh; y++) {
          const int iy = y * s->stride - s->pad + i;
          if (iy < 0 || iy >= s->h) continue;
          float *row = dst + (int64_t)iy * s->w - s->pad + j;
          const float *sy = src + (int64_t)y * s->ow;
          if (s->stride == 1)
            for (int x = x0; x < x1; x++) row[x] += sy[x];
          else
            for (int x = x0; x < x1; x++) row[(int64_t)x * s->stride] += sy[x];
        }
      }
  }
}

void sml_conv_forward(float *out, float *col, float *tmp, const float *in, const float *w, const float *bias, int64_t B,
                      const sml_conv_shape *s) {
  const int64_t ohw = (int64_t)s->oh * s->ow, n = B * ohw, K = (int64_t)s->c * s->k * s->k;
  im2col(col, in, B, s);
  /* tmp[F, B*OH*OW] = w[F, K] . col[K, B*OH*OW] */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->f, (int)n, (int)K, 1.0f, w, (int)K, col, (int)n, 0.0f, tmp,
              (int)n);
#pragma omp parallel for schedule(static) if (B * s->f * ohw >= (1 << 16))
  for (int64_t bf = 0; bf < B * s->f; bf++) {
    const int64_t b = bf / s->f, f = bf % s->f;
    const float *src = tmp + f * n + b * ohw;
    float *dst = out + bf * ohw;
    for (int64_t q = 0; q < ohw; q++) dst[q] = src[q] + bias[f];
  }
}

void sml_conv_backward(float *din, float *dw, float *db, const float *dout, const float *col, float *dcol, float *tmp,
                       const float *w, int64_t B, const sml_conv_shape *s) {
  const int64_t ohw = (int64_t)s->oh * s->ow, n = B * ohw, K = (int64_t)s->c * s->k * s->k;
  /* tmp[F, B*OH*OW] = dout[B, F, OH*OW] reordered; db[f] += its row sums */
#pragma omp parallel for schedule(static) if (B * s->f * ohw >= (1 << 16))
  for (int64_t f = 0; f < s->f; f++) {
    double sum = 0.0;
    for (int64_t b = 0; b < B; b++) {
      const float *src = dout + (b * s->f + f) * ohw;
      float *dst = tmp + f * n + b * ohw;
      for (int64_t q = 0; q < ohw; q++) {
        dst[q] = src[q];
        sum += src[q];
      }
    }
    db[f] += (float)sum;
  }
  /* dw[F, K] += tmp[F, n] . col[K, n]^T */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->f, (int)K, (int)n, 1.0f, tmp, (int)n, col, (int)n, 1.0f, dw,
              (int)K);
  if (!din) return;
  /* dcol[K, n] = w[F, K]^T . tmp[F, n], then folded back onto the input */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)n, s->f, 1.0f, w, (int)K, tmp, (int)n, 0.0f, dcol,
              (int)n);
  col2im(din, dcol, B, s);
}

void sml_pool_forward(float *out, int32_t *argmax, const float *in, int64_t B, const sml_pool_shape *s) {
  const int64_t ihw = (int64_t)s->h * s->w, ohw = (int64_t)s->oh * s->ow, planes = B * s->c;
  const float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static) if (planes * ohw >= (1 << 14))
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *src = in + pl * ihw;
    if (s->max && s->k == 2) { /* the common case, without the general loops */
      for (int y = 0; y < s->oh; y++)
        for (int x = 0; x < s->ow; x++) {
          const int32_t at = (int32_t)(2 * (int64_t)y * s->w + 2 * x);
          const int32_t cand[4] = {at, at + 1, at + s->w, at + s->w + 1};
          int32_t best = at;
          for (int q = 1; q < 4; q++) best = src[cand[q]] > src[best] ? cand[q] : best;
          const int64_t o = pl * ohw + (int64_t)y * s->ow + x;
          out[o] = src[best];
          argmax[o] = best;
        }
      continue;
    }
    for (int y = 0; y < s->oh; y++)
      for (int x = 0; x < s->ow; x++) {
        const int64_t o = pl * ohw + (int64_t)y * s->ow + x;
        int32_t best = (int32_t)((int64_t)y * s->k * s->w + (int64_t)x * s->k);
        float acc = s->max ? src[best] : 0.0f;
        for (int i = 0; i < s->k; i++)
          for (int j = 0; j < s->k; j++) {
            const int32_t at = (int32_t)((int64_t)(y * s->k + i) * s->w + x * s->k + j);
            if (!s->max) acc += src[at];
            else if (src[at] > acc) { /* the first of equal ones */ acc = src[at];
              best = at;
            }
          }
        out[o] = s->max ? acc : acc * inv;
        if (s->max) argmax[o] = best;
      }
  }
}

void sml_pool_backward(float *din, const float *dout, const int32_t *argmax, int64_t B, const sml_pool_shape *s) {
  const int64_t ihw = (int64_t)s->h * s->w, ohw = (int64_t)s->oh * s->ow, planes = B * s->c;
  const float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static) if (planes * ihw >= (1 << 14))
  for (int64_t pl = 0; pl < planes; pl++) {
    float *dst = din + pl * ihw;
    memset(dst, 0, (size_t)ihw * sizeof *dst);
    for (int y = 0; y < s->oh; y++)
      for (int x = 0; x < s->ow; x++) {
        const int64_t o = pl * ohw + (int64_t)y * s->ow + x;
        if (s->max) {
          dst[argmax[o]] += dout[o];
          continue;
        }
        for (int i = 0; i < s->k; i++)
          for (int j = 0; j < s->k; j++) dst[(int64_t)(y * s->k + i) * s->w + x * s->k + j] += dout[o] * inv;
      }
  }
}
