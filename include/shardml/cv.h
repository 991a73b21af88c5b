/* Cross-validation results (scikit-learn's cv_results_ columns) and kNN
 * cross-validation. Groups of ranks: groups.h; tasks: tasks.h; the
 * hyperparameter search: search.h. */
#ifndef SHARDML_CV_H
#define SHARDML_CV_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/comm.h"
#include "shardml/knn.h"
#include "shardml/model.h"
#include "shardml/split.h"

SHARDML_BEGIN_DECLS

#define SML_CV_MAX_PARAMS 8
#define SML_CV_VALUE_LEN SML_NET_LEN /* a network's layers fit */

/* One row per configuration, one column per fold. */
typedef struct {
  int nparams;
  char param_names[SML_CV_MAX_PARAMS][SML_CV_VALUE_LEN];
  int nconfigs, nfolds;
  char (*values)[SML_CV_MAX_PARAMS][SML_CV_VALUE_LEN]; /* [nconfigs] */
  int *numeric;                                        /* [nparams]: parameter values are numbers (JSON/plots) */
  double *score;                                       /* [nconfigs * nfolds] validation accuracy */
  double *fit_time;                                    /* [nconfigs * nfolds] seconds */
  double *score_time;                                  /* [nconfigs * nfolds] seconds */
  int has_train_score;                                 /* train_score was computed (and is written) */
  double *train_score;  /* [nconfigs * nfolds] accuracy on the task's own training images (return_train_score) */
  sml_split_rule split; /* how the folds were drawn (recorded in cv_results.json) */
} sml_cv_table;

SHARDML_API void sml_cv_table_init(sml_cv_table *t, int nparams, const char *const *names, int nconfigs, int nfolds);
SHARDML_API void sml_cv_table_free(sml_cv_table *t);
SHARDML_API double sml_cv_mean(const sml_cv_table *t, int config);
SHARDML_API double sml_cv_std(const sml_cv_table *t, int config);
/* Best configuration: highest mean score, the first one on ties. */
SHARDML_API int sml_cv_best(const sml_cv_table *t);
/* Sums the numeric arrays over world (each task's result is filled by one
 * rank, zeros elsewhere), so every rank ends with the whole table. */
SHARDML_API void sml_cv_table_allreduce(sml_cv_table *t, const sml_comm *world);

/* cv_results.csv and cv_results.json (rank 0; atomic). */
SHARDML_API int sml_cv_write(const sml_cv_table *t, const char *dir, double test_score, sml_err *err);

/* kNN cross-validation: every (fold, metric) task searches once with the
 * largest k and votes for every k. The table has one configuration per
 * (k, metric), metric-major. Collective over world. */
typedef struct {
  const int64_t *ks;
  int nk;
  const sml_metric *metrics;
  int nmetrics;
  int folds;
  int groups;
  int64_t subset; /* use the first N training images (0: all) */
  const sml_data_options *data;
  const char *journal; /* finished tasks are appended here; NULL: none */
  int train_scores;    /* also score each task's references against themselves (each its own neighbour) */
} sml_knn_cv_config;
SHARDML_API int sml_knn_cv(const sml_knn_cv_config *cfg, const sml_comm *world, sml_cv_table *table, sml_err *err);

/* Accuracy-vs-k plot: mean +/- std per metric, each fold as a dot. */
SHARDML_API int sml_knn_cv_plot(const sml_cv_table *t, const sml_knn_cv_config *cfg, const char *path, sml_err *err);

SHARDML_END_DECLS

#endif
