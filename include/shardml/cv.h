/* Cross-validation and parallel search: groups of ranks, folds, and the
 * results table (scikit-learn's cv_results_ columns). */
#ifndef SHARDML_CV_H
#define SHARDML_CV_H

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/dist.h"
#include "shardml/knn.h"

#define SML_CV_MAX_PARAMS 8
#define SML_CV_VALUE_LEN 72

/* World split into `groups` groups of contiguous ranks (sizes differ by at
 * most one). Collective over world. */
typedef struct {
  int ngroups;
  int group;        /* this rank's group */
  sml_comm comm;    /* the group's communicator */
} sml_groups;
int sml_groups_split(sml_groups *g, const sml_comm *world, int ngroups, sml_err *err);
void sml_groups_free(sml_groups *g);
/* Splits world into groups, then every group loads the whole training set
 * sharded over its own ranks (no test split). Collective; agreed over world. */
int sml_groups_load(sml_groups *g, sml_dataset *ds, const sml_comm *world, int ngroups,
                    const sml_data_options *data, sml_err *err);

/* The fold of each of the first n training images of a group's dataset
 * (sharded over the group; labels allgathered within it), by the dataset's
 * split rule; with folds == 1, a single split: 1 for the n/5 validation
 * images, 0 for the others. A warning on world's rank 0 if a validation
 * part lacks a class. Returns fold[n], to free. Collective over group. */
int *sml_group_folds(const sml_dataset *ds, int64_t n, int folds, const sml_comm *group, const sml_comm *world);

/* One row per configuration, one column per fold. */
typedef struct {
  int nparams;
  char param_names[SML_CV_MAX_PARAMS][SML_CV_VALUE_LEN];
  int nconfigs, nfolds;
  char (*values)[SML_CV_MAX_PARAMS][SML_CV_VALUE_LEN]; /* [nconfigs] */
  int *numeric;      /* [nparams]: parameter values are numbers (JSON/plots) */
  double *score;      /* [nconfigs * nfolds] validation accuracy */
  double *fit_time;   /* [nconfigs * nfolds] seconds */
  double *score_time; /* [nconfigs * nfolds] seconds */
  sml_split_rule split; /* how the folds were drawn (recorded in cv_results.json) */
} sml_cv_table;

void sml_cv_table_init(sml_cv_table *t, int nparams, const char *const *names, int nconfigs, int nfolds);
void sml_cv_table_free(sml_cv_table *t);
double sml_cv_mean(const sml_cv_table *t, int config);
double sml_cv_std(const sml_cv_table *t, int config);
/* Best configuration: highest mean score, the first one on ties. */
int sml_cv_best(const sml_cv_table *t);
/* Sums the numeric arrays over world (each task's result is filled by one
 * rank, zeros elsewhere), so every rank ends with the whole table. */
void sml_cv_table_allreduce(sml_cv_table *t, const sml_comm *world);

/* cv_results.csv and cv_results.json (rank 0; atomic). */
int sml_cv_write(const sml_cv_table *t, const char *dir, double test_score, sml_err *err);

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
  int64_t subset;            /* use the first N training images (0: all) */
  const sml_data_options *data;
  const char *journal;       /* finished tasks are appended here; NULL: none */
} sml_knn_cv_config;
int sml_knn_cv(const sml_knn_cv_config *cfg, const sml_comm *world, sml_cv_table *table, sml_err *err);

/* Accuracy-vs-k plot: mean +/- std per metric, each fold as a dot. */
int sml_knn_cv_plot(const sml_cv_table *t, const sml_knn_cv_config *cfg, const char *path, sml_err *err);

#endif

/* ---------------------------------------------------------------- tasks
 * One code path for every search: tasks are handed to groups of ranks as
 * the groups become free (a shared counter, so slow tasks do not hold up
 * fast ones), each finished task is appended to a journal, and a restarted
 * search with the same definition skips the tasks its journal holds. */

typedef struct {
  int config, fold;
  double score, fit_time, score_time;
} sml_task_result;

#define SML_TASK_MAX_RESULTS 256

typedef struct {
  int ntasks;
  /* Runs task t on the group (collective over group); fills results (valid
   * on the group's rank 0) and returns their count, or a negative status. */
  int (*run)(void *ctx, int task, const sml_comm *group, sml_task_result *results, sml_err *err);
  void *ctx;
  /* What the task is, for the progress line ("fold 2, l2"). */
  void (*describe)(void *ctx, int task, char *out, size_t len);
  const char *journal;      /* path; NULL: no journal */
  uint64_t signature;       /* identity of the search; a journal of another is refused */
  int slice, nslices;       /* run only tasks t with t % nslices == slice (job arrays); 0/0: all */
} sml_task_plan;

/* Per-group load: how long each group was busy, and the wall time. */
typedef struct {
  double wall_s;
  int ngroups;
  double busy_s[1024];
  int tasks[1024];
  int skipped;              /* tasks found done in the journal */
} sml_task_load;

/* Collective over world; fills the table (already initialised) on every rank. */
int sml_run_tasks(const sml_task_plan *plan, const sml_groups *g, const sml_comm *world, sml_cv_table *table,
                  sml_task_load *load, sml_err *err);

uint64_t sml_signature(const char *text);

/* ------------------------------------------------- hyperparameter search */

typedef struct {
  double lr, reg;
  char hidden[64];  /* "256" or "512,256"; "" for linear models */
  int64_t batch;
} sml_search_point;

typedef struct {
  const char *model;             /* softmax | svm | mlp */
  const sml_search_point *points;
  int npoints;
  int vary_hidden, vary_batch;   /* report these parameters too */
  int folds;                     /* >= 2: k-fold; 1: one split (the last 20% validates) */
  int groups;
  int64_t subset;                /* first N training images (0: all) */
  const sml_data_options *data;
  const char *journal;
  int slice, nslices;            /* job-array slice of the tasks; 0/0: all */
} sml_search_spec;

#include "shardml/train.h"

/* Collective over world: k-fold CV of every point, data-parallel training
 * inside each group; `base` gives epochs, momentum, schedule and the base
 * seed (each task's seed derives from it and the task's identity). */
int sml_search_run(const sml_search_spec *spec, const sml_train_config *base, const sml_comm *world,
                   sml_cv_table *table, sml_task_load *load, sml_err *err);

/* Heat map of mean validation accuracy over two parameters (rank 0). */
int sml_search_heatmap(const sml_cv_table *t, int param_x, int param_y, const char *path, sml_err *err);
/* Mean +/- std per configuration, each fold a dot (rank 0). */
int sml_search_config_plot(const sml_cv_table *t, const char *path, sml_err *err);
