/* kNN against a naive double-precision reference: all distances, a full
 * sort by (distance, index), and the documented vote. Small values make
 * many ties; full-range pixels exercise the GEMM rounding bound. Run at
 * several rank and thread counts: predictions must match exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/dataset.h"
#include "shardml/knn.h"
#include "base/rng.h"

#include "expect.h"

typedef struct {
  double d;
  int64_t i;
  int label;
} ref_nb;
static int ref_cmp(const void *a, const void *b) {
  const ref_nb *x = a, *y = b;
  if (x->d != y->d) return x->d < y->d ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

static int ref_predict(const uint8_t *tr, const uint8_t *lab, int64_t n, const uint8_t *q, int64_t D, int k,
                       sml_metric m, int C) {
  ref_nb *all = malloc((size_t)n * sizeof *all);
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < D; j++) {
      double d = (double)q[j] - (double)tr[i * D + j];
      s += m == SML_METRIC_L1 ? fabs(d) : d * d;
    }
    all[i] = (ref_nb){s, i, lab[i]};
  }
  qsort(all, (size_t)n, sizeof *all, ref_cmp);
  double votes[256] = {0}, dsum[256] = {0};
  for (int i = 0; i < k && i < n; i++) {
    votes[all[i].label] += 1;
    dsum[all[i].label] += all[i].d;
  }
  int best = 0;
  for (int c = 1; c < C; c++)
    if (votes[c] > votes[best] || (votes[c] == votes[best] && dsum[c] < dsum[best])) best = c;
  free(all);
  return best;
}

/* Pixel values (0..maxval) * scale. */
static void run_case(const sml_comm *c, const char *name, int64_t ntrain, int64_t nq, int64_t D, int maxval, int scale,
                     int C) {
  sml_rng r = sml_rng_stream(2024, (uint64_t)D, (uint64_t)maxval);
  uint8_t *tr = malloc((size_t)(ntrain * D)), *q = malloc((size_t)(nq * D));
  uint8_t *lab = malloc((size_t)ntrain), *qlab = malloc((size_t)nq);
  for (int64_t i = 0; i < ntrain * D; i++)
    tr[i] = (uint8_t)(sml_rng_next(&r) % (uint64_t)(maxval + 1) * (uint64_t)scale);
  for (int64_t i = 0; i < nq * D; i++) q[i] = (uint8_t)(sml_rng_next(&r) % (uint64_t)(maxval + 1) * (uint64_t)scale);
  for (int64_t i = 0; i < ntrain; i++) lab[i] = (uint8_t)(sml_rng_next(&r) % (uint64_t)C);
  for (int64_t i = 0; i < nq; i++) qlab[i] = 0;
  /* Duplicate some training rows so equal distances happen at any range. */
  for (int64_t i = 1; i < ntrain; i += 7) memcpy(tr + i * D, tr + (i - 1) * D, (size_t)D);

  int64_t tfirst, tcount, qfirst, qcount;
  sml_block_range(ntrain, c->rank, c->size, &tfirst, &tcount);
  sml_block_range(nq, c->rank, c->size, &qfirst, &qcount);
  sml_knn_ref ref = {.images = tr + tfirst * D, .labels = lab + tfirst, .id_base = tfirst, .count = tcount};
  const int ks[] = {1, 2, 3, 4, 5, 8, 13};
  const int K = 13;
  sml_neighbor *nb = malloc((size_t)(qcount * K + 1) * sizeof *nb);
  for (int mi = 0; mi < 2; mi++) {
    sml_metric m = mi ? SML_METRIC_L2 : SML_METRIC_L1;
    sml_knn_search(&ref, q + qfirst * D, qcount, D, K, m, c, nb);
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
      uint8_t *pred = malloc((size_t)qcount + 1);
      sml_knn_vote(nb, qcount, K, ks[ki], C, pred);
      int bad = 0;
      for (int64_t i = 0; i < qcount; i++) {
        int want = ref_predict(tr, lab, ntrain, q + (qfirst + i) * D, D, ks[ki], m, C);
        if (want != pred[i]) {
          if (bad++ < 3)
            fprintf(stderr, "FAIL %s %s k=%d query %lld: got %d, reference %d\n", name, sml_metric_name(m), ks[ki],
                    (long long)(qfirst + i), pred[i], want);
        }
      }
      failures += bad;
      free(pred);
    }
    /* Neighbour distances are the exact ones. */
    for (int64_t i = 0; i < qcount && i < 5; i++) {
      const uint8_t *qq = q + (qfirst + i) * D;
      const uint8_t *t = tr + nb[i * K].index * D;
      int64_t s = 0;
      for (int64_t j = 0; j < D; j++) {
        int64_t d = (int64_t)qq[j] - t[j];
        s += m == SML_METRIC_L1 ? (d < 0 ? -d : d) : d * d;
      }
      if (s != nb[i * K].dist) {
        failures++;
        fprintf(stderr, "FAIL %s: distance %lld != %lld\n", name, (long long)nb[i * K].dist, (long long)s);
      }
    }
  }
  free(nb);
  free(tr);
  free(q);
  free(lab);
  free(qlab);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  tests_check_ranks(argv[0]);
  tests_select_kernels("test_knn");
  sml_comm world = sml_comm_world();
  run_case(&world, "ties (values 0..3, D=10)", 157, 61, 10, 3, 1, 4);
  run_case(&world, "binary pixels (D=64)", 300, 40, 64, 1, 1, 3);
  run_case(&world, "full range (D=784)", 1500, 37, 784, 255, 1, 10);
  run_case(&world, "fewer references than K", 9, 5, 6, 5, 1, 3);
  /* 0 or 255 over 128x256x3 values: squared distances near 3.2e9, beyond
   * an int32 sum. */
  run_case(&world, "large images (D=98304, values 0/255)", 40, 6, 98304, 1, 255, 3);
  int64_t total = failures;
  sml_allreduce_sum_i64(&world, &total, 1);
  if (world.rank == 0)
    printf("test_knn: %lld mismatches on %d ranks x %d threads\n", (long long)total, world.size, sml_threads());
  sml_finalize();
  return total ? 1 : 0;
}
