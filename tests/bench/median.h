/* The median of a benchmark's timings (sorts v in place; n >= 1). */
#ifndef SML_BENCH_MEDIAN_H
#define SML_BENCH_MEDIAN_H

#include <stdlib.h>

static int sml_bench_by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static inline double sml_bench_median(double *v, size_t n) {
  qsort(v, n, sizeof *v, sml_bench_by_value);
  return v[n / 2];
}

#endif
