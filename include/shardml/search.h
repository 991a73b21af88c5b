/* src/tune/: cross-validation and hyperparameter search on groups of ranks. */
/* Hyperparameter search: every configuration scored by k-fold CV, the
 * (configuration, fold) tasks trained data-parallel on groups of ranks. */
#ifndef SHARDML_SEARCH_H
#define SHARDML_SEARCH_H

#include "shardml/api.h"

#include <stddef.h>
#include <stdint.h>

#include "shardml/cv.h"
#include "shardml/tasks.h"
#include "shardml/train.h"

SHARDML_BEGIN_DECLS

/* One configuration: what it changes in the base training set-up. */
typedef struct {
  double lr, reg;
  int64_t hidden[SML_MAX_LAYERS]; /* mlp hidden widths; nhidden 0: the base's */
  int nhidden;
  char net[SML_NET_LEN]; /* cnn layers; "": the base's */
  int64_t batch;
} sml_search_point;

/* The space searched: each axis a list of values, or (rates and L2
 * strengths) a log-uniform range LO:HI that random search draws from. */
#define SML_SEARCH_MAX_VALUES 64
#define SML_SEARCH_MAX_POINTS 4096
typedef struct {
  double v[SML_SEARCH_MAX_VALUES];
  int n;
  int range; /* 1: v[0] < v[1] bound a log-uniform range */
} sml_search_axis;
typedef struct {
  sml_search_axis lr, reg;
  /* The architectures tried: alternatives of mlp hidden widths, or of cnn
   * layers (net[i] non-empty); nalternatives 0: the base's. */
  int64_t hidden[SML_SEARCH_MAX_VALUES][SML_MAX_LAYERS];
  int nhidden[SML_SEARCH_MAX_VALUES];
  char net[SML_SEARCH_MAX_VALUES][SML_NET_LEN];
  int nalternatives;
  int64_t batch[SML_SEARCH_MAX_VALUES];
  int nbatch;
} sml_search_space;
/* The configurations: with random_n 0 the grid (every combination, in the
 * order lr, reg, architecture, batch; ranges refused), else random_n draws from
 * the stream of seed (the same on every rank). points holds up to
 * SML_SEARCH_MAX_POINTS; fails (SML_EINPUT) beyond that. */
SHARDML_API int sml_search_points(const sml_search_space *space, int64_t random_n, uint64_t seed,
                                  sml_search_point *points, int *npoints, sml_err *err);

/* cfg with the point's rate, L2 strength, batch and architecture. */
SHARDML_API void sml_search_point_apply(const sml_search_point *p, sml_train_config *cfg);

/* "512x256", the spelling of hidden widths in results and options. */
SHARDML_API void sml_hidden_text(const int64_t *hidden, int n, char *out, size_t len);

typedef struct {
  const sml_search_point *points;
  int npoints;
  int vary_hidden, vary_batch; /* report these parameters too (vary_hidden: the mlp widths or cnn layers) */
  int folds;                   /* >= 2: k-fold; 1: one split (the last 20% validates) */
  int groups;
  int64_t subset; /* first N training images (0: all) */
  const sml_data_options *data;
  const char *journal;
  int slice, nslices;   /* job-array slice of the tasks; 0/0: all */
  int best_epoch_score; /* a task scores its best epoch (as a job's best model is kept), not its last */
  int train_scores;     /* also score each task's model on its own training images (of that same epoch) */
} sml_search_spec;

/* Collective over world: k-fold CV of every point, data-parallel training
 * inside each group. `base` is the typed training set-up (defaults filled:
 * the model, optimizer, epochs, schedule, early stopping...) that each point
 * modifies; each task's seed derives from base->seed and the task. */
SHARDML_API int sml_search_run(const sml_search_spec *spec, const sml_train_config *base, const sml_comm *world,
                               sml_cv_table *table, sml_task_load *load, sml_err *err);

/* Heat map of mean validation accuracy over two parameters (rank 0). */
SHARDML_API int sml_search_heatmap(const sml_cv_table *t, int param_x, int param_y, const char *path, sml_err *err);
/* Mean +/- std per configuration, each fold a dot (rank 0). */
SHARDML_API int sml_search_config_plot(const sml_cv_table *t, const char *path, sml_err *err);

SHARDML_END_DECLS

#endif
