/* Hyperparameter search: every configuration scored by k-fold CV, the
 * (configuration, fold) tasks trained data-parallel on groups of ranks. */
#ifndef SHARDML_SEARCH_H
#define SHARDML_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "shardml/cv.h"
#include "shardml/tasks.h"
#include "shardml/train.h"

/* One configuration: what it changes in the base training set-up. */
typedef struct {
  double lr, reg;
  int64_t hidden[SML_MAX_LAYERS]; /* mlp hidden widths; nhidden 0: the base's */
  int nhidden;
  int64_t batch;
} sml_search_point;

/* "512x256", the spelling of hidden widths in results and options. */
void sml_hidden_text(const int64_t *hidden, int n, char *out, size_t len);

typedef struct {
  const sml_search_point *points;
  int npoints;
  int vary_hidden, vary_batch; /* report these parameters too */
  int folds;                   /* >= 2: k-fold; 1: one split (the last 20% validates) */
  int groups;
  int64_t subset; /* first N training images (0: all) */
  const sml_data_options *data;
  const char *journal;
  int slice, nslices;   /* job-array slice of the tasks; 0/0: all */
  int best_epoch_score; /* a task scores its best epoch (as --keep-best keeps it), not its last */
} sml_search_spec;

/* Collective over world: k-fold CV of every point, data-parallel training
 * inside each group. `base` is the typed training set-up (defaults filled:
 * the model, optimizer, epochs, schedule, early stopping...) that each point
 * modifies; each task's seed derives from base->seed and the task. */
int sml_search_run(const sml_search_spec *spec, const sml_train_config *base, const sml_comm *world,
                   sml_cv_table *table, sml_task_load *load, sml_err *err);

/* Heat map of mean validation accuracy over two parameters (rank 0). */
int sml_search_heatmap(const sml_cv_table *t, int param_x, int param_y, const char *path, sml_err *err);
/* Mean +/- std per configuration, each fold a dot (rank 0). */
int sml_search_config_plot(const sml_cv_table *t, const char *path, sml_err *err);

#endif
