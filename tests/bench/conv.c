/* Convolution benchmark (not a test): each algorithm of nn/conv.c (im2col +
 * one sgemm, Winograd's F(2 x 2, 3 x 3)) on the shapes the example networks
 * use, forward and backward, batch 128, at the kernel level and thread
 * count in effect (SHARDML_ISA, OMP_NUM_THREADS). It is how sml_conv_pick's
 * rule was chosen (times: timing.h).
 * Usage: sml_bench_conv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_core.h"
#include "kernels/kernels.h"
#include "nn/layers.h"
#include "shardml/comm.h"
#include "timing.h"

static void bench_shape(const char *what, int c, int hw, int f, int64_t B) {
  sml_conv_shape s = {.c = c, .h = hw, .w = hw, .f = f, .k = 3, .stride = 1, .pad = 1, .oh = hw, .ow = hw};
  const int64_t in_n = (int64_t)c * B * hw * hw, out_n = (int64_t)f * B * hw * hw, K = (int64_t)c * 9;
  float *in = sml_bench_randf(in_n, 1), *w = sml_bench_randf(f * K, 2), *bias = sml_bench_randf(f, 3),
        *dout0 = sml_bench_randf(out_n, 4);
  float *out = malloc((size_t)out_n * sizeof *out), *dout = malloc((size_t)out_n * sizeof *dout);
  float *col = malloc((size_t)(K * B * hw * hw) * sizeof *col), *din = malloc((size_t)in_n * sizeof *din);
  float *dw = calloc((size_t)(f * K), sizeof *dw), *db = calloc((size_t)f, sizeof *db);
  int64_t scratch_n = 0;
  for (int a = 0; a < SML_CONV_ALGOS; a++) {
    s.algo = (sml_conv_algo)a;
    const int64_t n = sml_conv_scratch_floats(B, &s);
    if (n > scratch_n) scratch_n = n;
  }
  float *scratch = malloc((size_t)scratch_n * sizeof *scratch);
  double fwd[SML_CONV_ALGOS], bwd[SML_CONV_ALGOS], first[SML_CONV_ALGOS];
  for (int a = 0; a < SML_CONV_ALGOS; a++) {
    s.algo = (sml_conv_algo)a;
    SML_BENCH_TIME(fwd[a], sml_conv_forward(out, col, in, w, bias, 1, B, &s, scratch, scratch_n));
    /* dout is passed back through the ReLU in place: a fresh copy each call */
    SML_BENCH_TIME(bwd[a], (memcpy(dout, dout0, (size_t)out_n * sizeof *dout),
                            sml_conv_backward(din, dw, db, dout, out, col, in, w, B, &s, scratch, scratch_n)));
    SML_BENCH_TIME(first[a], (memcpy(dout, dout0, (size_t)out_n * sizeof *dout),
                              sml_conv_backward(NULL, dw, db, dout, out, col, in, w, B, &s, scratch, scratch_n)));
  }
  s.algo = SML_CONV_IM2COL;
  const sml_conv_algo picked = sml_conv_pick(&s);
  printf("%-20s", what);
  for (int a = 0; a < SML_CONV_ALGOS; a++) printf(" %7.2f", fwd[a] * 1e3);
  for (int a = 0; a < SML_CONV_ALGOS; a++) printf(" %7.2f", bwd[a] * 1e3);
  for (int a = 0; a < SML_CONV_ALGOS; a++) printf(" %7.2f", first[a] * 1e3);
  printf("   %s\n", picked == SML_CONV_WINOGRAD ? "winograd" : picked == SML_CONV_THIN ? "thin" : "im2col");
  free(in), free(w), free(bias), free(dout0), free(out), free(dout), free(col), free(din), free(dw), free(db);
  free(scratch);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  const int64_t B = 128;
  printf("cpu %s, kernel level %s, BLAS %s, %d thread(s)\n", sml_cpu_model(), sml_kernels_active()->name,
         sml_blas_summary(), sml_threads());
  printf("batch %lld; ms per call (forward with ReLU; backward: weight and input gradient)\n", (long long)B);
  printf("%-20s %-23s %-23s %-23s\n", "", "forward", "backward", "backward, no input grad");
  printf("%-20s", "c -> f, h x w");
  for (int part = 0; part < 3; part++) printf(" %7s %7s %7s", "im2col", "winogr.", "thin");
  printf("   picked\n");
  const struct {
    const char *what;
    int c, hw, f;
  } shapes[] = {{"1 -> 32, 28 x 28", 1, 28, 32}, {"4 -> 32, 28 x 28", 4, 28, 32},   {"32 -> 64, 14 x 14", 32, 14, 64},
                {"3 -> 32, 32 x 32", 3, 32, 32}, {"32 -> 32, 32 x 32", 32, 32, 32}, {"32 -> 64, 16 x 16", 32, 16, 64},
                {"64 -> 64, 7 x 7", 64, 7, 64},  {"64 -> 128, 8 x 8", 64, 8, 128}};
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
    bench_shape(shapes[i].what, shapes[i].c, shapes[i].hw, shapes[i].f, B);
  sml_finalize();
  return 0;
}
