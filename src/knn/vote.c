/* Voting among the k nearest, with the documented tie rules. */
#include <stdlib.h>
#include <string.h>

#include "shardml/knn.h"

void sml_knn_vote(const sml_neighbor *nb, int64_t nq, int K, int k, int num_classes, uint8_t *pred) {
#pragma omp parallel
  {
    int64_t *votes = SML_ALLOC((size_t)num_classes * sizeof *votes);
    int64_t *dsum = SML_ALLOC((size_t)num_classes * sizeof *dsum);
#pragma omp for schedule(static)
    for (int64_t q = 0; q < nq; q++) {
      memset(votes, 0, (size_t)num_classes * sizeof *votes);
      memset(dsum, 0, (size_t)num_classes * sizeof *dsum);
      const sml_neighbor *list = nb + q * K;
      for (int i = 0; i < k; i++) {
        if (list[i].index == INT64_MAX) break; /* fewer than k references */
        votes[list[i].label]++;
        dsum[list[i].label] += list[i].dist;
      }
      int best = 0;
      for (int cl = 1; cl < num_classes; cl++)
        if (votes[cl] > votes[best] || (votes[cl] == votes[best] && dsum[cl] < dsum[best])) best = cl;
      pred[q] = (uint8_t)best;
    }
    free(votes);
    free(dsum);
  }
}
