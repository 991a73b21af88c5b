/* k-fold cross-validation of kNN over groups of ranks. Each group holds the
 * whole training set, sharded over its own ranks; a (fold, metric) task
 * uses the group's images outside the fold as references and those inside
 * as queries. Exact distances make every number independent of the number
 * of ranks and groups. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/tasks.h"
#include "io/io.h"
#include "plot/plot.h"

/* One (fold, metric) task: the group's images outside the fold are the
 * references, those inside the queries; one search votes for every k. */
typedef struct {
  const sml_knn_cv_config *cfg;
  const sml_dataset *ds;
  int64_t n, dim;
  const int *fold_of; /* [n] */
  int64_t *rows;
  uint8_t *qimg, *qlab;
  uint8_t *timg, *tlab; /* training scores wanted: the references as queries (NULL otherwise) */
  double *acc, *train_acc;
} knn_task_ctx;

static int knn_task_run(void *ctx, int task, const sml_comm *gc, sml_task_result *res, sml_err *err) {
  (void)err;
  knn_task_ctx *k = ctx;
  const sml_knn_cv_config *cfg = k->cfg;
  const sml_shard *sh = &k->ds->train;
  const int fold = task % cfg->folds, m = task / cfg->folds;
  const int64_t dim = k->dim;
  const double t0 = sml_now();
  int64_t nref = 0, nq = 0;
  for (int64_t i = 0; i < sh->count; i++) {
    const int64_t id = sh->first + i;
    if (id >= k->n) break;
    if (k->fold_of[id] == fold) {
      memcpy(k->qimg + nq * dim, sh->images + i * dim, (size_t)dim);
      k->qlab[nq++] = sh->labels[i];
    } else {
      if (k->timg) {
        memcpy(k->timg + nref * dim, sh->images + i * dim, (size_t)dim);
        k->tlab[nref] = sh->labels[i];
      }
      k->rows[nref++] = i;
    }
  }
  sml_knn_ref ref = {.images = sh->images, .labels = sh->labels, .rows = k->rows, .id_base = sh->first, .count = nref};
  const double t1 = sml_now();
  sml_knn_accuracy(&ref, k->qimg, k->qlab, nq, dim, cfg->ks, cfg->nk, cfg->metrics[m], k->ds->num_classes, gc, k->acc,
                   NULL, 0, NULL);
  const double t2 = sml_now();
  /* The training score, as scikit-learn's: the fitted classifier scores
   * its own training images, each of which is its own nearest neighbour. */
  if (k->timg)
    sml_knn_accuracy(&ref, k->timg, k->tlab, nref, dim, cfg->ks, cfg->nk, cfg->metrics[m], k->ds->num_classes, gc,
                     k->train_acc, NULL, 0, NULL);
  for (int i = 0; i < cfg->nk; i++)
    res[i] = (sml_task_result){.config = m * cfg->nk + i,
                               .fold = fold,
                               .score = k->acc[i],
                               .fit_time = t1 - t0,
                               .score_time = t2 - t1,
                               .train_score = k->timg ? k->train_acc[i] : NAN};
  return cfg->nk;
}

static void knn_task_describe(void *ctx, int task, char *out, size_t len) {
  const knn_task_ctx *k = ctx;
  snprintf(out, len, "fold %d, %s", task % k->cfg->folds, sml_metric_name(k->cfg->metrics[task / k->cfg->folds]));
}

int sml_knn_cv(const sml_knn_cv_config *cfg, const sml_comm *world, sml_cv_table *table, sml_err *err) {
  memset(table, 0, sizeof *table);
  if (cfg->folds < 2) return sml_fail_quantity(err, SML_EINPUT, "folds", " %d: needs at least 2", cfg->folds);
  if (cfg->nk > SML_TASK_MAX_RESULTS)
    return sml_fail_quantity(err, SML_EINPUT, "k", ": at most %d values", SML_TASK_MAX_RESULTS);
  int64_t maxk = 0;
  for (int i = 0; i < cfg->nk; i++) {
    if (cfg->ks[i] < 1)
      return sml_fail_quantity(err, SML_EINPUT, "k", " %lld: must be at least 1", (long long)cfg->ks[i]);
    if (cfg->ks[i] > maxk) maxk = cfg->ks[i];
  }
  if (cfg->subset < 0)
    return sml_fail_quantity(err, SML_EINPUT, "subset", " %lld: must not be negative", (long long)cfg->subset);
  /* Each group holds the whole training set, sharded over its own ranks. */
  sml_groups g;
  sml_dataset ds;
  SML_TRY(sml_groups_load(&g, &ds, world, cfg->groups, cfg->data, err));
  int st = SML_OK;
  const int64_t N = cfg->subset > 0 && cfg->subset < ds.train.total ? cfg->subset : ds.train.total;
  const int64_t dim = sml_dataset_dim(&ds);
  if (cfg->folds > N)
    st = sml_fail_quantity(err, SML_EINPUT, "folds", " %d: more folds than training images (%lld)", cfg->folds,
                           (long long)N);
  else if (maxk > N - (N + cfg->folds - 1) / cfg->folds)
    st = sml_fail_quantity(err, SML_EINPUT, "k", " %lld: larger than the training size of a fold (%lld images)",
                           (long long)maxk, (long long)(N - (N + cfg->folds - 1) / cfg->folds));
  if (st != SML_OK) {
    sml_dataset_free(&ds);
    sml_groups_free(&g);
    return st;
  }

  const char *names[2] = {"k", "metric"};
  sml_cv_table_init(table, 2, names, cfg->nk * cfg->nmetrics, cfg->folds);
  table->numeric[0] = 1;
  table->split = ds.split;
  for (int m = 0; m < cfg->nmetrics; m++)
    for (int i = 0; i < cfg->nk; i++) {
      int c = m * cfg->nk + i;
      snprintf(table->values[c][0], SML_CV_VALUE_LEN, "%lld", (long long)cfg->ks[i]);
      snprintf(table->values[c][1], SML_CV_VALUE_LEN, "%s", sml_metric_name(cfg->metrics[m]));
    }

  const sml_shard *sh = &ds.train;
  int *fold_of = sml_group_folds(&ds, N, cfg->folds, &g.comm, world);
  knn_task_ctx k = {.cfg = cfg,
                    .ds = &ds,
                    .n = N,
                    .dim = dim,
                    .fold_of = fold_of,
                    .rows = SML_ALLOC((size_t)sh->count * sizeof(int64_t) + 8),
                    .qimg = SML_ALLOC((size_t)(sh->count * dim) + 1),
                    .qlab = SML_ALLOC((size_t)sh->count + 1),
                    .timg = cfg->train_scores ? SML_ALLOC((size_t)(sh->count * dim) + 1) : NULL,
                    .tlab = cfg->train_scores ? SML_ALLOC((size_t)sh->count + 1) : NULL,
                    .acc = SML_ALLOC((size_t)cfg->nk * sizeof(double)),
                    .train_acc = SML_ALLOC((size_t)cfg->nk * sizeof(double))};
  table->has_train_score = cfg->train_scores;
  /* The search's identity for its journal: data, folds, ks, metrics. */
  char definition[4096], rule[96];
  sml_split_describe(&ds.split, rule, sizeof rule);
  int used = snprintf(definition, sizeof definition, "knn data=%s n=%lld folds=%d split=%s k=", ds.path, (long long)N,
                      cfg->folds, rule);
  for (int i = 0; i < cfg->nk && used < (int)sizeof definition - 32; i++)
    used += snprintf(definition + used, sizeof definition - (size_t)used, "%lld,", (long long)cfg->ks[i]);
  for (int m = 0; m < cfg->nmetrics && used < (int)sizeof definition - 32; m++)
    used += snprintf(definition + used, sizeof definition - (size_t)used, " %s", sml_metric_name(cfg->metrics[m]));
  if (cfg->train_scores) snprintf(definition + used, sizeof definition - (size_t)used, " train_scores");
  sml_task_plan plan = {.ntasks = cfg->folds * cfg->nmetrics,
                        .name = "cv",
                        .run = knn_task_run,
                        .ctx = &k,
                        .describe = knn_task_describe,
                        .journal = cfg->journal,
                        .signature = sml_signature(definition),
                        .train_scores = cfg->train_scores};
  sml_task_load load;
  st = sml_run_tasks(&plan, &g, world, table, &load, err);
  sml_task_load_free(&load);
  free(k.rows);
  free(k.qimg);
  free(k.qlab);
  free(k.timg);
  free(k.tlab);
  free(k.acc);
  free(k.train_acc);
  free(fold_of);
  sml_dataset_free(&ds);
  sml_groups_free(&g);
  return st;
}

int sml_knn_cv_plot(const sml_cv_table *t, const sml_knn_cv_config *cfg, const char *path, sml_err *err) {
  const int nk = cfg->nk, F = t->nfolds, M = cfg->nmetrics;
  sml_svg_series *series = SML_CALLOC((size_t)(2 * M), sizeof *series);
  double *xs = SML_ALLOC((size_t)nk * sizeof *xs), *mean = SML_ALLOC((size_t)(M * nk) * sizeof *mean);
  double *sd = SML_ALLOC((size_t)(M * nk) * sizeof *sd);
  double *fx = SML_ALLOC((size_t)(nk * F) * sizeof *fx), *fy = SML_ALLOC((size_t)(M * nk * F) * sizeof *fy);
  char(*labels)[48] = SML_CALLOC((size_t)(2 * M), sizeof *labels);
  for (int i = 0; i < nk; i++) xs[i] = (double)cfg->ks[i];
  for (int i = 0; i < nk; i++)
    for (int f = 0; f < F; f++) fx[i * F + f] = xs[i];
  for (int m = 0; m < M; m++) {
    for (int i = 0; i < nk; i++) {
      int c = m * nk + i;
      mean[m * nk + i] = sml_cv_mean(t, c);
      sd[m * nk + i] = sml_cv_std(t, c);
      for (int f = 0; f < F; f++) fy[(m * nk + i) * F + f] = t->score[(size_t)c * F + f];
    }
    snprintf(labels[2 * m], 48, "%s mean +/- std", sml_metric_name(cfg->metrics[m]));
    snprintf(labels[2 * m + 1], 48, "%s folds", sml_metric_name(cfg->metrics[m]));
    /* Metrics side by side at each k, a few pixels apart, so their error bars do not overlap. */
    const double dx = 6.0 * (m - (M - 1) / 2.0);
    series[2 * m] = (sml_svg_series){labels[2 * m], nk, xs, mean + m * nk, sd + m * nk, 0, m + 1, dx};
    series[2 * m + 1] = (sml_svg_series){labels[2 * m + 1], nk * F, fx, fy + m * nk * F, NULL, 1, m + 1, dx};
  }
  /* k spans 1 to 100 or more: on a log axis the small k, where accuracy
   * changes most, get their share of the width. */
  int st =
      sml_svg_plot(path, "kNN cross-validation", "k", "validation accuracy", nk > 1 && xs[0] > 0, series, 2 * M, err);
  free(series);
  free(xs);
  free(mean);
  free(sd);
  free(fx);
  free(fy);
  free(labels);
  return st;
}
