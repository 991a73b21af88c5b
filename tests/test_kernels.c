/* The dispatched kernels of one instruction-set level against slow, obvious
 * references (double precision, naive loops) and against the generic level,
 * on shapes that hit every tile and every remainder path; and the same
 * results bitwise with 1 and 2 threads.
 *
 * The level comes from SHARDML_ISA, as in shardml (CTest runs this once per
 * level); unset, the best the CPU runs. A level the CPU lacks exits 77,
 * which CTest reports as skipped, never as passed. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/exact.h"
#include "base/half.h"
#include "kernels/kernels.h"

#include "expect.h"

#define U 0x1.0p-24 /* unit roundoff of float */

#ifdef SML_TEST_SHAPE_OF_AVX512
/* kernels_level.c compiled with the AVX-512 level's tile shapes for AVX2
 * (tests/CMakeLists.txt), so that the shapes are checked on any AVX2 CPU. */
extern const sml_kernels sml_kernels_shape_of_avx512;
#endif

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) { /* xorshift64*: test data only */
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}
static float uniform(void) { return (float)((double)(next_u64() >> 11) * 0x1.0p-53 * 2.0 - 1.0); }
static float *random_floats(int64_t n) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = uniform();
  return p;
}

static void start_from(float *dst, const float *init, int64_t n) {
  if (init) memcpy(dst, init, (size_t)n * sizeof *dst);
}

/* Runs fn once with 1 thread and once with 2, into two buffers of n floats
 * that start as copies of init (for accumulating kernels), and checks that
 * the two results are bitwise equal. Leaves the 1-thread result in out. */
#define BOTH_THREAD_COUNTS(out, init, n, call_with_dst)                                                          \
  do {                                                                                                           \
    float *other_ = malloc((size_t)((n) > 0 ? (n) : 1) * sizeof(float));                                         \
    start_from(other_, init, n);                                                                                 \
    start_from(out, init, n);                                                                                    \
    omp_set_num_threads(1);                                                                                      \
    {                                                                                                            \
      float *dst_ = out;                                                                                         \
      call_with_dst;                                                                                             \
    }                                                                                                            \
    omp_set_num_threads(2);                                                                                      \
    {                                                                                                            \
      float *dst_ = other_;                                                                                      \
      call_with_dst;                                                                                             \
    }                                                                                                            \
    EXPECT(memcmp(out, other_, (size_t)(n) * sizeof(float)) == 0, "%s: 1 and 2 threads differ", #call_with_dst); \
    free(other_);                                                                                                \
  } while (0)

/* Worst |got - exact| / bound over n entries; must be <= 1. */
static double worst_ratio(const float *got, const double *exact, const double *bound, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = fabs((double)got[i] - exact[i]) / (bound[i] > 0 ? bound[i] : 1e-300);
    if (!(r <= worst)) worst = r; /* NaN counts as worst */
  }
  return worst;
}

/* got within bound of the exact values, and within twice the bound of the
 * reference level's result (both are within the bound of the exact value). */
static void expect_close(const char *what, const sml_kernels *k, const sml_kernels *ref, const float *got,
                         const float *ref_got, const double *exact, const double *bound, int64_t n,
                         const int64_t shape[3]) {
  double r = worst_ratio(got, exact, bound, n);
  EXPECT(r <= 1, "%s %s B=%lld Din=%lld Dout=%lld: error %.3g of the bound", k->name, what, (long long)shape[0],
         (long long)shape[1], (long long)shape[2], r);
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    const double e = fabs((double)got[i] - ref_got[i]) / (2 * bound[i] > 0 ? 2 * bound[i] : 1e-300);
    if (!(e <= worst)) worst = e;
  }
  EXPECT(worst <= 1, "%s vs %s %s B=%lld Din=%lld Dout=%lld: %.3g of twice the bound", k->name, ref->name, what,
         (long long)shape[0], (long long)shape[1], (long long)shape[2], worst);
}

/* init + sum_i a[i*sa] b[i*sb] in double, and the magnitude of its terms
 * (for the error bound) in *mag. */
static double ref_dot(double init, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n, double *mag) {
  double s = init;
  *mag = fabs(init);
  for (int64_t i = 0; i < n; i++) {
    s += (double)a[i * sa] * b[i * sb];
    *mag += fabs((double)a[i * sa] * b[i * sb]);
  }
  return s;
}

/* The three narrow affine kernels. Any summation order errs by at most
 * (n + 1) u times the sum of the magnitudes of the n terms. */
static void test_affine(const sml_kernels *k, const sml_kernels *ref, int64_t B, int64_t Din, int64_t Dout) {
  const int64_t shape[3] = {B, Din, Dout}, most = B * Din > Dout * Din ? B * Din : Dout * Din;
  float *in = random_floats(B * Din), *w = random_floats(Dout * Din), *b = random_floats(Dout);
  float *dout = random_floats(B * Dout), *dw0 = random_floats(Dout * Din);
  float *got = malloc((size_t)most * sizeof *got), *ref_got = malloc((size_t)most * sizeof *ref_got);
  double *exact = malloc((size_t)most * sizeof *exact), *bound = malloc((size_t)most * sizeof *bound);

  /* forward: out = b + in . w^T */
  BOTH_THREAD_COUNTS(got, (float *)NULL, B * Dout, k->narrow_forward(dst_, in, w, b, B, Din, Dout));
  ref->narrow_forward(ref_got, in, w, b, B, Din, Dout);
  for (int64_t i = 0; i < B; i++)
    for (int64_t o = 0; o < Dout; o++) {
      double mag;
      exact[i * Dout + o] = ref_dot(b[o], in + i * Din, 1, w + o * Din, 1, Din, &mag);
      bound[i * Dout + o] = (double)(Din + 2) * U * mag;
    }
  expect_close("forward", k, ref, got, ref_got, exact, bound, B * Dout, shape);

  /* weight gradient: dw = dw0 + dout^T . in (accumulates) */
  BOTH_THREAD_COUNTS(got, dw0, Dout * Din, k->narrow_weight_grad(dst_, dout, in, B, Din, Dout));
  memcpy(ref_got, dw0, (size_t)(Dout * Din) * sizeof *ref_got);
  ref->narrow_weight_grad(ref_got, dout, in, B, Din, Dout);
  for (int64_t o = 0; o < Dout; o++)
    for (int64_t j = 0; j < Din; j++) {
      double mag;
      exact[o * Din + j] = ref_dot(dw0[o * Din + j], dout + o, Dout, in + j, Din, B, &mag);
      bound[o * Din + j] = (double)(B + 2) * U * mag;
    }
  expect_close("weight grad", k, ref, got, ref_got, exact, bound, Dout * Din, shape);

  /* input gradient: din = dout . w (overwrites) */
  BOTH_THREAD_COUNTS(got, (float *)NULL, B * Din, k->narrow_input_grad(dst_, dout, w, B, Din, Dout));
  ref->narrow_input_grad(ref_got, dout, w, B, Din, Dout);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < Din; j++) {
      double mag;
      exact[i * Din + j] = ref_dot(0.0, dout + i * Dout, 1, w + j, Din, Dout, &mag);
      bound[i * Din + j] = (double)(Dout + 2) * U * mag;
    }
  expect_close("input grad", k, ref, got, ref_got, exact, bound, B * Din, shape);

  free(in);
  free(w);
  free(b);
  free(dout);
  free(dw0);
  free(got);
  free(ref_got);
  free(exact);
  free(bound);
}

/* The thin convolution products: out = bias + w . col through an optional
 * ReLU, with an output row stride of ldo > n; dw and db accumulated in
 * double, with and without the ReLU's mask. */
static void test_thin_conv(const sml_kernels *k, const sml_kernels *ref, int64_t F, int64_t K, int64_t n) {
  const int64_t ldo = n + 3, shape[3] = {F, K, n};
  float *col = random_floats(K * n), *w = random_floats(F * K), *bias = random_floats(F);
  float *dout = random_floats(F * ldo), *relu_out = random_floats(F * ldo);
  float *got = malloc((size_t)(F * ldo) * sizeof *got), *ref_got = malloc((size_t)(F * ldo) * sizeof *ref_got);
  float *relu_got = malloc((size_t)(F * ldo) * sizeof *relu_got);
  double *exact = calloc((size_t)(F * ldo), sizeof *exact), *bound = calloc((size_t)(F * ldo), sizeof *bound);
  k->thin_conv_forward(got, ldo, col, n, w, bias, F, K, 0);
  ref->thin_conv_forward(ref_got, ldo, col, n, w, bias, F, K, 0);
  k->thin_conv_forward(relu_got, ldo, col, n, w, bias, F, K, 1);
  int64_t wrong_relu = 0;
  for (int64_t f = 0; f < F; f++)
    for (int64_t q = 0; q < n; q++) {
      double mag;
      const int64_t at = f * ldo + q;
      exact[at] = ref_dot(bias[f], w + f * K, 1, col + q, n, K, &mag);
      bound[at] = (double)(K + 2) * U * mag;
      const float v = got[at];
      wrong_relu += memcmp(&relu_got[at], &(float){v > 0.0f ? v : 0.0f}, sizeof v) != 0;
    }
  for (int64_t f = 0; f < F; f++) /* the gap between rows is not theirs: keep exact 0 there */
    for (int64_t q = n; q < ldo; q++) got[f * ldo + q] = ref_got[f * ldo + q] = 0.0f;
  expect_close("thin conv forward", k, ref, got, ref_got, exact, bound, F * ldo, shape);
  EXPECT(wrong_relu == 0, "%s thin conv forward F=%lld K=%lld n=%lld: %lld outputs not the ReLU of the plain ones",
         k->name, (long long)F, (long long)K, (long long)n, (long long)wrong_relu);
  for (int masked = 0; masked < 2; masked++) {
    double *dw = malloc((size_t)(F * K) * sizeof *dw), *db = malloc((size_t)F * sizeof *db);
    for (int64_t i = 0; i < F * K; i++) dw[i] = 0.5 * (double)(i % 7);
    for (int64_t f = 0; f < F; f++) db[f] = -0.25 * (double)f;
    k->thin_conv_weight_grad(dw, db, dout, masked ? relu_out : NULL, ldo, col, n, F, K);
    double worst = 0;
    for (int64_t f = 0; f < F; f++) {
      double sb = -0.25 * (double)f, mb = fabs(sb);
      for (int64_t q = 0; q < n; q++) {
        const double g = masked && !(relu_out[f * ldo + q] > 0.0f) ? 0.0 : dout[f * ldo + q];
        sb += g, mb += fabs(g);
      }
      worst = fmax(worst, fabs(db[f] - sb) / ((double)(n + 2) * U * mb + 1e-300));
      for (int64_t r = 0; r < K; r++) {
        double s = 0.5 * (double)((f * K + r) % 7), m = fabs(s);
        for (int64_t q = 0; q < n; q++) {
          const double g = masked && !(relu_out[f * ldo + q] > 0.0f) ? 0.0 : dout[f * ldo + q];
          s += g * col[r * n + q], m += fabs(g * col[r * n + q]);
        }
        const double e = fabs(dw[f * K + r] - s) / ((double)(n + 2) * U * m + 1e-300);
        if (!(e <= worst)) worst = e; /* NaN counts as worst */
      }
    }
    EXPECT(worst <= 1, "%s thin conv weight grad F=%lld K=%lld n=%lld relu %d: error %.3g of the bound", k->name,
           (long long)F, (long long)K, (long long)n, masked, worst);
    free(dw), free(db);
  }
  free(col), free(w), free(bias), free(dout), free(relu_out), free(got), free(ref_got), free(relu_got), free(exact);
  free(bound);
}

static void test_l1(const sml_kernels *k, int64_t nq, int64_t nr, int64_t dim) {
  uint8_t *data = malloc((size_t)((nq + nr) * dim));
  for (int64_t i = 0; i < (nq + nr) * dim; i++) {
    const uint64_t v = next_u64();
    data[i] = (v & 3) == 0 ? 0 : (v & 3) == 1 ? 255 : (uint8_t)(v >> 32); /* extremes often */
  }
  const uint8_t **q = malloc((size_t)nq * sizeof *q), **r = malloc((size_t)nr * sizeof *r);
  for (int64_t i = 0; i < nq; i++) q[i] = data + i * dim;
  for (int64_t i = 0; i < nr; i++) r[i] = data + (nq + i) * dim;
  int64_t *dist = malloc((size_t)(nq * nr) * sizeof *dist);
  k->l1_distances(dist, q, nq, r, nr, dim);
  int64_t wrong = 0;
  for (int64_t a = 0; a < nq; a++)
    for (int64_t b = 0; b < nr; b++) {
      int64_t s = 0;
      for (int64_t j = 0; j < dim; j++) s += abs((int)q[a][j] - (int)r[b][j]);
      wrong += dist[a * nr + b] != s;
    }
  EXPECT(wrong == 0, "%s l1 nq=%lld nr=%lld dim=%lld: %lld wrong distances", k->name, (long long)nq, (long long)nr,
         (long long)dim, (long long)wrong);
  free(data);
  free(q);
  free(r);
  free(dist);
}

static void test_elementwise(const sml_kernels *k) {
  const int64_t batch = 7, dim = 3 * 37, rows = 11;
  uint8_t *images = malloc((size_t)(rows * dim));
  for (int64_t i = 0; i < rows * dim; i++) images[i] = (uint8_t)next_u64();
  const int64_t idx[7] = {10, 0, 3, 3, 9, 1, 5};
  float *mean = random_floats(dim), *x = malloc((size_t)(batch * dim) * sizeof *x);
  for (int use_idx = 0; use_idx < 2; use_idx++) {
    BOTH_THREAD_COUNTS(x, (float *)NULL, batch * dim,
                       k->prep_batch(dst_, images, use_idx ? idx : NULL, batch, dim, mean));
    double worst = 0;
    for (int64_t b = 0; b < batch; b++)
      for (int64_t j = 0; j < dim; j++) {
        const double pix = images[(use_idx ? idx[b] : b) * dim + j] / 255.0;
        const double e = fabs(x[b * dim + j] - (pix - mean[j])) / (4 * U * (fabs(pix) + fabs(mean[j])) + 1e-30);
        if (!(e <= worst)) worst = e;
      }
    EXPECT(worst <= 1, "%s prep_batch (idx %d): error %.3g of 4u", k->name, use_idx, worst);
  }
  /* The same rows through pointers: the same bits (the reproducible mode's
   * micro-batches are prepared this way, the default mode's batches the other) */
  const uint8_t *image_rows[7];
  for (int64_t b = 0; b < batch; b++) image_rows[b] = images + idx[b] * dim;
  float *x_rows = malloc((size_t)(batch * dim) * sizeof *x_rows);
  BOTH_THREAD_COUNTS(x_rows, (float *)NULL, batch * dim, k->prep_rows(dst_, image_rows, batch, dim, mean));
  EXPECT(memcmp(x, x_rows, (size_t)(batch * dim) * sizeof *x) == 0, "%s prep_rows differs from prep_batch", k->name);
  free(x_rows);

  const int64_t n = 1000;
  float *a = random_floats(n), *g = random_floats(n), *o = malloc((size_t)n * sizeof *o);
  k->relu_forward(o, a, n);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) bad += o[i] != (a[i] > 0 ? a[i] : 0.0f);
  k->relu_forward(a, a, n); /* in place */
  for (int64_t i = 0; i < n; i++) bad += a[i] != o[i];
  float *g0 = malloc((size_t)n * sizeof *g0);
  memcpy(g0, g, (size_t)n * sizeof *g);
  k->relu_backward(g, g, o, n); /* in place, as the model calls it */
  for (int64_t i = 0; i < n; i++) bad += g[i] != (o[i] > 0 ? g0[i] : 0.0f);
  free(g0);
  EXPECT(bad == 0, "%s relu: %lld wrong entries", k->name, (long long)bad);

  /* Losses: scores spread over a few units, so that softmax is not flat and
   * the SVM has both violated and satisfied margins. */
  const int64_t B = 37, C = 10;
  float *scores = random_floats(B * C), *d = malloc((size_t)(B * C) * sizeof *d);
  for (int64_t i = 0; i < B * C; i++) scores[i] *= 3;
  uint8_t labels[37];
  for (int64_t i = 0; i < B; i++) labels[i] = (uint8_t)(next_u64() % (uint64_t)C);
  double total = k->softmax_loss(d, scores, labels, B, C), ref_total = 0, worst = 0;
  for (int64_t i = 0; i < B; i++) {
    const float *s = scores + i * C;
    double mx = s[0], z = 0;
    for (int64_t j = 1; j < C; j++) mx = fmax(mx, s[j]);
    for (int64_t j = 0; j < C; j++) z += exp(s[j] - mx);
    ref_total += log(z) - (s[labels[i]] - mx);
    for (int64_t j = 0; j < C; j++) {
      const double p = exp(s[j] - mx) / z - (j == labels[i]);
      worst = fmax(worst, fabs(d[i * C + j] - p));
    }
  }
  EXPECT(fabs(total - ref_total) <= 1e-5 * ref_total, "%s softmax loss %.9g vs %.9g", k->name, total, ref_total);
  EXPECT(worst <= 1e-6, "%s softmax dscores differ by %.3g", k->name, worst);
  total = k->svm_loss(d, scores, labels, B, C, 1.0f);
  ref_total = 0;
  bad = 0;
  for (int64_t i = 0; i < B; i++) {
    const float *s = scores + i * C;
    int viol = 0;
    for (int64_t j = 0; j < C; j++) {
      const double m = (double)s[j] - s[labels[i]] + 1.0;
      const int on = j != labels[i] && m > 0;
      ref_total += on ? m : 0;
      viol += on;
      if (j != labels[i]) bad += d[i * C + j] != (float)on;
    }
    bad += d[i * C + labels[i]] != (float)-viol;
  }
  EXPECT(fabs(total - ref_total) <= 1e-5 * ref_total, "%s svm loss %.9g vs %.9g", k->name, total, ref_total);
  EXPECT(bad == 0, "%s svm dscores: %lld wrong entries", k->name, (long long)bad);
  free(images);
  free(mean);
  free(x);
  free(a);
  free(g);
  free(o);
  free(scores);
  free(d);
}

/* The order-free sums' kernels against the scalar definitions of
 * base/exact.h: equal bits, on every level, whatever the thread count. */
static void test_fixed(const sml_kernels *k) {
  const int64_t n = 70013, stride = n + 3, nrows = 5; /* tails of vectors and of elements, and enough for threads */
  float *x = malloc((size_t)(stride * nrows) * sizeof *x);
  for (int64_t i = 0; i < stride * nrows; i++) /* magnitudes over 2^-40 .. 2^20, both signs, exact ties */
    x[i] = (float)ldexp(uniform(), (int)(next_u64() % 61) - 40);
  for (int64_t i = 0; i < 64; i++) x[i * 7] = (float)ldexp(2 * (int)i + 1, -32); /* halfway at q = 31 */
  float want_max = 0;
  for (int64_t j = 0; j < nrows; j++)
    for (int64_t i = 0; i < n; i++) want_max = fmaxf(want_max, fabsf(x[j * stride + i]));
  float got_max = k->absmax_rows(x, stride, nrows, n);
  EXPECT(got_max == want_max, "%s absmax_rows %.9g vs %.9g", k->name, got_max, want_max);
  const int q = sml_fixed_exponent(want_max, nrows);
  EXPECT(q == 31, "fixed exponent %d for a maximum below 2^20 and 5 terms (51 - 20)", q);
  const double scale = sml_fixed_scale(q);
  int64_t *acc = malloc((size_t)n * sizeof *acc), *want = malloc((size_t)n * sizeof *want);
  for (int64_t i = 0; i < n; i++) {
    want[i] = 0;
    for (int64_t j = 0; j < nrows; j++) want[i] += sml_to_fixed(x[j * stride + i], scale);
  }
  int64_t bad = 0;
  for (int threads = 1; threads <= 2; threads++) {
    omp_set_num_threads(threads);
    memset(acc, 0x5a, (size_t)n * sizeof *acc);
    k->fixed_sum_rows(acc, x, stride, nrows, n, scale);
    for (int64_t i = 0; i < n; i++) bad += acc[i] != want[i];
  }
  EXPECT(bad == 0, "%s fixed_sum_rows: %lld sums differ from sml_to_fixed's", k->name, (long long)bad);

  /* Back to float: large sums (the whole int64 range the scale allows,
   * both signs, odd low bits so that the rounding to double matters). */
  for (int64_t i = 0; i < n; i++) {
    const int64_t mag = (int64_t)(next_u64() >> (1 + next_u64() % 63));
    acc[i] = (i & 1 ? -mag : mag) | 1;
  }
  acc[0] = INT64_MAX - 1;
  acc[1] = -INT64_MAX + 1;
  acc[2] = 0;
  acc[3] = ((int64_t)1 << 53) + 1; /* halfway between two doubles */
  float *out = malloc((size_t)n * sizeof *out);
  bad = 0;
  for (int threads = 1; threads <= 2; threads++) {
    omp_set_num_threads(threads);
    k->fixed_to_float(out, acc, n, 1.0 / scale);
    for (int64_t i = 0; i < n; i++) bad += out[i] != (float)((double)acc[i] / scale);
  }
  EXPECT(bad == 0, "%s fixed_to_float: %lld values differ from the scalar conversion", k->name, (long long)bad);

  /* The rows added in row order in double, 1 to 5 rows: the bits of the
   * obvious loop (magnitudes 2^-40 .. 2^20 apart, so the order matters). */
  for (int64_t rows = 1; rows <= nrows; rows++) {
    bad = 0;
    for (int threads = 1; threads <= 2; threads++) {
      omp_set_num_threads(threads);
      memset(out, 0x5a, (size_t)n * sizeof *out);
      k->ordered_sum_rows(out, x, stride, rows, n);
      for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < rows; j++) s += x[j * stride + i];
        const float f = (float)s;
        bad += memcmp(&out[i], &f, sizeof f) != 0;
      }
    }
    EXPECT(bad == 0, "%s ordered_sum_rows of %lld rows: %lld sums differ from the loop's", k->name, (long long)rows,
           (long long)bad);
  }
  x[3 * stride + 11] = NAN;
  EXPECT(isinf(k->absmax_rows(x, stride, nrows, n)), "%s absmax_rows: a NaN term must give infinity", k->name);
  x[3 * stride + 11] = -INFINITY;
  EXPECT(isinf(k->absmax_rows(x, stride, nrows, n)), "%s absmax_rows: an infinite term must give infinity", k->name);
  free(x);
  free(acc);
  free(want);
  free(out);
}

/* The 16-bit passes against the scalar conversions of base/half.h
 * (tested against a reference in test_unit), element by element, bit for
 * bit, on every length up to two vectors past a few widths and on specials
 * (zeros, subnormals, overflow, infinities, NaN). */
static void test_half(const sml_kernels *k) {
  const int64_t n = 1037;
  float *g = malloc((size_t)n * sizeof *g), *e = malloc((size_t)n * sizeof *e), *e_ref = malloc((size_t)n * sizeof *e);
  float *out = malloc((size_t)n * sizeof *out);
  uint16_t *w = malloc((size_t)n * sizeof *w), *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  const float specials[] = {0.0f,  -0.0f, 1e-45f,   -3e-39f,   6e-8f, 3e-5f, 65504.0f, 65520.0f,
                            -7e4f, 3e38f, INFINITY, -INFINITY, NAN,   1.0f,  -2.5f,    0.1f};
  uint64_t lcg = 12345;
  for (int64_t i = 0; i < n; i++) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    const double u = (double)(lcg >> 11) * 0x1.0p-53;
    g[i] = i < 16 ? specials[i] : (float)((u - 0.5) * pow(2.0, (double)(lcg % 40) - 20.0));
    e[i] = e_ref[i] = i % 3 ? (float)(u * 1e-3) : 0.0f;
  }
  for (int bf16 = 0; bf16 < 2; bf16++) {
    int64_t bad = 0;
    for (int64_t len = 0; len <= n; len += len < 70 ? 1 : 97) {
      memcpy(e, e_ref, (size_t)n * sizeof *e);
      k->half_encode(w, g, e, len, bf16);
      for (int64_t i = 0; i < len; i++) {
        const float v = g[i] + e_ref[i];
        const uint16_t want = bf16 ? sml_bf16_from_float(v) : sml_f16_from_float(v);
        const float left = v - (bf16 ? sml_bf16_to_float(want) : sml_f16_to_float(want));
        bad += w[i] != want || (memcmp(&e[i], &left, sizeof left) != 0 && !(isnan(e[i]) && isnan(left)));
      }
      k->half_decode(out, w, len, bf16);
      for (int64_t i = 0; i < len; i++) {
        const float want = bf16 ? sml_bf16_to_float(w[i]) : sml_f16_to_float(w[i]);
        bad += memcmp(&out[i], &want, sizeof want) != 0 && !(isnan(out[i]) && isnan(want));
      }
      for (int64_t i = 0; i < len; i++) {
        a[i] = w[i];
        b[i] = w[(i * 7 + 3) % (len ? len : 1)];
      }
      k->half_add(a, b, len, bf16);
      for (int64_t i = 0; i < len; i++) {
        const float x =
            bf16 ? sml_bf16_to_float(w[i]) + sml_bf16_to_float(b[i]) : sml_f16_to_float(w[i]) + sml_f16_to_float(b[i]);
        const uint16_t want = bf16 ? sml_bf16_from_float(x) : sml_f16_from_float(x);
        bad += a[i] != want && !(isnan(x) && ((a[i] & 0x7fff) > (bf16 ? 0x7f80 : 0x7c00)));
      }
    }
    EXPECT(bad == 0, "%s half_encode/decode/add (%s): %lld elements differ from base/half.h", k->name,
           bf16 ? "bf16" : "fp16", (long long)bad);
  }
  free(g);
  free(e);
  free(e_ref);
  free(out);
  free(w);
  free(a);
  free(b);
}

static void test_level(const sml_kernels *k, const sml_kernels *ref) {
  const int64_t shapes[][3] = {{1, 1, 1},       {2, 3, 1},      {3, 5, 2},      {5, 17, 3},    {7, 31, 4},
                               {8, 32, 5},      {9, 33, 6},     {11, 63, 7},    {13, 64, 8},   {17, 65, 9},
                               {31, 100, 10},   {33, 127, 11},  {64, 128, 12},  {65, 129, 13}, {100, 255, 14},
                               {128, 256, 15},  {129, 257, 16}, {128, 784, 10}, {37, 80, 17},  {21, 200, 33},
                               {128, 3072, 10}, {6, 48, 64}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    test_affine(k, ref, shapes[i][0], shapes[i][1], shapes[i][2]);
  const int64_t l1_shapes[][3] = {{1, 1, 1},    {1, 5, 15},   {2, 4, 16}, {3, 7, 17},  {4, 8, 31},
                                  {5, 9, 32},   {3, 3, 33},   {2, 5, 63}, {4, 4, 64},  {5, 6, 65},
                                  {9, 13, 784}, {2, 3, 3072}, {7, 5, 95}, {6, 11, 127}};
  for (size_t i = 0; i < sizeof l1_shapes / sizeof l1_shapes[0]; i++)
    test_l1(k, l1_shapes[i][0], l1_shapes[i][1], l1_shapes[i][2]);
  const int64_t thin_shapes[][3] = {{1, 1, 1},   {2, 9, 7},    {3, 5, 16},   {5, 13, 33},  {9, 27, 100},
                                    {4, 32, 65}, {8, 12, 789}, {17, 16, 48}, {32, 9, 200}, {6, 25, 31}};
  for (size_t i = 0; i < sizeof thin_shapes / sizeof thin_shapes[0]; i++)
    test_thin_conv(k, ref, thin_shapes[i][0], thin_shapes[i][1], thin_shapes[i][2]);
  test_elementwise(k);
  test_fixed(k);
  test_half(k);
}

int main(void) {
  const char *want = getenv(SML_ISA_ENV);
  sml_isa isa = sml_isa_best();
  if (want && want[0] && sml_isa_parse(want, &isa) != 0) {
    fprintf(stderr, "test_kernels: %s=%s: unknown level\n", SML_ISA_ENV, want);
    return 2;
  }
  printf("cpu %s, best level %s\n", sml_cpu_model(), sml_isa_name(sml_isa_best()));
  const sml_kernels *k = sml_kernels_for(isa), *generic = sml_kernels_for(SML_ISA_GENERIC);
  if (!k) {
    printf("SKIP level %s: this CPU (%s) or this build lacks it\n", sml_isa_name(isa), sml_cpu_model());
    return 77;
  }
  printf("testing level %s against double references and the generic level\n", k->name);
  test_level(k, generic);
#ifdef SML_TEST_SHAPE_OF_AVX512
  if (isa == SML_ISA_AVX2) {
    printf("testing the avx512 tile shapes compiled for avx2\n");
    test_level(&sml_kernels_shape_of_avx512, generic);
  }
#endif
  printf("test_kernels %s: %d failures\n", k->name, failures);
  return failures ? 1 : 0;
}
