/* What the C benchmarks share: random inputs, and timing a call. */
#ifndef SML_BENCH_TIMING_H
#define SML_BENCH_TIMING_H

#include <stdint.h>
#include <stdlib.h>

#include "shardml/comm.h" /* sml_now */

/* n floats in [-0.5, 0.5], the same for the same seed. */
static inline float *sml_bench_randf(int64_t n, unsigned seed) {
  float *p = malloc((size_t)n * sizeof *p);
  srand(seed);
  for (int64_t i = 0; i < n; i++) p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  return p;
}

/* Seconds per call of stmt: the fastest of 5 rounds of at least 0.1 s
 * each (after one call to warm up), so that a busy neighbour on a shared
 * machine slows a round rather than the figure. */
#define SML_BENCH_TIME(secs, stmt)                              \
  do {                                                          \
    stmt;                                                       \
    secs = 1e30;                                                \
    for (int round_ = 0; round_ < 5; round_++) {                \
      int64_t reps_ = 0;                                        \
      const double t0_ = sml_now();                             \
      double t_;                                                \
      do {                                                      \
        stmt;                                                   \
        reps_++;                                                \
      } while ((t_ = sml_now() - t0_) < 0.1);                   \
      if (t_ / (double)reps_ < secs) secs = t_ / (double)reps_; \
    }                                                           \
  } while (0)

#endif
