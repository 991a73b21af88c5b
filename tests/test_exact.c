/* Order-free sums (base/exact.h), as the reproducible trainer takes
 * them: adversarial terms (magnitudes from 2^-60 to 2^40 of each other,
 * pairs that cancel to the last bit, a few huge ones) summed in many orders
 * and splits over the ranks and the threads must give one bit pattern.
 * Rank 0 then writes the terms and the result (hex floats) for
 * exact_sum.py, which compares the result with the exact real sum
 * (Python's fractions) within the documented bound (base/exact.h).
 * Usage: test_exact OUT_FILE */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/comm.h"
#include "base/exact.h"
#include "base/rng.h"

#include "expect.h"

#define N 4096

static double term(sml_rng *r, int64_t i, const double *prev) {
  const double u = sml_rng_uniform(r), sign = sml_rng_next(r) & 1 ? 1.0 : -1.0;
  switch (i % 4) {
    case 0:
      return sign * ldexp(1.0 + u, (int)(sml_rng_next(r) % 100) - 60); /* 2^-60 .. 2^40 */
    case 1:
      return -prev[i - 1] * (1.0 + 0x1.0p-40); /* cancels all but a sliver */
    case 2:
      return sign * ldexp(u, -30);
    default:
      return i % 1000 == 3 ? sign * 0x1.0p40 : sign * u; /* a few huge ones */
  }
}

/* The sum of terms[idx[k]] for k in [0, n) held by this rank (part[k] ==
 * rank), added by `threads` threads each over an interleaved share, then
 * over the ranks: fixed point, the trainer's way. */
static double exact_sum(const double *terms, const int *order, const int *part, int threads, const sml_comm *c) {
  double maxabs = 0;
  for (int k = 0; k < N; k++) maxabs = fmax(maxabs, fabs(terms[k]));
  sml_allreduce_max_f64(c, &maxabs, 1);
  const int q = sml_fixed_exponent(maxabs, N);
  const double scale = sml_fixed_scale(q);
  int64_t total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (int k = t; k < N; k += nt)
      if (part[order[k]] == c->rank) total += sml_to_fixed(terms[order[k]], scale);
  }
  sml_allreduce_sum_i64(c, &total, 1);
  return sml_from_fixed(total, q);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  sml_comm world = sml_comm_world();
  if (argc != 2) {
    fprintf(stderr, "usage: test_exact OUT_FILE\n");
    return 2;
  }
  double *terms = malloc(N * sizeof *terms);
  sml_rng gen = sml_rng_stream(42, 99, 0);
  for (int64_t i = 0; i < N; i++) terms[i] = term(&gen, i, terms);
  int *order = malloc(N * sizeof *order), *part = malloc(N * sizeof *part);
  double first = 0;
  int trials = 0;
  for (int trial = 0; trial < 24; trial++) {
    /* An order, a split over the ranks and a thread count, all varied. */
    sml_rng r = sml_rng_stream(7, 98, (uint64_t)trial);
    for (int k = 0; k < N; k++) order[k] = k;
    for (int k = N - 1; k > 0 && trial > 0; k--) {
      const int j = (int)(sml_rng_next(&r) % (uint64_t)(k + 1)), t = order[k];
      order[k] = order[j];
      order[j] = t;
    }
    for (int k = 0; k < N; k++)
      part[k] = trial % 3 == 0   ? k * world.size / N
                : trial % 3 == 1 ? k % world.size
                                 : (int)(sml_rng_next(&r) % (uint64_t)world.size);
    const double s = exact_sum(terms, order, part, 1 + trial % 3, &world);
    if (trial == 0) first = s;
    EXPECT(memcmp(&s, &first, sizeof s) == 0, "trial %d: %a, trial 0 gave %a", trial, s, first);
    trials++;
  }
  /* A naive float sum of the same terms in two orders, to show what the
   * fixed point buys (printed, not asserted). */
  double forward = 0, backward = 0;
  for (int k = 0; k < N; k++) forward += terms[k];
  for (int k = N - 1; k >= 0; k--) backward += terms[k];
  if (world.rank == 0) {
    printf("test_exact: %d orders and splits over %d rank(s), 1-3 threads: one result %a (%.17g)\n", trials, world.size,
           first, first);
    printf("  naive double sums of the same terms: forward %.17g, backward %.17g\n", forward, backward);
    FILE *f = fopen(argv[1], "w");
    if (f) {
      fprintf(f, "%d %a\n", N, first);
      for (int k = 0; k < N; k++) fprintf(f, "%a\n", terms[k]);
      fclose(f);
    }
  }
  int64_t total = failures;
  sml_allreduce_sum_i64(&world, &total, 1);
  sml_finalize();
  free(terms);
  free(order);
  free(part);
  return total ? 1 : 0;
}
