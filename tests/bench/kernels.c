/* Kernel benchmark (not a test): every dispatched kernel on every level this
 * CPU runs, against cblas_sgemm for the same product, on the shapes training
 * uses. It is how narrow_max_out was chosen: a narrow kernel is only worth
 * having where it beats OpenBLAS.
 * Usage: sml_bench_kernels   (threads from OMP_NUM_THREADS) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_core.h"
#include "shardml/comm.h"
#include "timing.h"
#include "kernels/kernels.h"

static void bench_shape(int64_t B, int64_t Din, int64_t Dout) {
  float *in = sml_bench_randf(B * Din, 1), *w = sml_bench_randf(Dout * Din, 2), *bias = sml_bench_randf(Dout, 3),
        *dout = sml_bench_randf(B * Dout, 4);
  float *out = malloc((size_t)(B * Dout) * sizeof *out), *dw = calloc((size_t)(Dout * Din), sizeof *dw);
  float *din = malloc((size_t)(B * Din) * sizeof *din);
  const double gf = 2.0 * (double)B * (double)Din * (double)Dout * 1e-9;
  double s;
  printf("B=%lld Din=%lld Dout=%lld (GFLOP/s)\n", (long long)B, (long long)Din, (long long)Dout);
  SML_BENCH_TIME(s, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)Dout, (int)Din, 1.0f, in,
                                (int)Din, w, (int)Din, 1.0f, out, (int)Dout));
  printf("  %-8s forward %6.1f", "sgemm", gf / s);
  SML_BENCH_TIME(s, cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Dout, (int)Din, (int)B, 1.0f, dout,
                                (int)Dout, in, (int)Din, 1.0f, dw, (int)Din));
  printf("  weight grad %6.1f", gf / s);
  SML_BENCH_TIME(s, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)Din, (int)Dout, 1.0f, dout,
                                (int)Dout, w, (int)Din, 0.0f, din, (int)Din));
  printf("  input grad %6.1f\n", gf / s);
  for (int l = 0; l < SML_ISA_COUNT; l++) {
    const sml_kernels *k = sml_kernels_for((sml_isa)l);
    if (!k) {
      printf("  %-8s skipped: this CPU or build lacks it\n", sml_isa_name((sml_isa)l));
      continue;
    }
    SML_BENCH_TIME(s, k->narrow_forward(out, in, w, bias, B, Din, Dout));
    printf("  %-8s forward %6.1f", k->name, gf / s);
    SML_BENCH_TIME(s, k->narrow_weight_grad(dw, dout, in, B, Din, Dout));
    printf("  weight grad %6.1f", gf / s);
    SML_BENCH_TIME(s, k->narrow_input_grad(din, dout, w, B, Din, Dout));
    printf("  input grad %6.1f\n", gf / s);
  }
  free(in);
  free(w);
  free(bias);
  free(dout);
  free(out);
  free(dw);
  free(din);
}

static void bench_elementwise(void) {
  const int64_t B = 128, D = 784, N = 60000, nref = 256;
  uint8_t *images = malloc((size_t)(N * D));
  for (int64_t i = 0; i < N * D; i++) images[i] = (uint8_t)(i * 2654435761u >> 24);
  int64_t *idx = malloc((size_t)B * sizeof *idx);
  for (int64_t i = 0; i < B; i++) idx[i] = (i * 7919) % N;
  float *mean = sml_bench_randf(D, 5), *x = malloc((size_t)(B * D) * sizeof *x);
  const uint8_t *refs[256];
  for (int64_t i = 0; i < nref; i++) refs[i] = images + (i * 37 % N) * D;
  const uint8_t *queries[8];
  for (int64_t i = 0; i < 8; i++) queries[i] = images + (i * 101 % N) * D;
  int64_t *dist = malloc(8 * 256 * sizeof *dist);
  printf("elementwise (GB/s of uint8 read) and L1 (query-reference pairs per microsecond)\n");
  for (int l = 0; l < SML_ISA_COUNT; l++) {
    const sml_kernels *k = sml_kernels_for((sml_isa)l);
    if (!k) continue;
    double s;
    SML_BENCH_TIME(s, k->prep_batch(x, images, idx, B, D, mean));
    printf("  %-8s prep_batch %6.2f", k->name, (double)(B * D) * 1e-9 / s);
    SML_BENCH_TIME(s, k->l1_distances(dist, queries, 8, refs, nref, D));
    printf("  l1_distances %6.1f\n", 8.0 * (double)nref * 1e-6 / s);
  }
  free(images);
  free(idx);
  free(mean);
  free(x);
  free(dist);
}

/* The order-free sums of --reproducible on the 784-256-10 MLP's gradient:
 * the scan for the largest magnitude of one micro-batch's gradient, the
 * sum of 2 and 4 of them to fixed point (2 x 1 and 1 x 1 at batch 512),
 * and the conversion of the sums back to float (in pieces, as the
 * optimizer does). Microseconds per call, from cache. */
static void bench_exact_sums(void) {
  const int64_t n = 203530, rows = 4, piece = 1 << 14;
  float *grads = sml_bench_randf(rows * n, 6), *out = malloc((size_t)n * sizeof *out);
  int64_t *acc = malloc((size_t)n * sizeof *acc);
  for (int64_t i = 0; i < n; i++) acc[i] = ((int64_t)i * 2654435761) % ((int64_t)1 << 52) - ((int64_t)1 << 51);
  const double scale = 0x1p50; /* the inputs are below 1 in magnitude */
  printf("order-free sums of %lld values (microseconds per call)\n", (long long)n);
  for (int l = 0; l < SML_ISA_COUNT; l++) {
    const sml_kernels *k = sml_kernels_for((sml_isa)l);
    if (!k) continue;
    double s;
    volatile float largest;
    SML_BENCH_TIME(s, largest = k->absmax_rows(grads, 0, 1, n));
    (void)largest;
    printf("  %-8s absmax_rows %6.1f", k->name, s * 1e6);
    SML_BENCH_TIME(s, k->fixed_sum_rows(acc, grads, n, 2, n, scale));
    printf("  fixed_sum_rows x2 %6.1f", s * 1e6);
    SML_BENCH_TIME(s, k->fixed_sum_rows(acc, grads, n, 4, n, scale));
    printf("  x4 %6.1f", s * 1e6);
    SML_BENCH_TIME(s, for (int64_t i = 0; i < n; i += piece)
                          k->fixed_to_float(out + i, acc + i, n - i < piece ? n - i : piece, 1.0 / scale));
    printf("  fixed_to_float %6.1f\n", s * 1e6);
  }
  free(grads);
  free(out);
  free(acc);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  printf("cpu %s, best kernel level %s, BLAS %s, %d thread(s)\n", sml_cpu_model(), sml_isa_name(sml_isa_best()),
         sml_blas_summary(), sml_threads());
  const int64_t shapes[][3] = {{128, 784, 10}, {64, 784, 10},   {128, 256, 10}, {128, 784, 16},
                               {128, 784, 2},  {128, 3072, 10}, {128, 784, 32}, {128, 784, 64}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) bench_shape(shapes[i][0], shapes[i][1], shapes[i][2]);
  bench_elementwise();
  bench_exact_sums();
  sml_finalize();
  return 0;
}
