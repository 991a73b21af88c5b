/* Batch normalization on NCHW batches (see nn/layers.h).
 *
 * Every per-channel sum runs over one channel's values in batch order, in
 * double, by one thread (the threads share out the channels): a batch's
 * sums have the same bits for any thread count, which the reproducible
 * mode's exact agreement across micro-batches builds on. */
#include "nn/layers.h"

#include <math.h>

void sml_bn_moments(double *sums, const float *x, int64_t B, int C, int64_t hw) {
#pragma omp parallel for schedule(static) if (B * C * hw >= (1 << 16))
  for (int c = 0; c < C; c++) {
    double s = 0.0, ss = 0.0;
    for (int64_t b = 0; b < B; b++) {
      const float *v = x + (b * C + c) * hw;
      for (int64_t q = 0; q < hw; q++) {
        s += v[q];
        ss += (double)v[q] * v[q];
      }
    }
    sums[c] = s;
    sums[C + c] = ss;
  }
}

void sml_bn_forward(float *y, float *xhat, const float *x, const float *gamma, const float *beta, const double *mean,
                    const double *invstd, int64_t B, int C, int64_t hw) {
#pragma omp parallel for schedule(static) if (B * C * hw >= (1 << 16))
  for (int64_t bc = 0; bc < B * C; bc++) {
    const int c = (int)(bc % C);
    const float mu = (float)mean[c], is = (float)invstd[c], g = gamma[c], be = beta[c];
    const float *v = x + bc * hw;
    float *h = xhat + bc * hw, *o = y + bc * hw;
    for (int64_t q = 0; q < hw; q++) {
      h[q] = (v[q] - mu) * is;
      o[q] = g * h[q] + be;
    }
  }
}

void sml_bn_dsums(double *sums, const float *dy, const float *xhat, int64_t B, int C, int64_t hw) {
#pragma omp parallel for schedule(static) if (B * C * hw >= (1 << 16))
  for (int c = 0; c < C; c++) {
    double s = 0.0, sx = 0.0;
    for (int64_t b = 0; b < B; b++) {
      const float *d = dy + (b * C + c) * hw, *h = xhat + (b * C + c) * hw;
      for (int64_t q = 0; q < hw; q++) {
        s += d[q];
        sx += (double)d[q] * h[q];
      }
    }
    sums[c] = s;
    sums[C + c] = sx;
  }
}

void sml_bn_input_grad(float *dx, const float *dy, const float *xhat, const float *gamma, const double *invstd,
                       const double *dsums, double count, int64_t B, int C, int64_t hw) {
#pragma omp parallel for schedule(static) if (B * C * hw >= (1 << 16))
  for (int64_t bc = 0; bc < B * C; bc++) {
    const int c = (int)(bc % C);
    const float scale = (float)(gamma[c] * invstd[c]);
    const float m1 = dsums ? (float)(dsums[c] / count) : 0.0f, m2 = dsums ? (float)(dsums[C + c] / count) : 0.0f;
    const float *d = dy + bc * hw, *h = xhat + bc * hw;
    float *o = dx + bc * hw;
    for (int64_t q = 0; q < hw; q++) o[q] = scale * (d[q] - m1 - h[q] * m2);
  }
}
