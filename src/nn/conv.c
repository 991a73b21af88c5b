/* Convolution and pooling layers on planar batches [C, B, H, W] (see
 * nn/layers.h).
 *
 * A convolution is one matrix product for the whole batch: the input
 * patches are unfolded into col[C*k*k, B*OH*OW] (im2col), and the product
 * W[F, C*k*k] . col is the output [F, B, OH, OW] itself, planar as the
 * next layer reads it; only the bias (and the ReLU) pass over it again.
 * One large product keeps BLAS at its speed where one product per image
 * would be small (F x OH*OW). Every output element is one dot product of
 * length C*k*k, but OpenBLAS may round it differently at another place in
 * another batch (seen at C*k*k = 144 and 288): the same batch gives the
 * same bits (the reproducible mode's micro-batches are the same in every
 * layout), another batch the same values to rounding.
 *
 * 3 x 3 convolutions of stride 1 over enough channels take Winograd's
 * fewer products instead (nn/winograd.c), and convolutions with few terms
 * per output the thin algorithm below (sml_conv_pick says where). */
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "nn/layers.h"
#include "nn/vec4.h"
#include <cblas.h>

/* The unfolded input gradient a convolution's backward pass holds at a
 * time (1 MiB): a cache's worth. */
#define DCOL_FLOATS (1 << 18)

/* sum of x[n] in double, from float sums of blocks of SUM_BLOCK in
 * SUM_LANES interleaved lanes (one running sum would wait for each
 * addition before the next, and would not vectorise) */
#define SUM_LANES 16
#define SUM_BLOCK 1024
static double row_sum(const float *x, int64_t n) {
  double sum = 0.0;
  for (int64_t q0 = 0; q0 < n; q0 += SUM_BLOCK) {
    const int64_t q1 = q0 + SUM_BLOCK < n ? q0 + SUM_BLOCK : n;
    float lane[SUM_LANES] = {0};
    int64_t q = q0;
    for (; q + SUM_LANES <= q1; q += SUM_LANES)
      for (int i = 0; i < SUM_LANES; i++) lane[i] += x[q + i];
    double block = 0.0;
    for (int i = 0; i < SUM_LANES; i++) block += lane[i];
    for (; q < q1; q++) block += x[q];
    sum += block;
  }
  return sum;
}

/* The output columns x whose input column x*stride - pad + j lies inside
 * [0, w): [*x0, *x1). */
static void valid_columns(const sml_conv_shape *s, int j, int *x0, int *x1) {
  const int lo = s->pad - j, hi = s->w - 1 + s->pad - j; /* x*stride in [lo, hi] */
  *x0 = lo > 0 ? (lo + s->stride - 1) / s->stride : 0;
  *x1 = hi < 0 ? 0 : hi / s->stride + 1;
  if (*x1 > s->ow) *x1 = s->ow;
  if (*x0 > *x1) *x0 = *x1;
}

/* dst[0, n) = src[0, n), four floats at a time, the last four
 * overlapping the ones before: im2col's rows are short (14 floats at 14 x
 * 14), and a call to memcpy for each costs more than the copy. */
static inline void copy_row(float *dst, const float *src, int n) {
  if (n < 4) {
    for (int x = 0; x < n; x++) dst[x] = src[x];
    return;
  }
  for (int x = 0;; x += 4) {
    if (x > n - 4) x = n - 4;
    store4(dst + x, load4(src + x));
    if (x == n - 4) return;
  }
}

/* col[(c*k + i)*k + j][b*OH*OW + y*OW + x] = in[c][b0 + b][y*s - p + i][x*s - p + j] (0 outside), for
 * the nb images from b0 of the batch of B. */
static void im2col(float *col, const float *in, int64_t B, int64_t b0, int64_t nb, const sml_conv_shape *s) {
  const int64_t ohw = (int64_t)s->oh * s->ow, n = nb * ohw, rows = (int64_t)s->c * s->k * s->k;
#pragma omp parallel for schedule(static) if (rows * n >= (1 << 16))
  for (int64_t r = 0; r < rows; r++) {
    const int c = (int)(r / (s->k * s->k)), i = (int)(r / s->k % s->k), j = (int)(r % s->k);
    int x0, x1;
    valid_columns(s, j, &x0, &x1);
    float *dst = col + r * n;
    for (int64_t b = 0; b < nb; b++) {
      const float *src = in + ((int64_t)c * B + b0 + b) * s->h * s->w;
      for (int y = 0; y < s->oh; y++) {
        const int iy = y * s->stride - s->pad + i;
        float *d = dst + b * ohw + (int64_t)y * s->ow;
        if (iy < 0 || iy >= s->h) {
          memset(d, 0, (size_t)s->ow * sizeof *d);
          continue;
        }
        const float *row = src + (int64_t)iy * s->w - s->pad + j; /* row[x * stride] for x in [x0, x1) */
        for (int x = 0; x < x0; x++) d[x] = 0.0f;
        if (s->stride == 1) copy_row(d + x0, row + x0, x1 - x0);
        else
          for (int x = x0; x < x1; x++) d[x] = row[(int64_t)x * s->stride];
        for (int x = x1; x < s->ow; x++) d[x] = 0.0f;
      }
    }
  }
}

/* din[c][b][..] for the images b in [b0, b1) = sum of the entries of
 * col[c*k*k, (b1 - b0)*OH*OW] (their columns only) that im2col took from
 * it. Each thread owns whole (c, b) planes, so nothing is added
 * concurrently, and the additions run in the same order for any thread
 * count. */
static void col2im(float *din, const float *col, int64_t B, int64_t b0, int64_t b1, const sml_conv_shape *s) {
  const int64_t ohw = (int64_t)s->oh * s->ow, nb = b1 - b0, n = nb * ohw, hw = (int64_t)s->h * s->w;
  const int64_t planes = nb * s->c;
#pragma omp parallel for schedule(static) if (planes * hw >= (1 << 14))
  for (int64_t pl = 0; pl < planes; pl++) {
    const int c = (int)(pl / nb);
    const int64_t b = pl % nb;
    float *dst = din + ((int64_t)c * B + b0 + b) * hw;
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

int sml_chunk_threads(int64_t chunks, int64_t room) {
  int64_t nthreads = omp_get_max_threads();
  if (nthreads > room) nthreads = room;
  if (nthreads > chunks) nthreads = chunks;
  return nthreads < 1 ? 1 : (int)nthreads;
}

/* The images of a chunk whose unfolded input (col) takes at most
 * col_floats (at least one image, at most the batch), and the chunks of a
 * batch of B: the input gradient's chunks (DCOL_FLOATS) and the thin
 * algorithm's (THIN_COL_FLOATS). */
static int64_t chunk_images(int64_t B, const sml_conv_shape *s, int64_t col_floats) {
  const int64_t step = col_floats / ((int64_t)s->c * s->k * s->k * s->oh * s->ow);
  return step < 1 ? 1 : step < B ? step : B;
}
static int64_t chunk_count(int64_t B, const sml_conv_shape *s, int64_t col_floats) {
  return B > 0 ? (B + chunk_images(B, s, col_floats) - 1) / chunk_images(B, s, col_floats) : 0;
}
static int64_t dcol_images(int64_t B, const sml_conv_shape *s) { return chunk_images(B, s, DCOL_FLOATS); }

/* The thin algorithm, for convolutions whose outputs each sum few terms
 * (c*k*k: a first layer, over 1, 3 or 4 channels). There one large product
 * is all memory traffic: BLAS clears the output, writes it, the bias and
 * ReLU pass over it again, and its weight gradient (32 x 9 from a sum over
 * the whole batch) does not divide between threads. Instead the images
 * are taken a few at a time (a chunk, its size set by the shape alone), one
 * chunk per thread: unfolded into a cache's worth of col, then each output
 * written once with its bias and ReLU, and each chunk's weight and bias
 * gradient summed apart (in double, the ReLU applied as the output
 * gradient streams through), the chunks' sums added in chunk order, so
 * that the bits do not depend on the number of threads. */
#define THIN_MAX_TERMS 36
#define THIN_COL_FLOATS (1 << 16) /* a chunk's unfolded input (256 KiB) */
static int thin(const sml_conv_shape *s) { return s->algo == SML_CONV_THIN; }

static int64_t thin_images(int64_t B, const sml_conv_shape *s) { return chunk_images(B, s, THIN_COL_FLOATS); }
static int64_t thin_chunks(int64_t B, const sml_conv_shape *s) { return chunk_count(B, s, THIN_COL_FLOATS); }
/* Scratch: each chunk's sums (dw then db, in double), then one col per thread. */
static int64_t thin_sums_floats(int64_t B, const sml_conv_shape *s) {
  return 2 * thin_chunks(B, s) * ((int64_t)s->f * s->c * s->k * s->k + s->f);
}
static int64_t thin_col_floats(int64_t B, const sml_conv_shape *s) {
  return thin_images(B, s) * s->c * s->k * s->k * s->oh * s->ow;
}

static void thin_forward(float *out, const float *in, const float *w, const float *bias, int relu, int64_t B,
                         const sml_conv_shape *s, float *scratch, int64_t scratch_floats) {
  const int64_t ohw = (int64_t)s->oh * s->ow, K = (int64_t)s->c * s->k * s->k, step = thin_images(B, s);
  const int64_t per_thread = thin_col_floats(B, s), chunks = thin_chunks(B, s);
  const sml_kernels *kern = sml_kernels_active();
#pragma omp parallel num_threads(sml_chunk_threads(chunks, scratch_floats / per_thread))
  {
    float *col = scratch + (int64_t)omp_get_thread_num() * per_thread;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
      const int64_t b0 = k * step, nb = b0 + step < B ? step : B - b0;
      im2col(col, in, B, b0, nb, s);
      kern->thin_conv_forward(out + b0 * ohw, B * ohw, col, nb * ohw, w, bias, s->f, K, relu);
    }
  }
}

/* dw, db += the gradients; relu_out: the ReLU still to apply to dout (or NULL). */
static void thin_weight_grad(float *dw, float *db, const float *dout, const float *relu_out, const float *in, int64_t B,
                             const sml_conv_shape *s, float *scratch, int64_t scratch_floats) {
  const int64_t ohw = (int64_t)s->oh * s->ow, K = (int64_t)s->c * s->k * s->k, step = thin_images(B, s);
  const int64_t per_thread = thin_col_floats(B, s), chunks = thin_chunks(B, s), terms = s->f * K + s->f;
  const int64_t sums_floats = thin_sums_floats(B, s);
  double *sums = (double *)(void *)scratch; /* [chunks][dw, db]; malloc's alignment suits double */
  float *cols = scratch + sums_floats;
  memset(sums, 0, (size_t)(chunks * terms) * sizeof *sums);
  const sml_kernels *kern = sml_kernels_active();
#pragma omp parallel num_threads(sml_chunk_threads(chunks, (scratch_floats - sums_floats) / per_thread))
  {
    float *col = cols + (int64_t)omp_get_thread_num() * per_thread;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
      const int64_t b0 = k * step, nb = b0 + step < B ? step : B - b0;
      im2col(col, in, B, b0, nb, s);
      kern->thin_conv_weight_grad(sums + k * terms, sums + k * terms + s->f * K, dout + b0 * ohw,
                                  relu_out ? relu_out + b0 * ohw : NULL, B * ohw, col, nb * ohw, s->f, K);
    }
  }
  for (int64_t j = 0; j < terms; j++) {
    double total = 0.0;
    for (int64_t k = 0; k < chunks; k++) total += sums[k * terms + j];
    if (j < s->f * K) dw[j] += (float)total;
    else db[j - s->f * K] += (float)total;
  }
}

/* Measured with tests/bench/conv.c (docs/performance.md): the thin
 * algorithm is 2-2.5x faster forward at 1, 3 and 4 input channels (9 to 36
 * terms), backward from 1.25x faster (1 channel) to 0.85x (4 channels),
 * faster in all for the three, and 2-5x slower at 32 channels (288 terms:
 * BLAS's blocking pays there); Winograd's is 1.1-1.3x faster
 * from 16 channels in and out at 7 x 7 to 32 x 32, and slower with fewer
 * (at 1-4 input channels 0.4-0.7x: its matrix products are then too thin
 * for its transforms to pay). */
sml_conv_algo sml_conv_pick(const sml_conv_shape *s) {
  const int narrow = s->c < s->f ? s->c : s->f;
  if ((int64_t)s->c * s->k * s->k <= THIN_MAX_TERMS) return SML_CONV_THIN;
  return sml_winograd_fits(s) && narrow >= 16 ? SML_CONV_WINOGRAD : SML_CONV_IM2COL;
}
static int winograd(const sml_conv_shape *s) { return s->algo == SML_CONV_WINOGRAD; }
int sml_conv_keeps_col(const sml_conv_shape *s) { return s->algo == SML_CONV_IM2COL; }

int64_t sml_conv_scratch_floats(int64_t B, const sml_conv_shape *s) {
  const int64_t dcol = dcol_images(B, s) * s->c * s->k * s->k * s->oh * s->ow;
  const int64_t wino = winograd(s) ? sml_winograd_scratch_floats(B, s, omp_get_max_threads()) : 0;
  const int64_t thin_floats = thin(s) ? thin_sums_floats(B, s) + omp_get_max_threads() * thin_col_floats(B, s) : 0;
  const int64_t most = dcol > wino ? dcol : wino;
  return most > thin_floats ? most : thin_floats;
}

void sml_conv_forward(float *out, float *col, const float *in, const float *w, const float *bias, int relu, int64_t B,
                      const sml_conv_shape *s, float *scratch, int64_t scratch_floats) {
  const int64_t n = B * s->oh * s->ow, K = (int64_t)s->c * s->k * s->k;
  if (B <= 0) return; /* no outputs (and BLAS refuses the empty products' strides) */
  if (thin(s)) {
    thin_forward(out, in, w, bias, relu, B, s, scratch, scratch_floats);
    return;
  }
  if (winograd(s)) { /* col is not used */
    sml_winograd_forward(out, in, w, bias, relu, B, s, scratch, scratch_floats);
    return;
  }
  im2col(col, in, B, 0, B, s);
  /* out[F, B*OH*OW] = w[F, K] . col[K, B*OH*OW] */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->f, (int)n, (int)K, 1.0f, w, (int)K, col, (int)n, 0.0f, out,
              (int)n);
#pragma omp parallel for schedule(static) if (s->f * n >= (1 << 16))
  for (int f = 0; f < s->f; f++) {
    float *row = out + f * n;
    const float add = bias[f];
    if (relu)
      for (int64_t q = 0; q < n; q++) {
        const float v = row[q] + add;
        row[q] = v > 0.0f ? v : 0.0f;
      }
    else
      for (int64_t q = 0; q < n; q++) row[q] += add;
  }
}

void sml_conv_backward(float *din, float *dw, float *db, float *dout, const float *relu_out, float *col,
                       const float *in, const float *w, int64_t B, const sml_conv_shape *s, float *scratch,
                       int64_t scratch_floats) {
  const int64_t n = B * s->oh * s->ow, K = (int64_t)s->c * s->k * s->k;
  if (B <= 0) return;    /* nothing to add, no input gradient to write */
  if (thin(s) && !din) { /* the ReLU applied as dout streams through: nothing else reads it */
    thin_weight_grad(dw, db, dout, relu_out, in, B, s, scratch, scratch_floats);
    return;
  }
  /* Through the ReLU (dout zeroed where its output was) */
  if (relu_out) sml_relu_backward(dout, dout, relu_out, s->f * n);
  if (thin(s)) {
    thin_weight_grad(dw, db, dout, NULL, in, B, s, scratch, scratch_floats);
  } else {
    /* db[f] += the row sums */
#pragma omp parallel for schedule(static) if (s->f * n >= (1 << 16))
    for (int f = 0; f < s->f; f++) db[f] += (float)row_sum(dout + f * n, n);
    if (winograd(s)) sml_winograd_weight_grad(dw, dout, in, B, s, scratch, scratch_floats);
    else /* dw[F, K] += dout[F, n] . col[K, n]^T */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->f, (int)K, (int)n, 1.0f, dout, (int)n, col, (int)n, 1.0f,
                  dw, (int)K);
  }
  if (!din) return;
  if (winograd(s)) {
    sml_winograd_input_grad(din, dout, w, B, s, scratch, scratch_floats);
    return;
  }
  /* dcol[K, images' columns] = w[F, K]^T . dout[F, those columns], then
   * folded back onto those images' input, a few images at a time, so that
   * dcol is still in cache when it is folded (a whole batch's would be
   * written to memory, and read back) */
  const int64_t ohw = (int64_t)s->oh * s->ow, step = dcol_images(B, s);
  float *dcol = scratch;
  for (int64_t b0 = 0; b0 < B; b0 += step) {
    const int64_t nb = b0 + step < B ? step : B - b0;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)(nb * ohw), s->f, 1.0f, w, (int)K,
                dout + b0 * ohw, (int)n, 0.0f, dcol, (int)(nb * ohw));
    col2im(din, dcol, B, b0, b0 + nb, s);
  }
}

/* Where more is set (all ones), the new value and index; else the old.
 * In vec4.h's registers: written as plain comparisons, the compiler keeps
 * them as branches, which mispredict on activations. */
static inline void take_if(v4i more, v4f v, v4i at, v4f *best, v4i *where) {
  v4i bv, bb;
  memcpy(&bv, &v, sizeof bv);
  memcpy(&bb, best, sizeof bb);
  bb = (bv & more) | (bb & ~more);
  memcpy(best, &bb, sizeof bb);
  *where = (at & more) | (*where & ~more);
}

/* One output row of 2 x 2 max pooling: out[x], argmax[x] for the window
 * at input rows at/w and at/w + 1, columns 2x and 2x + 1 (the first of
 * equal values wins, NaN never does). Four windows at a time, the last
 * four overlapping the ones before where ow is not a multiple of four
 * (they are written twice, alike: a scalar tail cost as much as the rest
 * of a 7-wide row); rows of fewer than four windows one at a time. */
static void max_pool2_row(float *out, int32_t *argmax, const float *src, int32_t at, int w, int ow) {
  const float *r0 = src + at, *r1 = r0 + w;
  if (ow >= 4)
    for (int x = 0;; x += 4) {
      if (x > ow - 4) x = ow - 4;
      const v4f a0 = load4(r0 + 2 * x), a1 = load4(r0 + 2 * x + 4), b0 = load4(r1 + 2 * x), b1 = load4(r1 + 2 * x + 4);
      const v4i col = at + 2 * (x + (v4i){0, 1, 2, 3});
      v4f best = SHUFFLE4(a0, a1, 0, 2, 4, 6);
      v4i where = col;
      const v4f top_right = SHUFFLE4(a0, a1, 1, 3, 5, 7), bottom_left = SHUFFLE4(b0, b1, 0, 2, 4, 6),
                bottom_right = SHUFFLE4(b0, b1, 1, 3, 5, 7);
      take_if(top_right > best, top_right, col + 1, &best, &where);
      take_if(bottom_left > best, bottom_left, col + w, &best, &where);
      take_if(bottom_right > best, bottom_right, col + w + 1, &best, &where);
      store4(out + x, best);
      memcpy(argmax + x, &where, sizeof where);
      if (x == ow - 4) return;
    }
  for (int x = 0; x < ow; x++) {
    const int32_t c = at + 2 * x, cand[4] = {c, c + 1, c + w, c + w + 1};
    int32_t best = c;
    for (int q = 1; q < 4; q++) best = src[cand[q]] > src[best] ? cand[q] : best;
    out[x] = src[best];
    argmax[x] = best;
  }
}

void sml_pool_forward(float *out, int32_t *argmax, const float *in, int64_t B, const sml_pool_shape *s) {
  const int64_t ihw = (int64_t)s->h * s->w, ohw = (int64_t)s->oh * s->ow, planes = B * s->c;
  const float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static) if (planes * ohw >= (1 << 14))
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *src = in + pl * ihw;
    if (s->max && s->k == 2) { /* the common case, four outputs at a time */
      for (int y = 0; y < s->oh; y++)
        max_pool2_row(out + pl * ohw + (int64_t)y * s->ow, argmax + pl * ohw + (int64_t)y * s->ow, src, 2 * y * s->w,
                      s->w, s->ow);
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

/* Input rows 2y and 2y + 1 (r0, r1) of a 2 x 2 max pooling's gradient:
 * each window's output gradient at its argmax and zeros at its other three
 * places, written once (no clearing pass, no scattered additions), four
 * windows at a time; at: the plane offset of r0. With pooled (the pooling's
 * output) the gradient passes only where that is above 0. */
static void max_pool2_backward_row(float *r0, float *r1, const float *dout, const int32_t *argmax, const float *pooled,
                                   int32_t at, int w, int ow) {
  if (ow >= 4) /* four windows at a time, the last four overlapping as in max_pool2_row */
    for (int x = 0;; x += 4) {
      if (x > ow - 4) x = ow - 4;
      v4f g = load4(dout + x);
      if (pooled) g = (v4f)((v4i)g & (load4(pooled + x) > (v4f){0}));
      v4i where;
      memcpy(&where, argmax + x, sizeof where);
      const v4i place = where - (at + 2 * (x + (v4i){0, 1, 2, 3})); /* 0, 1, w or w + 1 */
      const v4i gi = (v4i)g;
      const v4f top_left = (v4f)(gi & (place == 0)), top_right = (v4f)(gi & (place == 1));
      const v4f bottom_left = (v4f)(gi & (place == w)), bottom_right = (v4f)(gi & (place == w + 1));
      store4(r0 + 2 * x, SHUFFLE4(top_left, top_right, 0, 4, 1, 5));
      store4(r0 + 2 * x + 4, SHUFFLE4(top_left, top_right, 2, 6, 3, 7));
      store4(r1 + 2 * x, SHUFFLE4(bottom_left, bottom_right, 0, 4, 1, 5));
      store4(r1 + 2 * x + 4, SHUFFLE4(bottom_left, bottom_right, 2, 6, 3, 7));
      if (x == ow - 4) break;
    }
  else
    for (int x = 0; x < ow; x++) {
      const float g = pooled && !(pooled[x] > 0.0f) ? 0.0f : dout[x];
      const int32_t place = argmax[x] - (at + 2 * x);
      r0[2 * x] = place == 0 ? g : 0.0f;
      r0[2 * x + 1] = place == 1 ? g : 0.0f;
      r1[2 * x] = place == w ? g : 0.0f;
      r1[2 * x + 1] = place == w + 1 ? g : 0.0f;
    }
  for (int x = 2 * ow; x < w; x++) r0[x] = r1[x] = 0.0f; /* a column no window takes */
}

void sml_pool_backward(float *din, const float *dout, const int32_t *argmax, const float *pooled, int64_t B,
                       const sml_pool_shape *s) {
  const int64_t ihw = (int64_t)s->h * s->w, ohw = (int64_t)s->oh * s->ow, planes = B * s->c;
  const float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static) if (planes * ihw >= (1 << 14))
  for (int64_t pl = 0; pl < planes; pl++) {
    float *dst = din + pl * ihw;
    if (s->max && s->k == 2) { /* the common case, every input written once */
      for (int y = 0; y < s->oh; y++) {
        const int64_t o = pl * ohw + (int64_t)y * s->ow;
        float *r0 = dst + (int64_t)2 * y * s->w;
        max_pool2_backward_row(r0, r0 + s->w, dout + o, argmax + o, pooled ? pooled + o : NULL, 2 * y * s->w, s->w,
                               s->ow);
      }
      memset(dst + (int64_t)2 * s->oh * s->w, 0,
             (size_t)(s->h - 2 * s->oh) * s->w * sizeof *dst); /* a row no window takes */
      continue;
    }
    memset(dst, 0, (size_t)ihw * sizeof *dst);
    for (int y = 0; y < s->oh; y++)
      for (int x = 0; x < s->ow; x++) {
        const int64_t o = pl * ohw + (int64_t)y * s->ow + x;
        if (s->max) {
          if (!pooled || pooled[o] > 0.0f) dst[argmax[o]] += dout[o];
          continue;
        }
        for (int i = 0; i < s->k; i++)
          for (int j = 0; j < s->k; j++) dst[(int64_t)(y * s->k + i) * s->w + x * s->k + j] += dout[o] * inv;
      }
  }
}
