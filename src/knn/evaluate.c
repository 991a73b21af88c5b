/* One neighbour search, then the vote for every k at once. */
#include <stdlib.h>
#include <string.h>

#include "shardml/knn.h"

void sml_knn_accuracy(const sml_knn_ref *ref, const uint8_t *queries, const uint8_t *qlabels, int64_t nq_local,
                      int64_t dim, const int64_t *ks, int nk, sml_metric metric, int num_classes, const sml_comm *c,
                      double *acc, uint8_t *pred, int pred_k, sml_neighbor *nb_out) {
  int K = 1;
  for (int i = 0; i < nk; i++)
    if (ks[i] > K) K = (int)ks[i];
  sml_neighbor *nb = nb_out ? nb_out : SML_ALLOC((size_t)(nq_local * K + 1) * sizeof *nb);
  sml_knn_search(ref, queries, nq_local, dim, K, metric, c, nb);
  uint8_t *p = SML_ALLOC((size_t)nq_local + 1);
  int64_t *counts = SML_CALLOC((size_t)nk + 1, sizeof *counts); /* correct per k, then queries */
  for (int i = 0; i < nk; i++) {
    sml_knn_vote(nb, nq_local, K, (int)ks[i], num_classes, p);
    for (int64_t q = 0; q < nq_local; q++) counts[i] += p[q] == qlabels[q];
    if (pred && i == pred_k) memcpy(pred, p, (size_t)nq_local);
  }
  counts[nk] = nq_local;
  sml_allreduce_sum_i64(c, counts, nk + 1);
  for (int i = 0; i < nk; i++) acc[i] = counts[nk] ? (double)counts[i] / (double)counts[nk] : -1.0;
  free(p);
  free(counts);
  if (!nb_out) free(nb);
}
