/* 3 x 3 convolutions with stride 1 by Winograd's minimal filtering,
 * F(2 x 2, 3 x 3) (Lavin and Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016), on planar batches [C, B, H, W].
 *
 * Each 2 x 2 block of outputs (a tile) is A^T [(G g G^T) * (B^T d B)] A
 * for the 4 x 4 input patch d under it and each 3 x 3 filter g: 16
 * products per tile and channel pair where the direct sum takes 36. The
 * sums over input channels of the 16 transformed products are 16 matrix
 * products, U[xi] (cout x cin) . V[xi] (cin x tiles), one BLAS call each.
 * The input gradient is such a convolution too (of the output gradient);
 * the weight gradient sums over the tiles instead: 16 products of the
 * transformed output gradient and inputs, D[xi] (cout x tiles) .
 * V[xi]^T, taken back to 3 x 3 by G^T (.) G.
 *
 * The images are taken a few at a time (a chunk, its size set by the shape
 * alone), one chunk per thread, so that a chunk's transformed inputs and
 * products stay near the core; with several threads BLAS runs on each
 * calling thread. The results round differently from im2col's direct sums
 * (the transforms add and halve); tests/test_net.c holds both to a double
 * reference. */
#include <omp.h>
#include <string.h>

#include "nn/layers.h"
#include "nn/vec4.h"
#include <cblas.h>

/* The transformed inputs and products a thread holds for one chunk, in
 * floats (2 MiB). tests/bench/conv.c ran alike from 64k to 1M floats a
 * chunk on the Zen 5 (1 MiB L2) and 1.1x slower at 4M. */
#define CHUNK_FLOATS (1 << 19)

/* A convolution's geometry as the tiles see it: cin channels of h x w in,
 * cout channels of oh x ow out (oh = h + 2 pad - 2), th x tw tiles of 2 x 2
 * outputs, read from input rows padded to wp columns. */
typedef struct {
  int cin, cout, h, w, pad, oh, ow, th, tw, wp;
  int64_t tiles, images; /* tiles per image; images per chunk */
} tiling;

static tiling tiling_of(int cin, int cout, int h, int w, int pad) {
  tiling t = {.cin = cin, .cout = cout, .h = h, .w = w, .pad = pad, .oh = h + 2 * pad - 2, .ow = w + 2 * pad - 2};
  t.th = (t.oh + 1) / 2;
  t.tw = (t.ow + 1) / 2;
  t.wp = 2 * t.tw + 2;
  t.tiles = (int64_t)t.th * t.tw;
  const int64_t per_image = 16 * (int64_t)(cin + cout) * t.tiles;
  t.images = CHUNK_FLOATS / per_image > 1 ? CHUNK_FLOATS / per_image : 1;
  return t;
}

/* A thread's scratch: V[16, cin, T], M[16, cout, T] (T = the chunk's
 * tiles), four transformed input rows [4, wp] (their padding columns stay
 * zero), four rows of the output gradient's for the weight gradient [4,
 * wp] (their column past an odd width stays zero) and a row of zeros [wp]
 * for the rows in the padding (wp >= w + 2 pad - 2 + 2 >= w). */
static int64_t thread_floats(const tiling *t) {
  return 16 * (int64_t)(t->cin + t->cout) * t->images * t->tiles + 9 * (int64_t)t->wp;
}
typedef struct {
  float *V, *M, *rows, *grad_rows, *zeros; /* M: the products, or the output gradient's tiles */
} thread_scratch;
/* That scratch at base, its rows' padding and the zeros cleared for good. */
static thread_scratch thread_scratch_at(float *base, const tiling *t) {
  thread_scratch p = {.V = base};
  p.M = p.V + 16 * (int64_t)t->cin * t->images * t->tiles;
  p.rows = p.M + 16 * (int64_t)t->cout * t->images * t->tiles;
  p.grad_rows = p.rows + 4 * t->wp;
  p.zeros = p.rows + 8 * t->wp;
  memset(p.rows, 0, (size_t)(9 * t->wp) * sizeof *p.rows);
  return p;
}

/* The chunks of a batch of B images. */
static int64_t chunk_count(int64_t B, const tiling *t) { return (B + t->images - 1) / t->images; }

int sml_winograd_fits(const sml_conv_shape *s) { return s->k == 3 && s->stride == 1 && s->pad <= 2; }

/* U[xi][o][i] = (G g G^T)[xi] for the filter g = w[o][i] (w[f][c][3][3]);
 * flipped: g[y][x] = w[f = i][c = o][2 - y][2 - x], the filters of the input
 * gradient (cout = c, cin = f). G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
static void transform_filters(float *U, const float *w, int f, int c, int flipped) {
  const int cout = flipped ? c : f, cin = flipped ? f : c;
  for (int o = 0; o < cout; o++)
    for (int i = 0; i < cin; i++) {
      const float *src = flipped ? w + ((int64_t)i * c + o) * 9 : w + ((int64_t)o * c + i) * 9;
      float g[3][3], gg[4][3];
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) g[y][x] = flipped ? src[(2 - y) * 3 + (2 - x)] : src[y * 3 + x];
      for (int x = 0; x < 3; x++) {
        gg[0][x] = g[0][x];
        gg[1][x] = 0.5f * (g[0][x] + g[1][x] + g[2][x]);
        gg[2][x] = 0.5f * (g[0][x] - g[1][x] + g[2][x]);
        gg[3][x] = g[2][x];
      }
      for (int y = 0; y < 4; y++) {
        const float u[4] = {gg[y][0], 0.5f * (gg[y][0] + gg[y][1] + gg[y][2]), 0.5f * (gg[y][0] - gg[y][1] + gg[y][2]),
                            gg[y][2]};
        for (int x = 0; x < 4; x++) U[((int64_t)(y * 4 + x) * cout + o) * cin + i] = u[x];
      }
    }
}

/* (d B)[0..3] of four tiles whose columns start at r[0], r[2], r[4], r[6]
 * (r[0..9] read), with B = B^T^T, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 1 0 -1]: the tiles' columns 0..3 are the even and odd columns of r and
 * of r + 2, split four lanes at a time. */
static inline void row_times_b(const float *r, v4f *v0, v4f *v1, v4f *v2, v4f *v3) {
  const v4f a0 = load4(r), a1 = load4(r + 4), b0 = load4(r + 2), b1 = load4(r + 6);
  const v4f e = SHUFFLE4(a0, a1, 0, 2, 4, 6), o = SHUFFLE4(a0, a1, 1, 3, 5, 7);
  const v4f e1 = SHUFFLE4(b0, b1, 0, 2, 4, 6), o1 = SHUFFLE4(b0, b1, 1, 3, 5, 7);
  *v0 = e - e1;
  *v1 = o + e1;
  *v2 = e1 - o;
  *v3 = o - o1;
}

/* (A dY)[k] A^T of four tiles whose two columns start at r[0], r[2], r[4],
 * r[6] (r[0..7] read), A^T = [1 1 1 0; 0 1 -1 -1]: a tile's columns p, q
 * give p, p + q, p - q, -q. */
static inline void row_times_a_t(const float *r, v4f *v0, v4f *v1, v4f *v2, v4f *v3) {
  const v4f a0 = load4(r), a1 = load4(r + 4);
  const v4f p = SHUFFLE4(a0, a1, 0, 2, 4, 6), q = SHUFFLE4(a0, a1, 1, 3, 5, 7);
  *v0 = p;
  *v1 = p + q;
  *v2 = p - q;
  *v3 = -q;
}

typedef void row_transform(const float *r, v4f *v0, v4f *v1, v4f *v2, v4f *v3);

/* v[k * xs + tx] = (r X)[k] of the row's tiles tx < tw for X = B or A^T
 * (times: row_times_b or row_times_a_t; r: span columns, 2 tw + 2 or 2 tw).
 * Four tiles at a time, the last four overlapping the ones before where tw
 * is not a multiple of four (they are written twice, alike); a row of
 * fewer than four tiles through a padded copy. */
static inline void band_row_times(float *v, int64_t xs, const float *r, int tw, int span, row_transform *times) {
  v4f v0, v1, v2, v3;
  if (tw < 4) {
    float wide[10] = {0};
    memcpy(wide, r, (size_t)span * sizeof *wide);
    times(wide, &v0, &v1, &v2, &v3);
    for (int tx = 0; tx < tw; tx++)
      v[tx] = v0[tx], v[xs + tx] = v1[tx], v[2 * xs + tx] = v2[tx], v[3 * xs + tx] = v3[tx];
    return;
  }
  for (int tx = 0;; tx += 4) {
    if (tx > tw - 4) tx = tw - 4;
    times(r + 2 * tx, &v0, &v1, &v2, &v3);
    store4(v + tx, v0);
    store4(v + xs + tx, v1);
    store4(v + 2 * xs + tx, v2);
    store4(v + 3 * xs + tx, v3);
    if (tx == tw - 4) return;
  }
}

/* V[xi][ch][q * tiles + tile] = (B^T d B)[xi] for every tile of the chunk's
 * images q. Per band of four input rows (a row of tiles): B^T d straight
 * from the image (rows in the padding read from zeros) into four rows
 * padded by the caller's zero columns, then B along them, four tiles at a
 * time in registers (the tiles' columns are every other one). */
static void transform_inputs(float *V, float *rows, const float *zeros, const float *in, int64_t B, int64_t b0,
                             int64_t nb, const tiling *t) {
  const int64_t T = nb * t->tiles, xs = (int64_t)t->cin * T;
  float *r0 = rows + t->pad, *r1 = r0 + t->wp, *r2 = r1 + t->wp, *r3 = r2 + t->wp;
  for (int ch = 0; ch < t->cin; ch++)
    for (int64_t q = 0; q < nb; q++) {
      const float *plane = in + ((int64_t)ch * B + b0 + q) * t->h * t->w;
      float *v = V + (int64_t)ch * T + q * t->tiles;
      for (int ty = 0; ty < t->th; ty++) {
        const float *d[4];
        for (int i = 0; i < 4; i++) {
          const int y = 2 * ty - t->pad + i;
          d[i] = y >= 0 && y < t->h ? plane + (int64_t)y * t->w : zeros;
        }
#pragma omp simd
        for (int x = 0; x < t->w; x++) { /* B^T d */
          r0[x] = d[0][x] - d[2][x];
          r1[x] = d[1][x] + d[2][x];
          r2[x] = d[2][x] - d[1][x];
          r3[x] = d[1][x] - d[3][x];
        }
        for (int y = 0; y < 4; y++) /* ... B */
          band_row_times(v + (int64_t)(4 * y) * xs + (int64_t)ty * t->tw, xs, rows + y * t->wp, t->tw, 2 * t->tw + 2,
                         row_times_b);
      }
    }
}

/* A^T M A of four tiles: m[xi * xs + 0..3] are their products M[xi]
 * (A^T = [1 1 1 0; 0 1 -1 -1]); y0..y3 their outputs in reading order,
 * with the bias added and the ReLU applied. */
static inline void tiles_times_a(const float *m, int64_t xs, float add, int relu, v4f *y0, v4f *y1, v4f *y2, v4f *y3) {
  v4f mm[16];
  for (int xi = 0; xi < 16; xi++) mm[xi] = load4(m + xi * xs);
  const v4f a0 = mm[0] + mm[4] + mm[8], c0 = mm[4] - mm[8] - mm[12];
  const v4f a1 = mm[1] + mm[5] + mm[9], c1 = mm[5] - mm[9] - mm[13];
  const v4f a2 = mm[2] + mm[6] + mm[10], c2 = mm[6] - mm[10] - mm[14];
  const v4f a3 = mm[3] + mm[7] + mm[11], c3 = mm[7] - mm[11] - mm[15];
  v4f v[4] = {a0 + a1 + a2 + add, a1 - a2 - a3 + add, c0 + c1 + c2 + add, c1 - c2 - c3 + add};
  if (relu) /* kept where above 0 (a NaN is not), as bits */
    for (int i = 0; i < 4; i++) v[i] = (v4f)((v4i)v[i] & (v[i] > (v4f){0}));
  *y0 = v[0], *y1 = v[1], *y2 = v[2], *y3 = v[3];
}

/* Output rows out0 (and out1 unless NULL) of a row of tiles: those of the
 * tw tiles at m (products m[xi * xs + tx]), ow columns. Tiles four at a
 * time, the last four overlapping as in band_row_times, each pair of
 * output rows interleaved in registers, but for the column past an odd
 * right edge; fewer than four tiles through a padded copy of their
 * products. */
static void band_outputs(float *out0, float *out1, const float *m, int64_t xs, float add, int relu, int tw, int ow) {
  v4f y0, y1, y2, y3;
  if (tw < 4) {
    float few[16 * 4] = {0};
    for (int xi = 0; xi < 16; xi++)
      for (int tx = 0; tx < tw; tx++) few[xi * 4 + tx] = m[xi * xs + tx];
    tiles_times_a(few, 4, add, relu, &y0, &y1, &y2, &y3);
    for (int x = 0; x < ow; x++) {
      out0[x] = x % 2 ? y1[x / 2] : y0[x / 2];
      if (out1) out1[x] = x % 2 ? y3[x / 2] : y2[x / 2];
    }
    return;
  }
  for (int tx = 0;; tx += 4) {
    if (tx > tw - 4) tx = tw - 4;
    tiles_times_a(m + tx, xs, add, relu, &y0, &y1, &y2, &y3);
    const int x = 2 * tx, cut = x + 8 > ow; /* the last column outside (an odd width's half tile) */
    const v4f lo0 = SHUFFLE4(y0, y1, 0, 4, 1, 5), hi0 = SHUFFLE4(y0, y1, 2, 6, 3, 7);
    const v4f lo1 = SHUFFLE4(y2, y3, 0, 4, 1, 5), hi1 = SHUFFLE4(y2, y3, 2, 6, 3, 7);
    store4(out0 + x, lo0);
    if (out1) store4(out1 + x, lo1);
    if (!cut) {
      store4(out0 + x + 4, hi0);
      if (out1) store4(out1 + x + 4, hi1);
    } else
      for (int i = 0; i < 3; i++) {
        out0[x + 4 + i] = hi0[i];
        if (out1) out1[x + 4 + i] = hi1[i];
      }
    if (tx == tw - 4) return;
  }
}

/* out[o][b0 + q] = A^T M A (+ bias, ReLU) for every tile, a row of tiles
 * (two output rows, one at the bottom of an odd height) at a time. */
static void transform_outputs(float *out, const float *M, const float *bias, int relu, int64_t B, int64_t b0,
                              int64_t nb, const tiling *t) {
  const int64_t T = nb * t->tiles, xs = (int64_t)t->cout * T, ohw = (int64_t)t->oh * t->ow;
  for (int o = 0; o < t->cout; o++)
    for (int64_t q = 0; q < nb; q++) {
      float *plane = out + ((int64_t)o * B + b0 + q) * ohw;
      const float *m = M + (int64_t)o * T + q * t->tiles;
      for (int ty = 0; ty < t->th; ty++) {
        float *r0 = plane + (int64_t)2 * ty * t->ow, *r1 = 2 * ty + 1 < t->oh ? r0 + t->ow : NULL;
        band_outputs(r0, r1, m + (int64_t)ty * t->tw, xs, bias ? bias[o] : 0.0f, relu, t->tw, t->ow);
      }
    }
}

static void convolve(float *out, const float *in, const float *bias, int relu, int64_t B, const tiling *t,
                     float *scratch, int64_t scratch_floats) {
  const float *U = scratch;
  float *threads_scratch = scratch + 16 * (int64_t)t->cout * t->cin;
  const int64_t per_thread = thread_floats(t), chunks = chunk_count(B, t);
  const int nthreads = sml_chunk_threads(chunks, (scratch_floats - 16 * (int64_t)t->cout * t->cin) / per_thread);
#pragma omp parallel num_threads(nthreads)
  {
    const thread_scratch p = thread_scratch_at(threads_scratch + (int64_t)omp_get_thread_num() * per_thread, t);
    float *V = p.V, *M = p.M;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
      const int64_t b0 = k * t->images, nb = b0 + t->images < B ? t->images : B - b0, T = nb * t->tiles;
      transform_inputs(V, p.rows, p.zeros, in, B, b0, nb, t);
      for (int xi = 0; xi < 16; xi++) /* M[xi] (cout x T) = U[xi] (cout x cin) . V[xi] (cin x T) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t->cout, (int)T, t->cin, 1.0f,
                    U + (int64_t)xi * t->cout * t->cin, t->cin, V + xi * t->cin * T, (int)T, 0.0f, M + xi * t->cout * T,
                    (int)T);
      transform_outputs(out, M, bias, relu, B, b0, nb, t);
    }
  }
}

void sml_winograd_forward(float *out, const float *in, const float *w, const float *bias, int relu, int64_t B,
                          const sml_conv_shape *s, float *scratch, int64_t scratch_floats) {
  const tiling t = tiling_of(s->c, s->f, s->h, s->w, s->pad);
  transform_filters(scratch, w, s->f, s->c, 0);
  convolve(out, in, bias, relu, B, &t, scratch, scratch_floats);
}

/* The input gradient of a stride-1 convolution is the convolution of the
 * output gradient, padded by 2 - pad, with the filters turned by half a
 * turn and their channels swapped. */
void sml_winograd_input_grad(float *din, const float *dout, const float *w, int64_t B, const sml_conv_shape *s,
                             float *scratch, int64_t scratch_floats) {
  const tiling t = tiling_of(s->f, s->c, s->oh, s->ow, 2 - s->pad);
  transform_filters(scratch, w, s->f, s->c, 1);
  convolve(din, dout, NULL, 0, B, &t, scratch, scratch_floats);
}

/* D[xi][o][q * tiles + tile] = (A dY A^T)[xi], the gradient of the tile's
 * products M (Y = A^T M A), from the 2 x 2 block dY of dout over it (zero
 * past an odd edge), for the chunk's images q: A dY along the columns into
 * four rows (A = [1 0; 1 1; 1 -1; 0 -1]), then A^T along them. */
static void transform_output_grads(float *D, float *rows, const float *zeros, const float *dout, int64_t B, int64_t b0,
                                   int64_t nb, const tiling *t) {
  const int64_t T = nb * t->tiles, xs = (int64_t)t->cout * T, ohw = (int64_t)t->oh * t->ow;
  float *r0 = rows, *r1 = r0 + t->wp, *r2 = r1 + t->wp, *r3 = r2 + t->wp;
  for (int o = 0; o < t->cout; o++)
    for (int64_t q = 0; q < nb; q++) {
      const float *plane = dout + ((int64_t)o * B + b0 + q) * ohw;
      float *d = D + (int64_t)o * T + q * t->tiles;
      for (int ty = 0; ty < t->th; ty++) {
        const float *y0 = plane + (int64_t)2 * ty * t->ow, *y1 = 2 * ty + 1 < t->oh ? y0 + t->ow : zeros;
#pragma omp simd
        for (int x = 0; x < t->ow; x++) {
          r0[x] = y0[x];
          r1[x] = y0[x] + y1[x];
          r2[x] = y0[x] - y1[x];
          r3[x] = -y1[x];
        }
        for (int y = 0; y < 4; y++)
          band_row_times(d + (int64_t)(4 * y) * xs + (int64_t)ty * t->tw, xs, rows + y * t->wp, t->tw, 2 * t->tw,
                         row_times_a_t);
      }
    }
}

/* The weight gradient sums its products per group of chunks (of the
 * forward's images each), every group's in its own [16, f, c], at most
 * SUMS_FLOATS of them all (16 MiB): one group per chunk where that fits
 * (the benchmark network's 32 -> 64: 22 of 128 KiB), fewer for wide
 * layers (512 -> 512: one), whose sums would otherwise take more memory
 * than their unfolded input. */
#define SUMS_FLOATS (1 << 22)
static int64_t weight_grad_groups(int64_t B, const tiling *t) {
  const int64_t chunks = chunk_count(B, t), most = SUMS_FLOATS / (16 * (int64_t)t->cin * t->cout);
  return chunks < most ? chunks : most > 1 ? most : 1;
}

/* The forward pass and the input gradient: the transformed filters [16,
 * f, c] and each thread's share; the weight gradient: each group's sums
 * [16, f, c] and each thread's share. */
int64_t sml_winograd_scratch_floats(int64_t B, const sml_conv_shape *s, int nthreads) {
  const tiling fwd = tiling_of(s->c, s->f, s->h, s->w, s->pad), bwd = tiling_of(s->f, s->c, s->oh, s->ow, 2 - s->pad);
  const int64_t fw = thread_floats(&fwd), bw = thread_floats(&bwd), filters = 16 * (int64_t)s->f * s->c;
  const int64_t products = filters + (int64_t)nthreads * (fw > bw ? fw : bw);
  const int64_t weight_grad = weight_grad_groups(B, &fwd) * filters + (int64_t)nthreads * fw;
  return products > weight_grad ? products : weight_grad;
}

/* dw[o][i] += G^T S G for the sums S[xi] = sum over tiles of D[xi] * V[xi]
 * (the gradient of U = G g G^T is that of each of its 16 terms). */
static void add_filter_grads(float *dw, const float *S, int f, int c) {
  for (int o = 0; o < f; o++)
    for (int i = 0; i < c; i++) {
      const float *s = S + (int64_t)o * c + i;
      const int64_t xs = (int64_t)f * c;
      float sg[4][3], g[3][3];
      for (int y = 0; y < 4; y++) { /* S G */
        const float s0 = s[(4 * y) * xs], s1 = s[(4 * y + 1) * xs], s2 = s[(4 * y + 2) * xs], s3 = s[(4 * y + 3) * xs];
        sg[y][0] = s0 + 0.5f * (s1 + s2);
        sg[y][1] = 0.5f * (s1 - s2);
        sg[y][2] = 0.5f * (s1 + s2) + s3;
      }
      for (int x = 0; x < 3; x++) { /* G^T (S G) */
        g[0][x] = sg[0][x] + 0.5f * (sg[1][x] + sg[2][x]);
        g[1][x] = 0.5f * (sg[1][x] - sg[2][x]);
        g[2][x] = 0.5f * (sg[1][x] + sg[2][x]) + sg[3][x];
      }
      float *dst = dw + ((int64_t)o * c + i) * 9;
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) dst[y * 3 + x] += g[y][x];
    }
}

/* dw += the weight gradient: per chunk of images, the 16 sums over its
 * tiles D[xi] (f x T) . V[xi]^T (T x c), one BLAS call each, added to its
 * group's sums (chunk after chunk; one group per thread), the groups' sums
 * added in group order, so that the bits do not depend on the number of
 * threads (but for a batch of one group, whose products OpenBLAS may split
 * over threads); then back to 3 x 3 filters. As forward, 16 products per
 * tile (4 outputs) and channel pair where the unfolded input's sum takes
 * 36 (tests/bench/conv.c, 32 -> 64 at 14 x 14: 1.3-1.6x faster;
 * docs/performance.md). */
void sml_winograd_weight_grad(float *dw, const float *dout, const float *in, int64_t B, const sml_conv_shape *s,
                              float *scratch, int64_t scratch_floats) {
  if (B <= 0) return; /* no tiles: nothing to add (the sums would be unset) */
  const tiling t = tiling_of(s->c, s->f, s->h, s->w, s->pad);
  const int64_t chunks = chunk_count(B, &t), groups = weight_grad_groups(B, &t);
  const int64_t terms = 16 * (int64_t)s->f * s->c, per_thread = thread_floats(&t);
  float *sums = scratch, *threads_scratch = scratch + groups * terms;
#pragma omp parallel num_threads(sml_chunk_threads(groups, (scratch_floats - groups * terms) / per_thread))
  {
    const thread_scratch p = thread_scratch_at(threads_scratch + (int64_t)omp_get_thread_num() * per_thread, &t);
    float *V = p.V, *D = p.M;
#pragma omp for schedule(static)
    for (int64_t g = 0; g < groups; g++)
      for (int64_t k = g * chunks / groups; k < (g + 1) * chunks / groups; k++) {
        const int64_t b0 = k * t.images, nb = b0 + t.images < B ? t.images : B - b0, T = nb * t.tiles;
        const float beta = k == g * chunks / groups ? 0.0f : 1.0f; /* the group's sums start at its first chunk */
        transform_inputs(V, p.rows, p.zeros, in, B, b0, nb, &t);
        transform_output_grads(D, p.grad_rows, p.zeros, dout, B, b0, nb, &t);
        for (int xi = 0; xi < 16; xi++) /* S[xi] (cout x cin) (+)= D[xi] (cout x T) . V[xi]^T (T x cin) */
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t.cout, t.cin, (int)T, 1.0f, D + xi * t.cout * T, (int)T,
                      V + xi * t.cin * T, (int)T, beta, sums + g * terms + (int64_t)xi * t.cout * t.cin, t.cin);
      }
  }
  for (int64_t g = 1; g < groups; g++)
    for (int64_t j = 0; j < terms; j++) sums[j] += sums[g * terms + j];
  add_filter_grads(dw, sums, s->f, s->c);
}
