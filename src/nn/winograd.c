/* 3 x 3 convolutions with stride 1 by Winograd's minimal filtering,
 * F(2 x 2, 3 x 3) (Lavin and Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016), on planar batches [C, B, H, W].
 *
 * Each 2 x 2 block of outputs (a tile) is A^T [(G g G^T) * (B^T d B)] A
 * for the 4 x 4 input patch d under it and each 3 x 3 filter g: 16
 * products per tile and channel pair where the direct sum takes 36. The
 * sums over input channels of the 16 transformed products are 16 matrix
 * products, U[xi] (cout x cin) . V[xi] (cin x tiles), one BLAS call each.
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
#include <cblas.h>

/* The transformed inputs and products a thread holds for one chunk, in
 * floats (2 MiB). tests/bench/conv.c ran alike from 64k to 1M floats a
 * chunk on the Zen 5 (1 MiB L2) and 1.1x slower at 4M. */
#define CHUNK_FLOATS (1 << 19)

/* A convolution's geometry as the tiles see it: cin channels of h x w in,
 * cout channels of oh x ow out (oh = h + 2 pad - 2), th x tw tiles of 2 x 2
 * outputs, each input plane copied into a zero-padded hp x wp frame. */
typedef struct {
  int cin, cout, h, w, pad, oh, ow, th, tw, hp, wp;
  int64_t tiles, images; /* tiles per image; images per chunk */
} tiling;

static tiling tiling_of(int cin, int cout, int h, int w, int pad) {
  tiling t = {.cin = cin, .cout = cout, .h = h, .w = w, .pad = pad, .oh = h + 2 * pad - 2, .ow = w + 2 * pad - 2};
  t.th = (t.oh + 1) / 2;
  t.tw = (t.ow + 1) / 2;
  t.hp = 2 * t.th + 2;
  t.wp = 2 * t.tw + 2;
  t.tiles = (int64_t)t.th * t.tw;
  const int64_t per_image = 16 * (int64_t)(cin + cout) * t.tiles;
  t.images = CHUNK_FLOATS / per_image > 1 ? CHUNK_FLOATS / per_image : 1;
  return t;
}

/* A thread's scratch: V[16, cin, T], M[16, cout, T] (T = the chunk's
 * tiles), the padded frame [hp, wp] and rows: four transformed input rows
 * [4, wp], later the outputs [4, T]. */
static int64_t thread_floats(const tiling *t) {
  const int64_t T = t->images * t->tiles, rows = 4 * (T > t->wp ? T : (int64_t)t->wp);
  return 16 * (int64_t)(t->cin + t->cout) * T + (int64_t)t->hp * t->wp + rows;
}

int sml_winograd_fits(const sml_conv_shape *s) { return s->k == 3 && s->stride == 1 && s->pad <= 2; }

int64_t sml_winograd_scratch_floats(const sml_conv_shape *s, int nthreads) {
  const tiling fwd = tiling_of(s->c, s->f, s->h, s->w, s->pad), bwd = tiling_of(s->f, s->c, s->oh, s->ow, 2 - s->pad);
  const int64_t fw = thread_floats(&fwd), bw = thread_floats(&bwd);
  return 16 * (int64_t)s->f * s->c + (int64_t)nthreads * (fw > bw ? fw : bw);
}

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

/* V[xi][ch][q * tiles + tile] = (B^T d B)[xi] for every tile of the chunk's
 * images q; B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Each plane is
 * copied into the frame with its even columns first and its odd ones after
 * (tw + 1 each), so that the tiles' columns 0..3 are e[tx], o[tx],
 * e[tx + 1], o[tx + 1]: contiguous in tx, and the loops vectorise. The
 * frame's padding is zeroed by the caller once; the copies never write
 * there. */
static void transform_inputs(float *V, float *frame, float *rows, const float *in, int64_t B, int64_t b0, int64_t nb,
                             const tiling *t) {
  const int64_t T = nb * t->tiles, xs = (int64_t)t->cin * T;
  const int half = t->tw + 1;
  /* Input column x lands in frame column x + pad: the even ones from
   * x = first_even on, at (x + pad) / 2; the odd ones after them. */
  const int first_even = t->pad & 1, first_odd = 1 - first_even;
  const int even_at = (t->pad + first_even) / 2, odd_at = half + (t->pad + first_odd) / 2;
  const int neven = (t->w - first_even + 1) / 2, nodd = (t->w - first_odd + 1) / 2;
  for (int ch = 0; ch < t->cin; ch++)
    for (int64_t q = 0; q < nb; q++) {
      const float *plane = in + ((int64_t)ch * B + b0 + q) * t->h * t->w;
      for (int y = 0; y < t->h; y++) {
        float *dst = frame + (int64_t)(y + t->pad) * t->wp;
        const float *src = plane + (int64_t)y * t->w;
        for (int k = 0; k < neven; k++) dst[even_at + k] = src[first_even + 2 * k];
        for (int k = 0; k < nodd; k++) dst[odd_at + k] = src[first_odd + 2 * k];
      }
      float *restrict v = V + (int64_t)ch * T + q * t->tiles;
      float *restrict r = rows;
      for (int ty = 0; ty < t->th; ty++) {
        const float *d0 = frame + (int64_t)2 * ty * t->wp, *d1 = d0 + t->wp, *d2 = d1 + t->wp, *d3 = d2 + t->wp;
        float *r0 = r, *r1 = r0 + t->wp, *r2 = r1 + t->wp, *r3 = r2 + t->wp;
#pragma omp simd
        for (int x = 0; x < t->wp; x++) { /* B^T d, for a band of four rows */
          r0[x] = d0[x] - d2[x];
          r1[x] = d1[x] + d2[x];
          r2[x] = d2[x] - d1[x];
          r3[x] = d1[x] - d3[x];
        }
        for (int y = 0; y < 4; y++) { /* ... B, every tile of the band at once */
          const float *e = r + y * t->wp, *o = e + half;
          float *v0 = v + (int64_t)(4 * y) * xs + (int64_t)ty * t->tw, *v1 = v0 + xs, *v2 = v1 + xs, *v3 = v2 + xs;
#pragma omp simd
          for (int tx = 0; tx < t->tw; tx++) {
            v0[tx] = e[tx] - e[tx + 1];
            v1[tx] = o[tx] + e[tx + 1];
            v2[tx] = e[tx + 1] - o[tx];
            v3[tx] = o[tx] - o[tx + 1];
          }
        }
      }
    }
}

/* out[o][b0 + q] = A^T M A (+ bias, ReLU) for every tile; A^T = [1 1 1 0;
 * 0 1 -1 -1]. The arithmetic runs over all the chunk's tiles at once
 * (contiguous, so it vectorises) into y[4][T], a tile's four outputs in
 * reading order; then each row of tiles goes to its two output rows. */
static void transform_outputs(float *out, float *y, const float *M, const float *bias, int relu, int64_t B, int64_t b0,
                              int64_t nb, const tiling *t) {
  const int64_t T = nb * t->tiles, xs = (int64_t)t->cout * T, ohw = (int64_t)t->oh * t->ow;
  float *restrict y0 = y, *restrict y1 = y + T, *restrict y2 = y + 2 * T, *restrict y3 = y + 3 * T;
  for (int o = 0; o < t->cout; o++) {
    const float add = bias ? bias[o] : 0.0f;
    const float *restrict m = M + (int64_t)o * T;
#pragma omp simd
    for (int64_t k = 0; k < T; k++) {
      /* A^T M: the two output rows' sums (a, c), column by column */
      const float a0 = m[k] + m[4 * xs + k] + m[8 * xs + k], c0 = m[4 * xs + k] - m[8 * xs + k] - m[12 * xs + k];
      const float a1 = m[xs + k] + m[5 * xs + k] + m[9 * xs + k], c1 = m[5 * xs + k] - m[9 * xs + k] - m[13 * xs + k];
      const float a2 = m[2 * xs + k] + m[6 * xs + k] + m[10 * xs + k],
                  c2 = m[6 * xs + k] - m[10 * xs + k] - m[14 * xs + k];
      const float a3 = m[3 * xs + k] + m[7 * xs + k] + m[11 * xs + k],
                  c3 = m[7 * xs + k] - m[11 * xs + k] - m[15 * xs + k];
      const float v0 = a0 + a1 + a2 + add, v1 = a1 - a2 - a3 + add, v2 = c0 + c1 + c2 + add, v3 = c1 - c2 - c3 + add;
      y0[k] = relu ? (v0 > 0.0f ? v0 : 0.0f) : v0;
      y1[k] = relu ? (v1 > 0.0f ? v1 : 0.0f) : v1;
      y2[k] = relu ? (v2 > 0.0f ? v2 : 0.0f) : v2;
      y3[k] = relu ? (v3 > 0.0f ? v3 : 0.0f) : v3;
    }
    for (int64_t q = 0; q < nb; q++) {
      float *plane = out + ((int64_t)o * B + b0 + q) * ohw;
      for (int ty = 0; ty < t->th; ty++) {
        const int64_t k0 = q * t->tiles + (int64_t)ty * t->tw;
        float *r0 = plane + (int64_t)2 * ty * t->ow, *r1 = r0 + t->ow;
        const int full = t->ow / 2; /* tiles with both columns inside */
        for (int tx = 0; tx < full; tx++) {
          r0[2 * tx] = y0[k0 + tx];
          r0[2 * tx + 1] = y1[k0 + tx];
        }
        if (full < t->tw) r0[2 * full] = y0[k0 + full];
        if (2 * ty + 1 >= t->oh) continue; /* the last tile row's bottom is outside */
        for (int tx = 0; tx < full; tx++) {
          r1[2 * tx] = y2[k0 + tx];
          r1[2 * tx + 1] = y3[k0 + tx];
        }
        if (full < t->tw) r1[2 * full] = y2[k0 + full];
      }
    }
  }
}

static void convolve(float *out, const float *in, const float *bias, int relu, int64_t B, const tiling *t,
                     float *scratch, int64_t scratch_floats) {
  const float *U = scratch;
  float *threads_scratch = scratch + 16 * (int64_t)t->cout * t->cin;
  const int64_t per_thread = thread_floats(t), chunks = (B + t->images - 1) / t->images;
  const int nthreads = sml_chunk_threads(chunks, (scratch_floats - 16 * (int64_t)t->cout * t->cin) / per_thread);
#pragma omp parallel num_threads(nthreads)
  {
    float *mine = threads_scratch + (int64_t)omp_get_thread_num() * per_thread;
    float *V = mine, *M = V + 16 * (int64_t)t->cin * t->images * t->tiles;
    float *frame = M + 16 * (int64_t)t->cout * t->images * t->tiles, *rows = frame + (int64_t)t->hp * t->wp;
    memset(frame, 0, (size_t)t->hp * t->wp * sizeof *frame); /* the padding, for good */
#pragma omp for schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
      const int64_t b0 = k * t->images, nb = b0 + t->images < B ? t->images : B - b0, T = nb * t->tiles;
      transform_inputs(V, frame, rows, in, B, b0, nb, t);
      for (int xi = 0; xi < 16; xi++) /* M[xi] (cout x T) = U[xi] (cout x cin) . V[xi] (cin x T) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t->cout, (int)T, t->cin, 1.0f,
                    U + (int64_t)xi * t->cout * t->cin, t->cin, V + xi * t->cin * T, (int)T, 0.0f, M + xi * t->cout * T,
                    (int)T);
      transform_outputs(out, rows, M, bias, relu, B, b0, nb, t);
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
