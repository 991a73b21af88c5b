/* Hyperparameter search: every configuration scored by k-fold CV, the
 * (configuration, fold) tasks trained data-parallel on groups of ranks. */
#ifndef SHARDML_SEARCH_H
#define SHARDML_SEARCH_H

#include <stdint.h>

#include "shardml/cv.h"
#include "shardml/tasks.h"
#include "shardml/train.h"

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

/* Collective over world: k-fold CV of every point, data-parallel training
 * inside each group; `base` gives epochs, momentum, schedule and the base
 * seed (each task's seed derives from it and the task's identity). */
int sml_search_run(const sml_search_spec *spec, const sml_train_config *base, const sml_comm *world,
                   sml_cv_table *table, sml_task_load *load, sml_err *err);

/* Heat map of mean validation accuracy over two parameters (rank 0). */
int sml_search_heatmap(const sml_cv_table *t, int param_x, int param_y, const char *path, sml_err *err);
/* Mean +/- std per configuration, each fold a dot (rank 0). */
int sml_search_config_plot(const sml_cv_table *t, const char *path, sml_err *err);

#endif
