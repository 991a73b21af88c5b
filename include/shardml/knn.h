/* src/knn/: k-nearest neighbours with exact distances, distributed. */
/* k-nearest neighbours on uint8 images with exact integer distances.
 *
 * L2: a float GEMM pass (||q||^2 + ||t||^2 - 2 q.t, BLAS) in blocks, fused
 * with candidate selection: every training image whose float distance is
 * within twice the GEMM rounding-error bound of the current K-th distance is
 * kept, and the survivors are re-scored exactly in integers. L1: exact
 * integer distances from the start (OpenMP over queries, a vectorised inner
 * loop). Either way the K nearest are ordered by (exact distance, training
 * index), so results do not depend on ranks, threads or BLAS blocking, and
 * the full query x train distance matrix is never stored. */
#ifndef SHARDML_KNN_H
#define SHARDML_KNN_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/comm.h"
#include "shardml/error.h"

SHARDML_BEGIN_DECLS

typedef enum { SML_METRIC_L1, SML_METRIC_L2 } sml_metric;
SHARDML_API const char *sml_metric_name(sml_metric m);
SHARDML_API int sml_metric_parse(const char *s, sml_metric *m);

typedef struct {
  int64_t dist;  /* exact: sum |a-b| (L1) or sum (a-b)^2 (L2, squared) */
  int64_t index; /* global training index; INT64_MAX marks "none" */
  int label;
} sml_neighbor;

/* Where the time of a search went (optional, for benchmarks). */
typedef struct {
  double gemm_s;      /* L2 float pass: sgemm calls */
  double select_s;    /* L2 candidate selection, L1 distances */
  double rescore_s;   /* exact re-scoring */
  double comm_s;      /* broadcasts and merges */
  double gemm_flops;  /* 2 * queries * references * dim, this rank */
  int64_t candidates; /* re-scored images (L2), exact distances computed (L1) */
} sml_knn_stats;

/* A set of reference (training) images on this rank: rows[i] of images. */
typedef struct {
  sml_knn_stats *stats;  /* NULL: not measured */
  const uint8_t *images; /* [*, dim] */
  const uint8_t *labels;
  const int64_t *rows; /* local rows to use (NULL: 0..count-1) */
  const int64_t *ids;  /* global index per used row (NULL: id_base + row) */
  int64_t id_base;
  int64_t count;
} sml_knn_ref;

/* Local search: for nq queries [nq, dim], the K nearest of ref, sorted, in
 * out[nq * K] (padded with index INT64_MAX when ref has fewer than K). */
SHARDML_API void sml_knn_search_local(const sml_knn_ref *ref, const uint8_t *queries, int64_t nq, int64_t dim, int K,
                                      sml_metric metric, sml_neighbor *out);

/* Distributed search over c: every rank holds part of the reference set and
 * part of the queries (its local queries [nq_local, dim]). Query blocks are
 * broadcast from their owner, every rank searches its part, and the owner
 * merges the K nearest over all ranks into out[nq_local * K]. Collective. */
SHARDML_API void sml_knn_search(const sml_knn_ref *ref, const uint8_t *queries, int64_t nq_local, int64_t dim, int K,
                                sml_metric metric, const sml_comm *c, sml_neighbor *out);

/* Majority vote among the first k of each query's K sorted neighbours. A
 * tied vote goes to the tied class with the smallest summed distance, then
 * to the smallest label. */
SHARDML_API void sml_knn_vote(const sml_neighbor *nb, int64_t nq, int K, int k, int num_classes, uint8_t *pred);

/* Distributed search + vote: accuracy for every k in ks (K = max of ks) of
 * the local queries with their labels. If pred is not NULL it receives the
 * predictions for k = ks[pred_k] (local queries), and if nb_out is not NULL
 * the neighbours. Collective over c. */
SHARDML_API void sml_knn_accuracy(const sml_knn_ref *ref, const uint8_t *queries, const uint8_t *qlabels,
                                  int64_t nq_local, int64_t dim, const int64_t *ks, int nk, sml_metric metric,
                                  int num_classes, const sml_comm *c, double *acc, uint8_t *pred, int pred_k,
                                  sml_neighbor *nb_out);

/* Orders neighbours by (dist, index). */
SHARDML_API int sml_neighbor_cmp(const void *a, const void *b);

SHARDML_END_DECLS

#endif
