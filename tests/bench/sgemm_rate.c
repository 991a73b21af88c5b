/* The machine's sgemm rate with shardml's BLAS: the yardstick for the
 * GFLOP/s that kNN and training reach. Usage: sml_bench_sgemm [N] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/blas_core.h"
#include "shardml/comm.h"

int main(int argc, char **argv) {
  sml_blas_core_fix(argc, argv);
  int n = argc > 1 ? atoi(argv[1]) : 1024;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; i++) {
    a[i] = (float)(i % 7) * 0.1f;
    b[i] = (float)(i % 5) * 0.1f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n); /* warm-up */
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = MPI_Wtime();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double t = MPI_Wtime() - t0;
    if (t < best) best = t;
  }
  printf("sgemm %d^3: %.1f GFLOP/s with %d threads, BLAS %s\n", n, 2.0 * n * n * n / best * 1e-9, sml_threads(),
         sml_blas_summary());
  free(a);
  free(b);
  free(c);
  return 0;
}
