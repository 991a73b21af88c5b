/* HDF5 checkpoints with exact resume (schema in docs/reference.md).
 *
 * A checkpoint holds everything the training loop needs to continue as if
 * never stopped: parameters and the optimizer's state buffers in the flat
 * layout (one dataset per tensor), the position (epoch, step within it, global step), the epoch's
 * running sums, the metric history, the hyperparameters, the dataset's
 * identity, and a checksum over the tensors. Shuffling is derived from
 * (seed, epoch), so the seed and the position are the whole RNG state.
 * Rank 0 writes it (parameters are replicated) under a temporary name, then
 * renames it, then updates the `latest` pointer. */
#ifndef SHARDML_CHECKPOINT_H
#define SHARDML_CHECKPOINT_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/model.h"
#include "shardml/prep.h"
#include "shardml/train.h"

SHARDML_BEGIN_DECLS

/* Format 2 (optimizer seam): /optimizer/<state>/<tensor> for the
 * optimizer's named buffers, its name and hyperparameters as attributes,
 * dropout, early stopping and the validation loss history. Format 1 files
 * (SGD only, /optimizer/velocity) still load. */
#define SML_CHECKPOINT_VERSION 3

typedef struct {
  char path[4096];
  int64_t n_train, n_val, n_test;
  uint64_t label_checksum;
} sml_dataset_identity;

/* Collective (the checksum is allreduced). */
SHARDML_API void sml_dataset_identity_of(sml_dataset_identity *id, const sml_dataset *ds, const sml_comm *c);

/* What to save with the tensors. */
typedef struct {
  const sml_model *model;
  const sml_train_config *cfg;
  const sml_dataset_identity *data;
  const sml_dataset *ds; /* image shape and class names */
  const float *mean;     /* [dim] preprocessing mean */
  int64_t dim;
  const sml_train_state *state;
  int nranks, nthreads;
  int final; /* 1 for the model file written at the end */
} sml_checkpoint_contents;

/* Writes one file atomically (one rank). */
SHARDML_API int sml_checkpoint_write(const char *path, const sml_checkpoint_contents *cc, sml_err *err);

/* Reads and validates a checkpoint against the run that wants to resume
 * from it: model kind and architecture, dataset identity, and the
 * hyperparameters that define the trajectory (batch, seed, rates, reg,
 * momentum, schedule). On success fills state (params and velocity must be
 * allocated for the model) and *saved_ranks / *saved_threads. */
SHARDML_API int sml_checkpoint_read(const char *path, const sml_model *model, const sml_train_config *cfg,
                                    const sml_dataset_identity *data, sml_train_state *state, int *saved_ranks,
                                    int *saved_threads, sml_err *err);

/* A trained model for eval/predict: the model, its parameters and the
 * preprocessing mean, from a checkpoint or a final model file. */
typedef struct {
  sml_model model;
  float *params;
  float *mean;
  int64_t dim;
  int64_t image_shape[3];
  char dataset_path[4096];
} sml_saved_model;
SHARDML_API int sml_saved_model_load(sml_saved_model *sm, const char *path, sml_err *err);
SHARDML_API void sml_saved_model_free(sml_saved_model *sm);

/* Checkpoint files in a directory: ckpt-<global step>.h5 and `latest`. */
SHARDML_API int sml_checkpoint_path(char *out, size_t len, const char *dir, int64_t global_step);
/* Which run a checkpoint belongs to: a hash of what a resume requires to
 * be equal (model, data set, optimizer and the hyperparameters that define
 * the trajectory). Recorded in every file as the attribute run_identity. */
SHARDML_API uint64_t sml_checkpoint_run_identity(const sml_model *m, const sml_train_config *cfg,
                                                 const sml_dataset_identity *data);
/* The run identity a checkpoint file records; 0 for a file that records
 * none (older versions) or cannot be read. */
SHARDML_API uint64_t sml_checkpoint_identity_of(const char *path);
/* A run's own checkpoint files in its directory, newest first. */
typedef struct {
  char **paths;
  int n;
} sml_checkpoint_dir;
/* Reads the directory once, at the start of a run whose identity is given
 * and which will write steps first_step+1 .. last_step: collects the files
 * of this identity, and refuses (SML_EINPUT) a readable file of another
 * run at a step this run will write (checkpoints are named by step, so it
 * would be replaced). Rank 0; not collective. */
SHARDML_API int sml_checkpoint_dir_scan(sml_checkpoint_dir *d, const char *dir, uint64_t identity, int64_t first_step,
                                        int64_t last_step, sml_err *err);
SHARDML_API void sml_checkpoint_dir_free(sml_checkpoint_dir *d);
/* Points `latest` (atomically) at newest, adds it to the run's files, and
 * removes the run's files beyond the newest `keep` (never newest itself);
 * other runs' files are never touched. */
SHARDML_API int sml_checkpoint_rotate(sml_checkpoint_dir *d, const char *dir, const char *newest, int keep,
                                      sml_err *err);
/* Every checkpoint file of dir, newest first: *paths allocated (free with
 * sml_checkpoint_list_free); returns the count. */
SHARDML_API int sml_checkpoint_list(const char *dir, char ***paths);
SHARDML_API void sml_checkpoint_list_free(char **paths, int n);

SHARDML_END_DECLS

#endif
