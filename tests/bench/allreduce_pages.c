/* What a buffer's pages cost an allreduce (not a test): the gradient of the
 * 784-256-10 MLP (203,530 values + 4 flags) summed over the ranks as float
 * (the default mode) and as int64 (--reproducible), from plain memory
 * (SML_ALLOC: 4 KiB pages) and from SML_ALLOC_COMM (2 MiB transparent huge
 * pages). Each buffer is rewritten before its call, as a step rewrites it,
 * the four calls are interleaved so the machine's drift hits them alike,
 * and each is timed alone between barriers; medians.
 * Usage: mpirun -n 2 --bind-to none sml_bench_allreduce [VALUES] [REPS] */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/comm.h"

#include "median.h"

/* kB of this process's memory on transparent huge pages (Linux), or -1. */
static long huge_kb(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

enum { FLOAT_PLAIN, FLOAT_HUGE, INT64_PLAIN, INT64_HUGE, NCASES };

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int64_t n = argc > 1 ? atoll(argv[1]) : 203530 + 4;
  const int reps = argc > 2 ? atoi(argv[2]) : 500;
  if (n < 1 || n > INT32_MAX || reps < 1) {
    if (rank == 0) fprintf(stderr, "usage: sml_bench_allreduce [VALUES (1..2^31-1)] [REPS >= 1]\n");
    MPI_Finalize();
    return 2;
  }
  void *buf[NCASES] = {SML_ALLOC((size_t)n * sizeof(float)), SML_ALLOC_COMM((size_t)n * sizeof(float)),
                       SML_ALLOC((size_t)n * sizeof(int64_t)), SML_ALLOC_COMM((size_t)n * sizeof(int64_t))};
  const char *name[NCASES] = {"float, 4 KiB pages", "float, 2 MiB pages", "int64, 4 KiB pages", "int64, 2 MiB pages"};
  double *t = SML_ALLOC((size_t)NCASES * (size_t)reps * sizeof *t);
  for (int r = 0; r < reps; r++)
    for (int k = 0; k < NCASES; k++) {
      const int is_float = k == FLOAT_PLAIN || k == FLOAT_HUGE;
      for (int64_t i = 0; i < n; i++) {
        if (is_float) ((float *)buf[k])[i] = (float)(i & 1023);
        else ((int64_t *)buf[k])[i] = i;
      }
      MPI_Barrier(MPI_COMM_WORLD);
      const double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, buf[k], (int)n, is_float ? MPI_FLOAT : MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
      t[k * reps + r] = MPI_Wtime() - t0;
    }
  if (rank == 0) {
    printf("MPI_Allreduce of %lld values on %d ranks, medians of %d (this process: %ld kB on huge pages)\n",
           (long long)n, size, reps, huge_kb());
    double med[NCASES];
    for (int k = 0; k < NCASES; k++) med[k] = sml_bench_median(t + k * reps, (size_t)reps);
    for (int k = 0; k < NCASES; k++) {
      printf("  %-20s %7.0f us", name[k], med[k] * 1e6);
      if (k % 2) printf("  (%.2fx the time on 4 KiB pages)", med[k] / med[k - 1]);
      printf("\n");
    }
  }
  for (int k = 0; k < NCASES; k++) free(buf[k]);
  free(t);
  MPI_Finalize();
  return 0;
}
