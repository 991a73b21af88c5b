/* Batch normalization on NCHW batches (see nn/layers.h).
 *
 * Every per-channel sum runs over one channel's values in batch order, in
 * double lanes, by one thread (the threads share out the channels): a batch's
 * sums have the same bits for any thread count, which the reproducible
 * mode's exact agreement across micro-batches builds on. */
#include "nn/layers.h"

#include <math.h>

/* A channel's sums run in SUM_LANES interleaved double lanes, in a fixed
 * order (a value's lane is its place in its run of hw): one running sum
 * would wait for each addition before the next (a planar batch's channel
 * is one run of B*hw values). */
#define SUM_LANES 8
typedef struct {
  double a[SUM_LANES], ab[SUM_LANES];
} lane_sums;

/* l += sum of a[q] and of a[q]*b[q], q < n */
static void add_run(lane_sums *l, const float *a, const float *b, int64_t n) {
  int64_t q = 0;
  for (; q + SUM_LANES <= n; q += SUM_LANES)
    for (int i = 0; i < SUM_LANES; i++) {
      l->a[i] += a[q + i];
      l->ab[i] += (double)a[q + i] * b[q + i];
    }
  for (; q < n; q++) {
    l->a[q % SUM_LANES] += a[q];
    l->ab[q % SUM_LANES] += (double)a[q] * b[q];
  }
}

/* sums[c] = sum of a over channel c, sums[C + c] = sum of a*b */
static void channel_sums(double *sums, const float *a, const float *b, int64_t B, int C, int64_t hw) {
#pragma omp parallel for schedule(static) if (B * C * hw >= (1 << 16))
  for (int c = 0; c < C; c++) {
    lane_sums l = {{0}, {0}};
    for (int64_t b0 = 0; b0 < B; b0++) add_run(&l, a + (b0 * C + c) * hw, b + (b0 * C + c) * hw, hw);
    double s = 0.0, sab = 0.0;
    for (int i = 0; i < SUM_LANES; i++) {
      s += l.a[i];
      sab += l.ab[i];
    }
    sums[c] = s;
    sums[C + c] = sab;
  }
}

void sml_bn_moments(double *sums, const float *x, int64_t B, int C, int64_t hw) { channel_sums(sums, x, x, B, C, hw); }

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
  channel_sums(sums, dy, xhat, B, C, hw);
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
