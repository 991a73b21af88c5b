/* The kernel bodies, compiled once per instruction-set level (see
 * kernels/kernels.h). CMake builds this file with -DSML_KLEVEL=<name>
 * -DSML_KLEVEL_ISA=<number> and that level's -m flags; everything here is
 * static except the table sml_kernels_<name>, so the copies never clash.
 *
 * Vector width and register budget follow from the flags the compiler was
 * given: each register-tiled kernel keeps its accumulators within the
 * register file of its level (16 registers up to AVX2, 32 with AVX-512), so
 * nothing spills in the inner loops. Tile shapes are compile-time constants
 * (switch cases), which is what lets the compiler keep them in registers. */
#include <math.h>
#include <string.h>

#include "base/exact.h"
#include "base/half.h"
#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define SML_X86_SSE2 1 /* SSE2 is part of x86-64 itself */
#endif

#if !defined(SML_KLEVEL) || !defined(SML_KLEVEL_ISA)
#error "compile with -DSML_KLEVEL=name -DSML_KLEVEL_ISA=number (see CMakeLists.txt)"
#endif
#if SML_KLEVEL_ISA == 2 && !(defined(__AVX512F__) && defined(__AVX512BW__))
#error "the avx512 kernels need -mavx512f -mavx512bw"
#endif
#if SML_KLEVEL_ISA == 1 && !(defined(__AVX2__) && defined(__FMA__))
#error "the avx2 kernels need -mavx2 -mfma"
#endif

#if defined(__AVX512F__)
#define VEC 16   /* floats per register */
#define NREGS 32 /* vector registers */
#elif defined(__AVX__)
#define VEC 8
#define NREGS 16
#else
#define VEC 4
#define NREGS 16
#endif
#ifdef SML_KLEVEL_SHAPE_OF_AVX512
/* Tests only: the AVX-512 level's vector width and tile shapes, compiled
 * for AVX2 (each 16-float vector becomes two), so that a CPU without
 * AVX-512 still checks the index arithmetic of those shapes. */
#undef VEC
#undef NREGS
#define VEC 16
#define NREGS 32
#endif

/* Register budgets of the tiled kernels (accumulators + operands <= NREGS). */
#if NREGS >= 32
#define FWD_ROWS 4 /* forward: samples sharing each weight load */
#define FWD_OUTS 6 /* ... times outputs sharing each input load: 24 accumulators */
#define WG_OUTS 14 /* weight gradient: outputs x WG_TILES vectors of columns: 28 */
#define L1_QUERIES 4
#else
#define FWD_ROWS 3 /* 12 accumulators + 3 inputs + 1 weight */
#define FWD_OUTS 4
#define WG_OUTS 6 /* 12 accumulators + 2 inputs + 1 broadcast */
#define L1_QUERIES 2
#endif
#define WG_TILES 2
#define IG_ROWS 4 /* input gradient: 4 samples x 2 vectors of columns */
#define IG_TILES 2
#define L1_REFS 4     /* L1 distance: L1_QUERIES x 4 references */
#define NARROW_MAX 16 /* the switch cases below go up to 16 outputs per group */

/* Below this much work (multiply-adds or elements) a kernel runs on the
 * calling thread alone: a parallel region costs microseconds, and on a
 * loaded node, where a thread may wait a whole time slice at every barrier,
 * far more. Results do not depend on it (each output has one owner). */
#define PAR_MIN_WORK (1 << 16)

typedef float vecf __attribute__((vector_size(VEC * sizeof(float))));
typedef int32_t veci32 __attribute__((vector_size(VEC * sizeof(int32_t))));

static inline __attribute__((always_inline)) vecf vload(const float *p) {
  vecf v;
  memcpy(&v, p, sizeof v); /* an unaligned load; no aliasing questions */
  return v;
}
static inline __attribute__((always_inline)) void vstore(float *p, vecf v) { memcpy(p, &v, sizeof v); }
static inline __attribute__((always_inline)) float lane_sum(vecf v) {
  float s = 0;
  for (int i = 0; i < VEC; i++) s += v[i];
  return s;
}

/* Splits n outputs into the fewest groups of at most max, of equal size
 * (+1 for the first ones): group g is [start, start + size). */
static inline void out_group(int64_t n, int max, int64_t g, int64_t *start, int *size) {
  const int64_t groups = (n + max - 1) / max, base = n / groups, extra = n % groups;
  *start = g * base + (g < extra ? g : extra);
  *size = (int)(base + (g < extra ? 1 : 0));
}
static inline int64_t out_groups(int64_t n, int max) { return (n + max - 1) / max; }

#define CASES_1_TO_16(F) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15) F(16)

/* ------------------------------------------------ narrow affine forward */

/* out[b .. b+R) x [o0, o0+O): R samples share every weight load and O
 * outputs share every input load, R x O accumulators in registers. */
static inline __attribute__((always_inline)) void fwd_tile(float *out, const float *in, const float *w,
                                                           const float *bias, int64_t b, int64_t Din, int64_t Dout,
                                                           int64_t o0, const int R, const int O) {
  vecf acc[FWD_ROWS][FWD_OUTS];
  const vecf zero = {0};
  for (int r = 0; r < R; r++)
    for (int o = 0; o < O; o++) acc[r][o] = zero;
  const float *x = in + b * Din, *w0 = w + o0 * Din;
  const int64_t full = Din / VEC * VEC;
  for (int64_t j = 0; j < full; j += VEC) {
    vecf xv[FWD_ROWS];
    for (int r = 0; r < R; r++) xv[r] = vload(x + r * Din + j);
    for (int o = 0; o < O; o++) {
      const vecf wt = vload(w0 + o * Din + j);
      for (int r = 0; r < R; r++) acc[r][o] += xv[r] * wt;
    }
  }
  for (int r = 0; r < R; r++)
    for (int o = 0; o < O; o++) {
      const float *wr = w0 + o * Din, *xr = x + r * Din;
      float s = bias[o0 + o] + lane_sum(acc[r][o]);
      for (int64_t j = full; j < Din; j++) s += xr[j] * wr[j];
      out[(b + r) * Dout + o0 + o] = s;
    }
}

static void narrow_forward(float *out, const float *in, const float *w, const float *bias, int64_t B, int64_t Din,
                           int64_t Dout) {
  const int64_t groups = out_groups(Dout, FWD_OUTS);
  const int64_t blocks = (B + FWD_ROWS - 1) / FWD_ROWS;
#pragma omp parallel for schedule(static) if (B * Din * Dout >= PAR_MIN_WORK)
  for (int64_t blk = 0; blk < blocks; blk++) {
    const int64_t b = blk * FWD_ROWS;
    for (int64_t g = 0; g < groups; g++) {
      int64_t o0;
      int O;
      out_group(Dout, FWD_OUTS, g, &o0, &O);
      switch (O) {
#define FWD_CASE(n)                                                                         \
  case n:                                                                                   \
    if (n <= FWD_OUTS) {                                                                    \
      if (B - b >= FWD_ROWS) fwd_tile(out, in, w, bias, b, Din, Dout, o0, FWD_ROWS, n);     \
      else                                                                                  \
        for (int64_t r = b; r < B; r++) fwd_tile(out, in, w, bias, r, Din, Dout, o0, 1, n); \
    }                                                                                       \
    break;
        CASES_1_TO_16(FWD_CASE)
#undef FWD_CASE
      }
    }
  }
}

/* ------------------------------------------ narrow affine weight gradient */

/* dw[o0 .. o0+O) x [j, j + T*VEC) += dout^T . in over the whole batch: the
 * tile stays in registers while the batch streams through. */
static inline __attribute__((always_inline)) void wgrad_tile(float *dw, const float *dout, const float *in, int64_t B,
                                                             int64_t Din, int64_t Dout, int64_t j, int64_t o0,
                                                             const int O, const int T) {
  vecf acc[WG_TILES][WG_OUTS];
  for (int o = 0; o < O; o++)
    for (int t = 0; t < T; t++) acc[t][o] = vload(dw + (o0 + o) * Din + j + t * VEC);
  for (int64_t b = 0; b < B; b++) {
    vecf x[WG_TILES];
    for (int t = 0; t < T; t++) x[t] = vload(in + b * Din + j + t * VEC);
    const float *g = dout + b * Dout + o0;
    for (int o = 0; o < O; o++) {
      const float go = g[o];
      for (int t = 0; t < T; t++) acc[t][o] += go * x[t];
    }
  }
  for (int o = 0; o < O; o++)
    for (int t = 0; t < T; t++) vstore(dw + (o0 + o) * Din + j + t * VEC, acc[t][o]);
}

static void narrow_weight_grad(float *dw, const float *dout, const float *in, int64_t B, int64_t Din, int64_t Dout) {
  const int64_t wide = Din / (WG_TILES * VEC) * (WG_TILES * VEC); /* columns in WG_TILES-vector tiles */
  const int64_t full = Din / VEC * VEC;                           /* then single vectors */
  const int64_t ntiles = wide / (WG_TILES * VEC) + (full - wide) / VEC;
  const int64_t groups = out_groups(Dout, WG_OUTS);
#pragma omp parallel for collapse(2) schedule(static) if (B * Din * Dout >= PAR_MIN_WORK)
  for (int64_t tile = 0; tile < ntiles; tile++) {
    for (int64_t g = 0; g < groups; g++) {
      const int64_t nwide = wide / (WG_TILES * VEC);
      const int64_t j = tile < nwide ? tile * WG_TILES * VEC : wide + (tile - nwide) * VEC;
      const int T = tile < nwide ? WG_TILES : 1;
      int64_t o0;
      int O;
      out_group(Dout, WG_OUTS, g, &o0, &O);
      switch (O) {
#define WG_CASE(n)                                                                   \
  case n:                                                                            \
    if (n <= WG_OUTS) {                                                              \
      if (T == WG_TILES) wgrad_tile(dw, dout, in, B, Din, Dout, j, o0, n, WG_TILES); \
      else wgrad_tile(dw, dout, in, B, Din, Dout, j, o0, n, 1);                      \
    }                                                                                \
    break;
        CASES_1_TO_16(WG_CASE)
#undef WG_CASE
      }
    }
  }
  for (int64_t o = 0; o < Dout; o++) /* the last Din % VEC columns */
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = full; j < Din; j++) dw[o * Din + j] += dout[b * Dout + o] * in[b * Din + j];
}

/* ------------------------------------------- narrow affine input gradient */

/* din[b .. b+R) x [j, j + T*VEC) = dout . w: the short sum over the Dout
 * outputs runs innermost with the tile in registers. */
static inline __attribute__((always_inline)) void igrad_tile(float *din, const float *dout, const float *w, int64_t b,
                                                             int64_t Din, int64_t Dout, int64_t j, const int R,
                                                             const int T) {
  vecf acc[IG_ROWS][IG_TILES];
  const vecf zero = {0};
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = zero;
  for (int64_t o = 0; o < Dout; o++) {
    vecf wt[IG_TILES];
    for (int t = 0; t < T; t++) wt[t] = vload(w + o * Din + j + t * VEC);
    for (int r = 0; r < R; r++) {
      const float g = dout[(b + r) * Dout + o];
      for (int t = 0; t < T; t++) acc[r][t] += g * wt[t];
    }
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) vstore(din + (b + r) * Din + j + t * VEC, acc[r][t]);
}

static inline __attribute__((always_inline)) void igrad_rows(float *din, const float *dout, const float *w, int64_t b,
                                                             int64_t Din, int64_t Dout, const int R) {
  const int64_t wide = Din / (IG_TILES * VEC) * (IG_TILES * VEC), full = Din / VEC * VEC;
  for (int64_t j = 0; j < wide; j += IG_TILES * VEC) igrad_tile(din, dout, w, b, Din, Dout, j, R, IG_TILES);
  for (int64_t j = wide; j < full; j += VEC) igrad_tile(din, dout, w, b, Din, Dout, j, R, 1);
  for (int r = 0; r < R; r++)
    for (int64_t j = full; j < Din; j++) {
      float s = 0;
      for (int64_t o = 0; o < Dout; o++) s += dout[(b + r) * Dout + o] * w[o * Din + j];
      din[(b + r) * Din + j] = s;
    }
}

static void narrow_input_grad(float *din, const float *dout, const float *w, int64_t B, int64_t Din, int64_t Dout) {
  const int64_t blocks = (B + IG_ROWS - 1) / IG_ROWS;
#pragma omp parallel for schedule(static) if (B * Din * Dout >= PAR_MIN_WORK)
  for (int64_t blk = 0; blk < blocks; blk++) {
    const int64_t b = blk * IG_ROWS;
    if (B - b >= IG_ROWS) {
      igrad_rows(din, dout, w, b, Din, Dout, IG_ROWS);
    } else {
      for (int64_t r = b; r < B; r++) igrad_rows(din, dout, w, r, Din, Dout, 1);
    }
  }
}

/* ------------------------------------------ thin convolution products */

#if NREGS >= 32
#define THIN_OUTS 8    /* forward: filters sharing each column load, x 2 vectors: 16 accumulators */
#define THIN_FILTERS 2 /* weight gradient: filters sharing each column load ... */
#define THIN_TERMS 12  /* ... times terms: 24 accumulators + 2 for the bias + 2 gradients */
#else
#define THIN_OUTS 4 /* 8 accumulators + 2 columns + 1 broadcast */
#define THIN_FILTERS 2
#define THIN_TERMS 5 /* 10 + 2 + 2 */
#endif

/* v where keep is set (all ones), else +0.0f: a mask, not a branch per lane. */
static inline __attribute__((always_inline)) vecf keep_where(vecf v, veci32 keep) {
  veci32 bits;
  memcpy(&bits, &v, sizeof bits);
  bits &= keep;
  memcpy(&v, &bits, sizeof v);
  return v;
}
/* Where v > 0, v; else +0.0f (NaN too, as relu_forward). */
static inline __attribute__((always_inline)) vecf positive_part(vecf v) {
  const vecf zero = {0};
  return keep_where(v, (veci32)(v > zero));
}

/* out rows f0 .. f0+O over [q, q + T*VEC): the K terms run innermost with
 * the tile in registers, each column load shared by the O filters. */
static inline __attribute__((always_inline)) void thin_fwd_tile(float *out, int64_t ldo, const float *col, int64_t n,
                                                                const float *w, const float *bias, int64_t f0,
                                                                int64_t K, int relu, int64_t q, const int O,
                                                                const int T) {
  vecf acc[THIN_OUTS][2];
  const vecf zero = {0};
  for (int o = 0; o < O; o++)
    for (int t = 0; t < T; t++) acc[o][t] = zero;
  for (int64_t r = 0; r < K; r++) {
    vecf c[2];
    for (int t = 0; t < T; t++) c[t] = vload(col + r * n + q + t * VEC);
    for (int o = 0; o < O; o++) {
      const float wt = w[(f0 + o) * K + r];
      for (int t = 0; t < T; t++) acc[o][t] += wt * c[t];
    }
  }
  for (int o = 0; o < O; o++)
    for (int t = 0; t < T; t++) {
      const vecf v = acc[o][t] + bias[f0 + o];
      vstore(out + (f0 + o) * ldo + q + t * VEC, relu ? positive_part(v) : v);
    }
}

static inline __attribute__((always_inline)) void thin_fwd_rows(float *out, int64_t ldo, const float *col, int64_t n,
                                                                const float *w, const float *bias, int64_t f0,
                                                                int64_t K, int relu, const int O) {
  const int64_t wide = n / (2 * VEC) * (2 * VEC), full = n / VEC * VEC;
  for (int64_t q = 0; q < wide; q += 2 * VEC) thin_fwd_tile(out, ldo, col, n, w, bias, f0, K, relu, q, O, 2);
  for (int64_t q = wide; q < full; q += VEC) thin_fwd_tile(out, ldo, col, n, w, bias, f0, K, relu, q, O, 1);
  for (int o = 0; o < O; o++)
    for (int64_t q = full; q < n; q++) { /* the same sums in the same order as a lane */
      float s = 0;
      for (int64_t r = 0; r < K; r++) s += w[(f0 + o) * K + r] * col[r * n + q];
      s += bias[f0 + o];
      out[(f0 + o) * ldo + q] = relu ? (s > 0.0f ? s : 0.0f) : s;
    }
}

static void thin_conv_forward(float *out, int64_t ldo, const float *col, int64_t n, const float *w, const float *bias,
                              int64_t F, int64_t K, int relu) {
  for (int64_t g = 0; g < out_groups(F, THIN_OUTS); g++) {
    int64_t f0;
    int O;
    out_group(F, THIN_OUTS, g, &f0, &O);
    switch (O) {
#define THIN_FWD_CASE(m)                                                          \
  case m:                                                                         \
    if (m <= THIN_OUTS) thin_fwd_rows(out, ldo, col, n, w, bias, f0, K, relu, m); \
    break;
      CASES_1_TO_16(THIN_FWD_CASE)
#undef THIN_FWD_CASE
    }
  }
}

/* dw[r0 .. r0+R) and (with_bias) db of the O filters from f: their
 * gradient rows (through the ReLU where relu_out is given) stream through
 * once, each column load shared by the O filters, O x R accumulators in
 * registers. */
static inline __attribute__((always_inline)) void thin_wgrad_tile(double *dw, double *db, const float *dout,
                                                                  const float *relu_out, int64_t ldd, const float *col,
                                                                  int64_t n, int64_t K, int64_t f, int64_t r0,
                                                                  int with_bias, const int O, const int R) {
  vecf acc[THIN_FILTERS][THIN_TERMS], accb[THIN_FILTERS];
  const vecf zero = {0};
  for (int o = 0; o < O; o++) {
    accb[o] = zero;
    for (int r = 0; r < R; r++) acc[o][r] = zero;
  }
  const int64_t full = n / VEC * VEC;
  for (int64_t q = 0; q < full; q += VEC) {
    vecf gv[THIN_FILTERS];
    for (int o = 0; o < O; o++) {
      gv[o] = vload(dout + (f + o) * ldd + q);
      if (relu_out) gv[o] = keep_where(gv[o], (veci32)(vload(relu_out + (f + o) * ldd + q) > zero));
      if (with_bias) accb[o] += gv[o];
    }
    for (int r = 0; r < R; r++) {
      const vecf c = vload(col + (r0 + r) * n + q);
      for (int o = 0; o < O; o++) acc[o][r] += gv[o] * c;
    }
  }
  for (int o = 0; o < O; o++) {
    float tail[THIN_TERMS + 1] = {0};
    for (int64_t q = full; q < n; q++) {
      const int64_t at = (f + o) * ldd + q;
      const float gq = relu_out && !(relu_out[at] > 0.0f) ? 0.0f : dout[at];
      tail[THIN_TERMS] += gq;
      for (int r = 0; r < R; r++) tail[r] += gq * col[(r0 + r) * n + q];
    }
    for (int r = 0; r < R; r++) dw[(f + o) * K + r0 + r] += (double)lane_sum(acc[o][r]) + tail[r];
    if (with_bias) db[f + o] += (double)lane_sum(accb[o]) + tail[THIN_TERMS];
  }
}

static void thin_conv_weight_grad(double *dw, double *db, const float *dout, const float *relu_out, int64_t ldd,
                                  const float *col, int64_t n, int64_t F, int64_t K) {
  for (int64_t f = 0; f < F; f += THIN_FILTERS)
    for (int64_t g = 0; g < out_groups(K, THIN_TERMS); g++) {
      int64_t r0;
      int R;
      out_group(K, THIN_TERMS, g, &r0, &R);
      switch (R) {
#define THIN_WG_CASE(m)                                                                                               \
  case m:                                                                                                             \
    if (m <= THIN_TERMS) {                                                                                            \
      if (F - f >= THIN_FILTERS)                                                                                      \
        thin_wgrad_tile(dw, db, dout, relu_out, ldd, col, n, K, f, r0, g == 0, THIN_FILTERS, m);                      \
      else                                                                                                            \
        for (int64_t o = f; o < F; o++) thin_wgrad_tile(dw, db, dout, relu_out, ldd, col, n, K, o, r0, g == 0, 1, m); \
    }                                                                                                                 \
    break;
        CASES_1_TO_16(THIN_WG_CASE)
#undef THIN_WG_CASE
      }
    }
}

/* --------------------------------------------------------- L1 distance */

/* Sums of absolute differences of uint8 vectors: PSADBW adds 8 byte
 * differences into each 64-bit lane, so sums stay exact integers. */
static inline int64_t l1_tail(const uint8_t *q, const uint8_t *r, int64_t from, int64_t dim) {
  int64_t s = 0;
  for (int64_t j = from; j < dim; j++) s += q[j] > r[j] ? q[j] - r[j] : r[j] - q[j];
  return s;
}

#if defined(SML_X86_SSE2) && defined(__AVX512BW__)
#define L1_WIDTH 64
typedef __m512i l1_vec;
#define L1_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define L1_LOAD16(p) _mm512_zextsi128_si512(_mm_loadu_si128((const __m128i *)(p)))
#define L1_SAD(a, b) _mm512_sad_epu8(a, b)
#define L1_ADD(a, b) _mm512_add_epi64(a, b)
#define L1_ZERO() _mm512_setzero_si512()
#define L1_HSUM(v) _mm512_reduce_add_epi64(v)
#elif defined(SML_X86_SSE2) && defined(__AVX2__)
#define L1_WIDTH 32
typedef __m256i l1_vec;
#define L1_LOAD(p) _mm256_loadu_si256((const __m256i *)(p))
#define L1_LOAD16(p) _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(p)))
#define L1_SAD(a, b) _mm256_sad_epu8(a, b)
#define L1_ADD(a, b) _mm256_add_epi64(a, b)
#define L1_ZERO() _mm256_setzero_si256()
static inline int64_t l1_hsum256(__m256i v) {
  const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_cvtsi128_si64(s) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s));
}
#define L1_HSUM(v) l1_hsum256(v)
#elif defined(SML_X86_SSE2)
#define L1_WIDTH 16
typedef __m128i l1_vec;
#define L1_LOAD(p) _mm_loadu_si128((const __m128i *)(p))
#define L1_SAD(a, b) _mm_sad_epu8(a, b)
#define L1_ADD(a, b) _mm_add_epi64(a, b)
#define L1_ZERO() _mm_setzero_si128()
#define L1_HSUM(v) (_mm_cvtsi128_si64(v) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)))
#endif

/* dist[q][r] (row stride ld) for Q queries x R references: every query
 * load serves R references and every reference load Q queries, Q x R
 * accumulators in registers. */
static inline __attribute__((always_inline)) void l1_tile(int64_t *dist, int64_t ld, const uint8_t *const *qs,
                                                          const uint8_t *const *refs, int64_t dim, const int Q,
                                                          const int R) {
#ifdef L1_WIDTH
  const int64_t full = dim / L1_WIDTH * L1_WIDTH;
  l1_vec acc[L1_QUERIES][L1_REFS];
  for (int q = 0; q < Q; q++)
    for (int r = 0; r < R; r++) acc[q][r] = L1_ZERO();
  for (int64_t j = 0; j < full; j += L1_WIDTH) {
    l1_vec qv[L1_QUERIES];
    for (int q = 0; q < Q; q++) qv[q] = L1_LOAD(qs[q] + j);
    for (int r = 0; r < R; r++) {
      const l1_vec rv = L1_LOAD(refs[r] + j);
      for (int q = 0; q < Q; q++) acc[q][r] = L1_ADD(acc[q][r], L1_SAD(qv[q], rv));
    }
  }
  /* The rest in 16-byte steps, into the low lanes of the same accumulators
   * (784 = 24 x 32 + 16: Fashion-MNIST always has such a tail on AVX2). */
  int64_t j = full;
#if L1_WIDTH > 16
  for (; j + 16 <= dim; j += 16) {
    l1_vec qv[L1_QUERIES];
    for (int q = 0; q < Q; q++) qv[q] = L1_LOAD16(qs[q] + j);
    for (int r = 0; r < R; r++) {
      const l1_vec rv = L1_LOAD16(refs[r] + j);
      for (int q = 0; q < Q; q++) acc[q][r] = L1_ADD(acc[q][r], L1_SAD(qv[q], rv));
    }
  }
#endif
  for (int q = 0; q < Q; q++)
    for (int r = 0; r < R; r++) dist[q * ld + r] = L1_HSUM(acc[q][r]) + l1_tail(qs[q], refs[r], j, dim);
#else
  for (int q = 0; q < Q; q++)
    for (int r = 0; r < R; r++) dist[q * ld + r] = l1_tail(qs[q], refs[r], 0, dim);
#endif
}

static void l1_distances(int64_t *dist, const uint8_t *const *queries, int64_t nq, const uint8_t *const *refs,
                         int64_t nr, int64_t dim) {
  int64_t q0 = 0;
  for (; q0 + L1_QUERIES <= nq; q0 += L1_QUERIES) {
    int64_t r0 = 0;
    for (; r0 + L1_REFS <= nr; r0 += L1_REFS)
      l1_tile(dist + q0 * nr + r0, nr, queries + q0, refs + r0, dim, L1_QUERIES, L1_REFS);
    for (; r0 < nr; r0++) l1_tile(dist + q0 * nr + r0, nr, queries + q0, refs + r0, dim, L1_QUERIES, 1);
  }
  for (; q0 < nq; q0++) {
    int64_t r0 = 0;
    for (; r0 + L1_REFS <= nr; r0 += L1_REFS)
      l1_tile(dist + q0 * nr + r0, nr, queries + q0, refs + r0, dim, 1, L1_REFS);
    for (; r0 < nr; r0++) l1_tile(dist + q0 * nr + r0, nr, queries + q0, refs + r0, dim, 1, 1);
  }
}

/* ------------------------------------------------ elementwise and losses */

/* A shuffled minibatch reads images scattered over a dataset larger than
 * the caches: each row starts with a cache miss the hardware prefetcher
 * cannot foresee, so the rows a few steps ahead are requested first. */
enum { PREP_AHEAD = 3 };

static inline void prefetch_image(const uint8_t *img, int64_t dim) {
  for (int64_t j = 0; j < dim; j += 64) __builtin_prefetch(img + j);
}

static inline void prep_row(float *row, const uint8_t *img, int64_t dim, const float *mean) {
  const float inv255 = 1.0f / 255.0f;
#pragma omp simd
  for (int64_t j = 0; j < dim; j++) row[j] = (float)img[j] * inv255 - mean[j];
}

static void prep_batch(float *out, const uint8_t *images, const int64_t *idx, int64_t batch, int64_t dim,
                       const float *mean) {
#pragma omp parallel for schedule(static) if (batch * dim >= PAR_MIN_WORK)
  for (int64_t b = 0; b < batch; b++) {
    if (b + PREP_AHEAD < batch) prefetch_image(images + (idx ? idx[b + PREP_AHEAD] : b + PREP_AHEAD) * dim, dim);
    prep_row(out + b * dim, images + (idx ? idx[b] : b) * dim, dim, mean);
  }
}

static void prep_rows(float *out, const uint8_t *const *rows, int64_t batch, int64_t dim, const float *mean) {
#pragma omp parallel for schedule(static) if (batch * dim >= PAR_MIN_WORK)
  for (int64_t b = 0; b < batch; b++) {
    if (b + PREP_AHEAD < batch) prefetch_image(rows[b + PREP_AHEAD], dim);
    prep_row(out + b * dim, rows[b], dim, mean);
  }
}

static void relu_forward(float *out, const float *in, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN_WORK)
  for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

static void relu_backward(float *din, const float *dout, const float *out, int64_t n) {
  /* Whole vectors through a mask: a branch per element would mispredict on
   * the activations' random signs, and in place (din == dout) the compiler
   * keeps a scalar loop. Elementwise, so any aliasing is fine. */
  const int64_t nvec = n / VEC;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
  for (int64_t v = 0; v < nvec; v++) {
    const vecf zero = {0}, o = vload(out + v * VEC);
    vstore(din + v * VEC, keep_where(vload(dout + v * VEC), (veci32)(o > zero))); /* +0.0f where off, as the tail */
  }
  for (int64_t i = nvec * VEC; i < n; i++) din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

static double softmax_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (B * C >= PAR_MIN_WORK)
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

static double svm_loss(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C, float margin) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (B * C >= PAR_MIN_WORK)
  for (int64_t i = 0; i < B; i++) {
    const float *s = scores + i * C;
    float *d = dscores + i * C;
    const int64_t y = labels[i];
    int64_t violations = 0;
    for (int64_t j = 0; j < C; j++) {
      const float m = s[j] - s[y] + margin;
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

/* ------------------------------------------- order-free sums (exact.h) */

/* Doubles and int64 per vector of this level; floats are read DVEC at a
 * time and widened. */
#define DVEC (VEC / 2)
typedef float vecf_half __attribute__((vector_size(DVEC * sizeof(float))));
typedef double vecd __attribute__((vector_size(DVEC * sizeof(double))));
typedef uint64_t vecu __attribute__((vector_size(DVEC * sizeof(uint64_t))));
/* Elements per thread's share when a call is split over threads: whole
 * vectors, so the split does not change which loop handles an element. */
#define FIXED_CHUNK 4096

/* The largest |x| as a bit pattern: a non-negative float's bits order like
 * its value, so one AND and one integer maximum per vector; any pattern at
 * or above infinity's (0x7f800000) is an infinite or NaN term. */
static float absmax_rows(const float *x, int64_t stride, int64_t nrows, int64_t n) {
  const int32_t abs_mask = 0x7fffffff;
  int32_t best = 0;
  for (int64_t j = 0; j < nrows; j++) {
    const float *row = x + j * stride;
    veci32 acc = {0};
    int64_t i = 0;
    for (; i + VEC <= n; i += VEC) {
      veci32 v;
      memcpy(&v, row + i, sizeof v);
      v &= abs_mask;
      acc ^= (acc ^ v) & (v > acc); /* the larger, lane by lane */
    }
    for (int l = 0; l < VEC; l++) best = acc[l] > best ? acc[l] : best;
    for (; i < n; i++) {
      int32_t b;
      memcpy(&b, row + i, sizeof b);
      b &= abs_mask;
      best = b > best ? b : best;
    }
  }
  if (best >= 0x7f800000) return INFINITY;
  float r;
  memcpy(&r, &best, sizeof r);
  return r;
}

/* DVEC floats from p, widened to doubles. GCC 12 compiles
 * __builtin_convertvector from 4 floats to 4 doubles as two 2-wide
 * conversions and an insert; the intrinsic is one instruction. */
static inline __attribute__((always_inline)) vecd load_widened(const float *p) {
#if DVEC == 8 && defined(__AVX512F__)
  return (vecd)_mm512_cvtps_pd(_mm256_loadu_ps(p));
#elif DVEC == 4 && defined(__AVX__)
  return (vecd)_mm256_cvtps_pd(_mm_loadu_ps(p));
#else
  vecf_half f;
  memcpy(&f, p, sizeof f);
  return __builtin_convertvector(f, vecd);
#endif
}

/* The bits of x * scale + 1.5 * 2^52 for DVEC floats from p: the bits of
 * 1.5 * 2^52 plus round(x * scale), for |x * scale| < 2^51. */
static inline __attribute__((always_inline)) vecu magic_fixed_bits(const float *p, double scale) {
  const vecd d = load_widened(p) * scale + 0x1.8p52;
  vecu bits;
  memcpy(&bits, &d, sizeof bits);
  return bits;
}

/* acc[i] = sum over rows j of round(x[j][i] * scale): the rounding of
 * sml_to_fixed (add 1.5 * 2^52, read the low mantissa bits). The rows'
 * bit patterns are summed as they are, modulo 2^64, and the nrows copies
 * of 1.5 * 2^52's bits are taken off once at the end; four vectors at a
 * time, as independent chains (with nrows of 2 to 4, one vector per pass
 * spent more on the loop than on the sums: 2.3x slower). x * scale is
 * exact (scale is a power of two), so contracting it into an FMA changes
 * nothing. */
static void fixed_sum_rows(int64_t *acc, const float *x, int64_t stride, int64_t nrows, int64_t n, double scale) {
  const double magic = 0x1.8p52;
  uint64_t magic_bits;
  memcpy(&magic_bits, &magic, sizeof magic_bits);
  const vecu bias = (vecu){0} + (uint64_t)nrows * magic_bits;
  const int64_t nchunks = (n + FIXED_CHUNK - 1) / FIXED_CHUNK;
#pragma omp parallel for schedule(static) if (n * nrows >= PAR_MIN_WORK)
  for (int64_t c = 0; c < nchunks; c++) {
    const int64_t lo = c * FIXED_CHUNK, hi = lo + FIXED_CHUNK < n ? lo + FIXED_CHUNK : n;
    int64_t i = lo;
    for (; i + 4 * DVEC <= hi; i += 4 * DVEC) {
      vecu s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
      for (int64_t j = 0; j < nrows; j++) {
        const float *row = x + j * stride + i;
        s0 += magic_fixed_bits(row, scale);
        s1 += magic_fixed_bits(row + DVEC, scale);
        s2 += magic_fixed_bits(row + 2 * DVEC, scale);
        s3 += magic_fixed_bits(row + 3 * DVEC, scale);
      }
      s0 -= bias;
      s1 -= bias;
      s2 -= bias;
      s3 -= bias;
      memcpy(acc + i, &s0, sizeof s0);
      memcpy(acc + i + DVEC, &s1, sizeof s1);
      memcpy(acc + i + 2 * DVEC, &s2, sizeof s2);
      memcpy(acc + i + 3 * DVEC, &s3, sizeof s3);
    }
    for (; i + DVEC <= hi; i += DVEC) {
      vecu sum = {0};
      for (int64_t j = 0; j < nrows; j++) sum += magic_fixed_bits(x + j * stride + i, scale);
      sum -= bias;
      memcpy(acc + i, &sum, sizeof sum);
    }
    for (; i < hi; i++) {
      int64_t sum = 0;
      for (int64_t j = 0; j < nrows; j++) sum += sml_to_fixed(x[j * stride + i], scale);
      acc[i] = sum;
    }
  }
}

/* out[i] = (float)((double)acc[i] * unscale). int64 -> double without
 * AVX-512DQ: the high and low 32 bits become exact doubles through the
 * mantissa (2^84 + 2^63 + hi 2^32 and 2^52 + lo), and one addition rounds
 * their sum, hi 2^32 + lo, correctly, as a conversion instruction would. */
static void fixed_to_float(float *out, const int64_t *acc, int64_t n, double unscale) {
  const uint64_t lo_mask = 0xffffffffull, hi_flip = 0x80000000ull;
  const uint64_t lo_exp = 0x4330000000000000ull, hi_exp = 0x4530000000000000ull;
  const double offset = 0x1p84 + 0x1p63 + 0x1p52;
  const int64_t nchunks = (n + FIXED_CHUNK - 1) / FIXED_CHUNK;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_WORK)
  for (int64_t c = 0; c < nchunks; c++) {
    const int64_t lo = c * FIXED_CHUNK, hi = lo + FIXED_CHUNK < n ? lo + FIXED_CHUNK : n;
    int64_t i = lo;
    for (; i + DVEC <= hi; i += DVEC) {
      vecu u;
      memcpy(&u, acc + i, sizeof u);
      const vecu lo_bits = (u & lo_mask) | lo_exp, hi_bits = ((u >> 32) ^ hi_flip) | hi_exp;
      vecd lo_d, hi_d;
      memcpy(&lo_d, &lo_bits, sizeof lo_d);
      memcpy(&hi_d, &hi_bits, sizeof hi_d);
      const vecd d = ((hi_d - offset) + lo_d) * unscale;
      const vecf_half f = __builtin_convertvector(d, vecf_half);
      memcpy(out + i, &f, sizeof f);
    }
    for (; i < hi; i++) out[i] = (float)((double)acc[i] * unscale);
  }
}

static void ordered_sum_rows(float *out, const float *x, int64_t stride, int64_t nrows, int64_t n) {
  const int64_t nchunks = (n + FIXED_CHUNK - 1) / FIXED_CHUNK;
#pragma omp parallel for schedule(static) if (n * nrows >= PAR_MIN_WORK)
  for (int64_t c = 0; c < nchunks; c++) {
    const int64_t lo = c * FIXED_CHUNK, hi = lo + FIXED_CHUNK < n ? lo + FIXED_CHUNK : n;
    int64_t i = lo;
    for (; i + 2 * DVEC <= hi; i += 2 * DVEC) { /* two independent chains */
      vecd s0 = {0}, s1 = {0};
      for (int64_t j = 0; j < nrows; j++) {
        s0 += load_widened(x + j * stride + i);
        s1 += load_widened(x + j * stride + i + DVEC);
      }
      const vecf_half f0 = __builtin_convertvector(s0, vecf_half), f1 = __builtin_convertvector(s1, vecf_half);
      memcpy(out + i, &f0, sizeof f0);
      memcpy(out + i + DVEC, &f1, sizeof f1);
    }
    for (; i < hi; i++) {
      double s = 0;
      for (int64_t j = 0; j < nrows; j++) s += x[j * stride + i];
      out[i] = (float)s;
    }
  }
}

/* ------------------------------------------------- 16-bit wire types */

/* Plain element-wise loops over the integer conversions of base/half.h:
 * branch-free selects that the compiler vectorises at each level. */
static void half_encode(uint16_t *wire, const float *g, float *residual, int64_t n, int bf16) {
  if (bf16) {
    for (int64_t i = 0; i < n; i++) {
      const float v = g[i] + residual[i];
      wire[i] = sml_bf16_from_float(v);
      residual[i] = v - sml_bf16_to_float(wire[i]);
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const float v = g[i] + residual[i];
      wire[i] = sml_f16_from_float(v);
      residual[i] = v - sml_f16_to_float(wire[i]);
    }
  }
}

static void half_decode(float *out, const uint16_t *wire, int64_t n, int bf16) {
  if (bf16)
    for (int64_t i = 0; i < n; i++) out[i] = sml_bf16_to_float(wire[i]);
  else
    for (int64_t i = 0; i < n; i++) out[i] = sml_f16_to_float(wire[i]);
}

static void half_add(uint16_t *inout, const uint16_t *in, int64_t n, int bf16) {
  if (bf16)
    for (int64_t i = 0; i < n; i++)
      inout[i] = sml_bf16_from_float(sml_bf16_to_float(inout[i]) + sml_bf16_to_float(in[i]));
  else
    for (int64_t i = 0; i < n; i++) inout[i] = sml_f16_from_float(sml_f16_to_float(inout[i]) + sml_f16_to_float(in[i]));
}

/* ---------------------------------------------------------------- table */

#define SML_STR2(x) #x
#define SML_STR(x) SML_STR2(x)
#define SML_PASTE2(a, b) a##b
#define SML_PASTE(a, b) SML_PASTE2(a, b)

const sml_kernels SML_PASTE(sml_kernels_, SML_KLEVEL) = {
    .isa = (sml_isa)SML_KLEVEL_ISA,
    .name = SML_STR(SML_KLEVEL),
    .narrow_max_out = NARROW_MAX,
    .narrow_forward = narrow_forward,
    .narrow_weight_grad = narrow_weight_grad,
    .narrow_input_grad = narrow_input_grad,
    .thin_conv_forward = thin_conv_forward,
    .thin_conv_weight_grad = thin_conv_weight_grad,
    .l1_distances = l1_distances,
    .prep_batch = prep_batch,
    .prep_rows = prep_rows,
    .relu_forward = relu_forward,
    .relu_backward = relu_backward,
    .softmax_loss = softmax_loss,
    .svm_loss = svm_loss,
    .absmax_rows = absmax_rows,
    .fixed_sum_rows = fixed_sum_rows,
    .fixed_to_float = fixed_to_float,
    .ordered_sum_rows = ordered_sum_rows,
    .half_encode = half_encode,
    .half_decode = half_decode,
    .half_add = half_add,
};
