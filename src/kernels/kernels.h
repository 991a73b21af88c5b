/* src/kernels/: the arithmetic BLAS does not do, per CPU level, and the BLAS set-up. */
/* CPU kernels chosen at run time, per instruction-set level.
 *
 * The hot loops that are not BLAS calls (narrow affine layers, the L1
 * distance, batch preparation, ReLU and the per-sample losses) are written
 * once, in src/kernels/kernels_level.c, and compiled once per level with
 * that level's flags. At start-up one set is chosen for the CPU the process
 * runs on, so a single binary runs everywhere and still uses AVX2 or
 * AVX-512 where the CPU has them; the rest of shardml is portable C built
 * for the baseline (SML_MARCH, x86-64-v2 by default).
 *
 * SHARDML_ISA=generic|avx2|avx512 caps the level (for tests, comparisons and
 * nodes where a lower level is faster); asking for a level the CPU or the
 * build lacks is an error, never an illegal instruction.
 *
 * Every set computes the same functions; they round differently (other
 * vector widths sum in other orders, FMA or not), so runs on two levels
 * agree to float rounding, not bitwise. Within one level the results do not
 * depend on the number of threads: every output element is computed by one
 * thread in a fixed order. */
#ifndef SHARDML_KERNELS_H
#define SHARDML_KERNELS_H

#include <stdint.h>

#include "base/cpu.h" /* sml_cpu_model, for the callers that name the CPU */
#include "shardml/error.h"

/* The environment variable that caps the level. */
#define SML_ISA_ENV "SHARDML_ISA"

typedef enum { SML_ISA_GENERIC = 0, SML_ISA_AVX2 = 1, SML_ISA_AVX512 = 2, SML_ISA_COUNT } sml_isa;

typedef struct {
  sml_isa isa;
  const char *name; /* "generic", "avx2", "avx512" */
  /* Affine layers with at most this many outputs use the narrow kernels
   * below; wider ones call cblas_sgemm (measured per level: docs/performance.md). */
  int64_t narrow_max_out;

  /* out[B,Dout] = in[B,Din] . w[Dout,Din]^T + b[Dout]   (Dout <= narrow_max_out) */
  void (*narrow_forward)(float *out, const float *in, const float *w, const float *b, int64_t B, int64_t Din,
                         int64_t Dout);
  /* dw[Dout,Din] += dout[B,Dout]^T . in[B,Din]   (accumulates; Dout <= narrow_max_out) */
  void (*narrow_weight_grad)(float *dw, const float *dout, const float *in, int64_t B, int64_t Din, int64_t Dout);
  /* din[B,Din] = dout[B,Dout] . w[Dout,Din]   (overwrites; Dout <= narrow_max_out) */
  void (*narrow_input_grad)(float *din, const float *dout, const float *w, int64_t B, int64_t Din, int64_t Dout);
  /* A convolution's product when each output has few terms (K = c*k*k),
   * over its unfolded input col[K, n]: out[f * ldo + q] = bias[f] +
   * sum_r w[f * K + r] * col[r * n + q] (r ascending, the bias last),
   * through a ReLU when relu is set; f < F, q < n. Single-threaded. */
  void (*thin_conv_forward)(float *out, int64_t ldo, const float *col, int64_t n, const float *w, const float *bias,
                            int64_t F, int64_t K, int relu);
  /* Its gradients, accumulated in double: with g[f][q] = dout[f * ldd + q]
   * (0 where relu_out[f * ldd + q] is not > 0, if relu_out is given),
   * db[f] += sum_q g[f][q] and dw[f * K + r] += sum_q g[f][q] * col[r * n
   * + q], each sum from float sums in vector lanes. Single-threaded. */
  void (*thin_conv_weight_grad)(double *dw, double *db, const float *dout, const float *relu_out, int64_t ldd,
                                const float *col, int64_t n, int64_t F, int64_t K);
  /* dist[q * nr + r] = sum_j |queries[q][j] - refs[r][j]|: exact (uint8
   * inputs). Single-threaded: callers parallelise over query blocks. */
  void (*l1_distances)(int64_t *dist, const uint8_t *const *queries, int64_t nq, const uint8_t *const *refs, int64_t nr,
                       int64_t dim);
  /* out[b, :] = images[idx[b], :] / 255 - mean   (idx NULL: row b); out [batch, dim] */
  void (*prep_batch)(float *out, const uint8_t *images, const int64_t *idx, int64_t batch, int64_t dim,
                     const float *mean);
  /* out[b, :] = rows[b][:] / 255 - mean; the same values as prep_batch */
  void (*prep_rows)(float *out, const uint8_t *const *rows, int64_t batch, int64_t dim, const float *mean);
  /* out[n] = max(in[n], 0); may alias */
  void (*relu_forward)(float *out, const float *in, int64_t n);
  /* din[n] = dout[n] where out[n] > 0, else 0; may alias */
  void (*relu_backward)(float *din, const float *dout, const float *out, int64_t n);
  /* Per-sample losses: see nn/layers.h (sum of losses, dscores overwritten). */
  double (*softmax_loss)(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C);
  double (*svm_loss)(float *dscores, const float *scores, const uint8_t *labels, int64_t B, int64_t C, float margin);

  /* Order-free sums (base/exact.h); rows j < nrows of n floats at
   * x + j * stride. Every level gives the same bits: the arithmetic is exact
   * up to one rounding that all levels do alike. */
  /* max |x| over the rows, or INFINITY if any term is NaN or infinite.
   * Single-threaded. */
  float (*absmax_rows)(const float *x, int64_t stride, int64_t nrows, int64_t n);
  /* acc[i] = sum_j sml_to_fixed(x[j][i], scale); terms finite with
   * |x * scale| < 2^51 (sml_fixed_exponent's scale). */
  void (*fixed_sum_rows)(int64_t *acc, const float *x, int64_t stride, int64_t nrows, int64_t n, double scale);
  /* out[i] = (float)((double)acc[i] * unscale) */
  void (*fixed_to_float)(float *out, const int64_t *acc, int64_t n, double unscale);
  /* out[i] = (float)(((double)x[0][i] + x[1][i]) + ... + x[nrows-1][i]): the
   * rows added in row order in double, rounded once (a sum in a fixed order
   * rather than an order-free one; the same bits at every level: additions
   * only, nothing to contract) */
  void (*ordered_sum_rows)(float *out, const float *x, int64_t stride, int64_t nrows, int64_t n);
  /* 16-bit wire types (base/half.h; bf16 1, fp16 0): wire[i] =
   * round(g[i] + residual[i]) and residual[i] = what rounding left out;
   * out[i] = float(wire[i]); inout[i] = round(float(inout[i]) + float(in[i])). */
  void (*half_encode)(uint16_t *wire, const float *g, float *residual, int64_t n, int bf16);
  void (*half_decode)(float *out, const uint16_t *wire, int64_t n, int bf16);
  void (*half_add)(uint16_t *inout, const uint16_t *in, int64_t n, int bf16);
} sml_kernels;

const char *sml_isa_name(sml_isa isa);
/* "generic", "avx2", "avx512" (any case); -1 if unknown. */
int sml_isa_parse(const char *s, sml_isa *isa);

/* The highest level this CPU and OS support and this build has kernels for. */
sml_isa sml_isa_best(void);
/* The kernel set of a level, or NULL when this build or this CPU lacks it. */
const sml_kernels *sml_kernels_for(sml_isa isa);

/* Chooses the active set: the best level, capped by cap (a level name, or
 * NULL/"" for no cap). A cap the CPU or build cannot run is SML_EINPUT,
 * naming the variable, the CPU and what it supports; the active set is then
 * left as it was. Not thread-safe: call before any parallel region. */
int sml_kernels_select(const char *cap, sml_err *err);
/* sml_kernels_select(getenv(SHARDML_ISA)). */
int sml_kernels_init(sml_err *err);
/* Makes a level active (it must be supported: sml_kernels_for != NULL). */
void sml_kernels_use(sml_isa isa);
/* The active set. Until one is chosen, the best for this CPU. */
const sml_kernels *sml_kernels_active(void);

#endif
