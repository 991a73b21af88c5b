/* Neighbour search: see shardml/knn.h for the scheme. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "shardml/knn.h"

#define QUERY_BLOCK 2048   /* queries per GEMM block */
#define TRAIN_BLOCK 2048   /* training images per GEMM block */
#define L1_TRAIN_BLOCK 256 /* training images per L1 block (200 KB of Fashion-MNIST) */
#define L1_QUERY_BLOCK 8   /* queries per kernel call */

const char *sml_metric_name(sml_metric m) { return m == SML_METRIC_L1 ? "l1" : "l2"; }

int sml_metric_parse(const char *s, sml_metric *m) {
  if (strcmp(s, "l1") == 0 || strcmp(s, "L1") == 0) {
    *m = SML_METRIC_L1;
    return 0;
  }
  if (strcmp(s, "l2") == 0 || strcmp(s, "L2") == 0) {
    *m = SML_METRIC_L2;
    return 0;
  }
  return -1;
}

int sml_neighbor_cmp(const void *a, const void *b) {
  const sml_neighbor *x = a, *y = b;
  if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

static inline int64_t ref_row(const sml_knn_ref *ref, int64_t i) { return ref->rows ? ref->rows[i] : i; }
static inline int64_t ref_id(const sml_knn_ref *ref, int64_t i) {
  return ref->ids ? ref->ids[i] : ref->id_base + ref_row(ref, i);
}

/* Blocks of int32 sums (which vectorise) added in int64: 255^2 * 32768 <
 * 2^31, so no block overflows, whatever the image size (a 128x128x3 image
 * would overflow one int32 sum). */
#define L2_BLOCK 32768
static int64_t exact_l2(const uint8_t *a, const uint8_t *b, int64_t dim) {
  int64_t total = 0;
  for (int64_t j0 = 0; j0 < dim; j0 += L2_BLOCK) {
    const int64_t j1 = j0 + L2_BLOCK < dim ? j0 + L2_BLOCK : dim;
    int32_t s = 0;
    for (int64_t j = j0; j < j1; j++) {
      const int32_t d = (int32_t)a[j] - (int32_t)b[j];
      s += d * d;
    }
    total += s;
  }
  return total;
}

/* Sorted top-K list: insert if better than the current K-th. */
static void topk_insert(sml_neighbor *list, int K, sml_neighbor cand) {
  if (sml_neighbor_cmp(&cand, &list[K - 1]) >= 0) return;
  int i = K - 1;
  while (i > 0 && sml_neighbor_cmp(&cand, &list[i - 1]) < 0) {
    list[i] = list[i - 1];
    i--;
  }
  list[i] = cand;
}

static void topk_clear(sml_neighbor *list, int K) {
  for (int i = 0; i < K; i++) list[i] = (sml_neighbor){INT64_MAX, INT64_MAX, -1};
}

/* ------------------------------------------------------------------ L1 */

/* Pruning with an exact lower bound. An image's thumbnail holds, for each
 * group of 16 consecutive bytes, the floor of its sum / 16 (0..255). For
 * group sums a = 16 qa + ra and b = 16 qb + rb (0 <= ra, rb < 16),
 * |a - b| >= 16 |qa - qb| - 15, and the sum of |a - b| over the groups is at
 * most the L1 distance; so 16 L1(thumbnails) - 15 groups <= L1(images). The
 * bound costs 1/16 of the distance, and a reference whose bound exceeds the
 * query's current K-th distance cannot be among its K nearest: most are
 * never compared in full. Results stay exact. */
#define THUMB_GROUP 16

static int64_t thumb_groups(int64_t dim) { return (dim + THUMB_GROUP - 1) / THUMB_GROUP; }
/* Thumbnail length, padded with zeros to whole 64-byte vectors. */
static int64_t thumb_len(int64_t dim) { return (thumb_groups(dim) + 63) / 64 * 64; }

static void make_thumb(uint8_t *thumb, const uint8_t *img, int64_t dim) {
  memset(thumb, 0, (size_t)thumb_len(dim));
  for (int64_t g = 0; g < thumb_groups(dim); g++) {
    const int64_t end = (g + 1) * THUMB_GROUP < dim ? (g + 1) * THUMB_GROUP : dim;
    unsigned sum = 0;
    for (int64_t j = g * THUMB_GROUP; j < end; j++) sum += img[j];
    thumb[g] = (uint8_t)(sum / THUMB_GROUP);
  }
}

/* Thumbnails of n images (pointers in rows) into one [n, thumb_len] block,
 * with pointers to each. */
static uint8_t *make_thumbs(const uint8_t *const *rows, int64_t n, int64_t dim, const uint8_t ***thumb_rows) {
  const int64_t len = thumb_len(dim);
  uint8_t *thumbs = SML_ALLOC((size_t)(n * len) + 1);
  *thumb_rows = SML_ALLOC((size_t)(n + 1) * sizeof **thumb_rows);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    make_thumb(thumbs + i * len, rows[i], dim);
    (*thumb_rows)[i] = thumbs + i * len;
  }
  return thumbs;
}

static void search_l1(const sml_knn_ref *ref, const uint8_t *queries, int64_t nq, int64_t dim, int K,
                      sml_neighbor *out) {
  const sml_kernels *kern = sml_kernels_active();
  const uint8_t **rows = SML_ALLOC((size_t)ref->count * sizeof *rows);
  const uint8_t **qrows = SML_ALLOC((size_t)nq * sizeof *qrows);
  for (int64_t t = 0; t < ref->count; t++) rows[t] = ref->images + ref_row(ref, t) * dim;
  for (int64_t q = 0; q < nq; q++) qrows[q] = queries + q * dim;
  const uint8_t **ref_thumb, **query_thumb;
  uint8_t *ref_thumbs = make_thumbs(rows, ref->count, dim, &ref_thumb);
  uint8_t *query_thumbs = make_thumbs(qrows, nq, dim, &query_thumb);
  const int64_t tlen = thumb_len(dim), slack = (THUMB_GROUP - 1) * thumb_groups(dim);
  for (int64_t q = 0; q < nq; q++) topk_clear(out + q * K, K);
  const int64_t qblocks = (nq + L1_QUERY_BLOCK - 1) / L1_QUERY_BLOCK;
  int64_t exact = 0;
#pragma omp parallel reduction(+ : exact)
  {
    int64_t *bound = SML_ALLOC(L1_QUERY_BLOCK * L1_TRAIN_BLOCK * sizeof *bound);
    int64_t *dist = SML_ALLOC(L1_TRAIN_BLOCK * sizeof *dist), *kept = SML_ALLOC(L1_TRAIN_BLOCK * sizeof *kept);
    const uint8_t **kept_rows = SML_ALLOC(L1_TRAIN_BLOCK * sizeof *kept_rows);
    /* Train blocks outside, query blocks inside: a block of training images
     * stays in cache while every query of the thread's share passes over
     * it. Static schedules of equal loops give each thread the same query
     * blocks every time, so the threads need not wait for each other. */
    for (int64_t t0 = 0; t0 < ref->count; t0 += L1_TRAIN_BLOCK) {
      const int64_t bt = t0 + L1_TRAIN_BLOCK < ref->count ? L1_TRAIN_BLOCK : ref->count - t0;
#pragma omp for schedule(static) nowait
      for (int64_t qb = 0; qb < qblocks; qb++) {
        const int64_t q0 = qb * L1_QUERY_BLOCK, bq = nq - q0 < L1_QUERY_BLOCK ? nq - q0 : L1_QUERY_BLOCK;
        kern->l1_distances(bound, query_thumb + q0, bq, ref_thumb + t0, bt, tlen);
        for (int64_t i = 0; i < bq; i++) {
          sml_neighbor *list = out + (q0 + i) * K;
          const int64_t kth = list[K - 1].dist, *lb = bound + i * bt;
          int64_t nkept = 0;
          for (int64_t t = 0; t < bt; t++)
            if (THUMB_GROUP * lb[t] - slack <= kth) {
              kept[nkept] = t0 + t;
              kept_rows[nkept++] = rows[t0 + t];
            }
          kern->l1_distances(dist, qrows + q0 + i, 1, kept_rows, nkept, dim);
          exact += nkept;
          for (int64_t k = 0; k < nkept; k++)
            if (dist[k] <= list[K - 1].dist)
              topk_insert(list, K, (sml_neighbor){dist[k], ref_id(ref, kept[k]), ref->labels[ref_row(ref, kept[k])]});
        }
      }
    }
    free(bound);
    free(dist);
    free(kept);
    free(kept_rows);
  }
  if (ref->stats) ref->stats->candidates += exact;
  free(rows);
  free(qrows);
  free(ref_thumbs);
  free(query_thumbs);
  free(ref_thumb);
  free(query_thumb);
}

/* ------------------------------------------------------------------ L2 */

/* Candidates of one query kept by the float pass. */
typedef struct {
  float *f;   /* float distances */
  int64_t *t; /* positions in ref */
  int64_t n, cap;
  float thr; /* current K-th smallest float distance (upper bound) */
} cand_list;

static void cand_push(cand_list *c, float f, int64_t t) {
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 64;
    c->f = realloc(c->f, (size_t)c->cap * sizeof *c->f);
    c->t = realloc(c->t, (size_t)c->cap * sizeof *c->t);
    SML_ASSERT(c->f && c->t);
  }
  c->f[c->n] = f;
  c->t[c->n++] = t;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Tightens thr to the K-th smallest float distance and drops candidates
 * that can no longer be among the K nearest. */
static void cand_prune(cand_list *c, int K, float slack, float *scratch) {
  if (c->n < K) return;
  memcpy(scratch, c->f, (size_t)c->n * sizeof *scratch);
  qsort(scratch, (size_t)c->n, sizeof *scratch, cmp_float);
  c->thr = scratch[K - 1];
  int64_t kept = 0;
  for (int64_t i = 0; i < c->n; i++)
    if (c->f[i] <= c->thr + slack) {
      c->f[kept] = c->f[i];
      c->t[kept++] = c->t[i];
    }
  c->n = kept;
}

static void search_l2(const sml_knn_ref *ref, const uint8_t *queries, int64_t nq, int64_t dim, int K,
                      sml_neighbor *out) {
  float *qf = SML_ALLOC((size_t)(QUERY_BLOCK * dim) * sizeof *qf);
  float *tf = SML_ALLOC((size_t)(TRAIN_BLOCK * dim) * sizeof *tf);
  float *dots = SML_ALLOC((size_t)QUERY_BLOCK * TRAIN_BLOCK * sizeof *dots);
  float *tnorm = SML_ALLOC((size_t)TRAIN_BLOCK * sizeof *tnorm);
  float qnorm[QUERY_BLOCK], slack[QUERY_BLOCK];
  cand_list *cands = SML_CALLOC(QUERY_BLOCK, sizeof *cands);

  /* The largest training norm bounds every dot product's rounding error. */
  int64_t max_tnorm = 0;
#pragma omp parallel for reduction(max : max_tnorm)
  for (int64_t t = 0; t < ref->count; t++) {
    const uint8_t *a = ref->images + ref_row(ref, t) * dim;
    int64_t s = 0;
    for (int64_t j = 0; j < dim; j++) s += (int64_t)a[j] * a[j];
    if (s > max_tnorm) max_tnorm = s;
  }

  for (int64_t q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
    const int64_t bq = nq - q0 < QUERY_BLOCK ? nq - q0 : QUERY_BLOCK;
    for (int64_t i = 0; i < bq; i++) {
      const uint8_t *a = queries + (q0 + i) * dim;
      int64_t s = 0;
      for (int64_t j = 0; j < dim; j++) {
        qf[i * dim + j] = a[j];
        s += (int64_t)a[j] * a[j];
      }
      qnorm[i] = (float)s;
      /* Rounding bound of fl(||q||^2 + ||t||^2 - 2 q.t): the dot product
       * of length dim errs by at most gamma_dim * q.t <= gamma_dim *
       * (||q||^2 + ||t||^2) / 2, for any summation order; the norms and the
       * two additions add a few units of roundoff. Doubled for safety, then
       * doubled again because both the candidate and the K-th are inexact. */
      const double u = 0x1.0p-24;
      const double bound = ((double)dim + 8.0) * u * ((double)s + (double)max_tnorm) * 2.0;
      slack[i] = (float)(2.0 * bound) + 1.0f;
      cands[i].n = 0;
      cands[i].thr = FLT_MAX;
    }
    for (int64_t t0 = 0; t0 < ref->count; t0 += TRAIN_BLOCK) {
      const int64_t bt = ref->count - t0 < TRAIN_BLOCK ? ref->count - t0 : TRAIN_BLOCK;
#pragma omp parallel for schedule(static)
      for (int64_t t = 0; t < bt; t++) {
        const uint8_t *a = ref->images + ref_row(ref, t0 + t) * dim;
        float s = 0;
        for (int64_t j = 0; j < dim; j++) {
          tf[t * dim + j] = a[j];
          s += (float)a[j] * (float)a[j]; /* exact: integers below 2^24 */
        }
        tnorm[t] = s;
      }
      /* dots[bq, bt] = qf[bq, dim] . tf[bt, dim]^T */
      const double tg0 = sml_now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bq, (int)bt, (int)dim, 1.0f, qf, (int)dim, tf, (int)dim,
                  0.0f, dots, (int)bt);
      const double tg1 = sml_now();
      if (ref->stats) {
        ref->stats->gemm_s += tg1 - tg0;
        ref->stats->gemm_flops += 2.0 * (double)bq * (double)bt * (double)dim;
      }
#pragma omp parallel
      {
        float *scratch = NULL;
        int64_t scratch_cap = 0;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < bq; i++) {
          cand_list *c = &cands[i];
          const float *row = dots + i * bt;
          const float limit0 = c->thr == FLT_MAX ? FLT_MAX : c->thr + slack[i];
          float limit = limit0;
          for (int64_t t = 0; t < bt; t++) {
            const float f = qnorm[i] + tnorm[t] - 2.0f * row[t];
            if (f <= limit) {
              cand_push(c, f, t0 + t);
              if (c->n >= 4 * K + 256) {
                if (scratch_cap < c->cap) {
                  scratch_cap = c->cap;
                  scratch = realloc(scratch, (size_t)scratch_cap * sizeof *scratch);
                  SML_ASSERT(scratch);
                }
                cand_prune(c, K, slack[i], scratch);
                limit = c->thr + slack[i];
              }
            }
          }
        }
        free(scratch);
      }
    }
    /* Exact re-scoring of the survivors. */
    const double tr0 = sml_now();
    if (ref->stats)
      for (int64_t i = 0; i < bq; i++) ref->stats->candidates += cands[i].n;
#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t i = 0; i < bq; i++) {
      sml_neighbor *list = out + (q0 + i) * K;
      topk_clear(list, K);
      const uint8_t *a = queries + (q0 + i) * dim;
      for (int64_t k = 0; k < cands[i].n; k++) {
        const int64_t t = cands[i].t[k], row = ref_row(ref, t);
        const int64_t d = exact_l2(a, ref->images + row * dim, dim);
        topk_insert(list, K, (sml_neighbor){d, ref_id(ref, t), ref->labels[row]});
      }
    }
    if (ref->stats) ref->stats->rescore_s += sml_now() - tr0;
  }
  for (int i = 0; i < QUERY_BLOCK; i++) {
    free(cands[i].f);
    free(cands[i].t);
  }
  free(cands);
  free(qf);
  free(tf);
  free(dots);
  free(tnorm);
}

void sml_knn_search_local(const sml_knn_ref *ref, const uint8_t *queries, int64_t nq, int64_t dim, int K,
                          sml_metric metric, sml_neighbor *out) {
  if (ref->count == 0 || nq == 0) {
    for (int64_t q = 0; q < nq; q++) topk_clear(out + q * K, K);
    return;
  }
  const double t0 = sml_now();
  const double inner0 = ref->stats ? ref->stats->gemm_s + ref->stats->rescore_s : 0;
  if (metric == SML_METRIC_L1) search_l1(ref, queries, nq, dim, K, out);
  else search_l2(ref, queries, nq, dim, K, out);
  if (ref->stats) /* everything but the GEMM and the re-scoring */
    ref->stats->select_s += (sml_now() - t0) - (ref->stats->gemm_s + ref->stats->rescore_s - inner0);
}

/* ------------------------------------------------------------ distributed */

#define DIST_QUERY_BLOCK 4096

void sml_knn_search(const sml_knn_ref *ref, const uint8_t *queries, int64_t nq_local, int64_t dim, int K,
                    sml_metric metric, const sml_comm *c, sml_neighbor *out) {
  int64_t *counts = SML_ALLOC((size_t)c->size * sizeof *counts);
  sml_allgather_i64(c, nq_local, counts);
  uint8_t *block = SML_ALLOC((size_t)(DIST_QUERY_BLOCK * dim));
  sml_neighbor *mine = SML_ALLOC((size_t)DIST_QUERY_BLOCK * K * sizeof *mine);
  sml_neighbor *all = SML_ALLOC((size_t)c->size * DIST_QUERY_BLOCK * K * sizeof *all);
  for (int owner = 0; owner < c->size; owner++) {
    for (int64_t q0 = 0; q0 < counts[owner]; q0 += DIST_QUERY_BLOCK) {
      const int64_t bq = counts[owner] - q0 < DIST_QUERY_BLOCK ? counts[owner] - q0 : DIST_QUERY_BLOCK;
      const double tb = sml_now();
      if (c->rank == owner) memcpy(block, queries + q0 * dim, (size_t)(bq * dim));
      sml_bcast_bytes(c, block, bq * dim, owner);
      const double ts = sml_now();
      sml_knn_search_local(ref, block, bq, dim, K, metric, mine);
      const double te = sml_now();
      /* The owner gathers every rank's K nearest and keeps the best K. */
      sml_gather_bytes(c, mine, bq * K * (int64_t)sizeof *mine, all, owner);
      if (c->rank == owner) {
        sml_neighbor *merged = SML_ALLOC((size_t)c->size * K * sizeof *merged);
        for (int64_t i = 0; i < bq; i++) {
          for (int r = 0; r < c->size; r++)
            memcpy(merged + (int64_t)r * K, all + ((int64_t)r * bq + i) * K, (size_t)K * sizeof *merged);
          qsort(merged, (size_t)c->size * K, sizeof *merged, sml_neighbor_cmp);
          memcpy(out + (q0 + i) * K, merged, (size_t)K * sizeof *merged);
        }
        free(merged);
      }
      if (ref->stats) ref->stats->comm_s += (ts - tb) + (sml_now() - te);
    }
  }
  free(counts);
  free(block);
  free(mine);
  free(all);
}
