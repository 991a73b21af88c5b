/* A whole training run with its files: what `shardml train` runs, and
 * `shardml search` for its best configuration. One typed description
 * (sml_train_job), no command line in between. */
#ifndef SHARDML_JOB_H
#define SHARDML_JOB_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/comm.h"
#include "shardml/train.h"

SHARDML_BEGIN_DECLS

typedef struct {
  sml_train_config cfg; /* the model and hyperparameters (defaults filled) */
  sml_data_options data;
  const char *out;                 /* history.csv, loss.svg, accuracy.svg, model.h5, best.h5, weights.png */
  const char *checkpoint_dir;      /* NULL: no checkpoints */
  int64_t checkpoint_every_steps;  /* 0: off */
  int64_t checkpoint_every_epochs; /* 0: off */
  double checkpoint_seconds;       /* 0: off */
  int64_t keep;                    /* checkpoints kept in checkpoint_dir */
  const char *resume;              /* NULL, "auto" (the newest valid checkpoint) or a checkpoint file */
  int keep_best;                   /* write best.h5: the model of the epoch with the best validation accuracy */
} sml_train_job;

/* Loads the data, prepares it, builds the model and its state (rank 0
 * draws the parameters or reads a checkpoint, then every rank receives
 * them), trains with checkpoints, and writes the outputs; prints the test
 * accuracy on stdout (rank 0) and stores it in *test_acc if not NULL.
 * Collective; agreed. Returns SML_EXIT_PREEMPTED after a signal. */
SHARDML_API int sml_train_job_run(const sml_train_job *job, const sml_comm *world, double *test_acc, sml_err *err);

SHARDML_END_DECLS

#endif
