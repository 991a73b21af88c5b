/* shardml: distributed training of image classifiers with MPI, OpenMP,
 * BLAS and HDF5 -- the library behind the `shardml` program.
 *
 * Overview. A program that embeds shardml is an MPI program: every rank
 * calls the same functions in the same order (the ones marked "collective"
 * are MPI collectives over the communicator they take), and a failure on
 * any rank is agreed, so every rank returns the same status and message.
 * Functions that can fail return SML_OK, SML_EINPUT (bad input or options)
 * or SML_ERUNTIME and fill an sml_err with one line naming the file or the
 * quantity and the reason (error.h). The pieces, bottom up:
 *
 *   error.h       status codes, sml_err, check macros
 *   comm.h        the communicator (sml_comm), typed collectives, rank-0 logging
 *   signals.h     SIGTERM/SIGUSR1 as "stop at the next step, with a checkpoint"
 *   dataset.h     loading a dataset sharded over the ranks (IDX, CIFAR-10, HDF5);
 *                 split.h (validation and cross-validation folds), prep.h (the mean image)
 *   model.h       softmax, SVM and MLP models: one parameter buffer, loss and gradient
 *   optimizer.h   update rules (SGD, Nesterov, Adam, AdamW, RMSprop) by name
 *   train.h       the typed training set-up (sml_train_config) and the data-parallel loop
 *   job.h         a whole training run with its output files, as `shardml train` runs it
 *   checkpoint.h  HDF5 checkpoints and model files: write, verify, resume
 *   knn.h         k-nearest neighbours with exact distances, distributed
 *   cv.h, groups.h, tasks.h, search.h
 *                 k-fold cross-validation and hyperparameter search on groups of ranks
 *
 * Link with find_package(shardml) (target shardml::shardml, static, or
 * shardml::shared) or `pkg-config --cflags --libs shardml` (the shared
 * library; add --static for the static one). SHARDML_VERSION is the
 * version (version.h).
 *
 * Example: train a softmax classifier on the first 2000 Fashion-MNIST images
 * (or those of the dataset argv[2] names) and write its files into argv[1],
 * as `shardml train` would. Run it as `mpirun -n 2 ./example out/`. (The install test compiles and runs
 * exactly this text.)
 *
 * ---- example.c ----
 *   #include <stdio.h>
 *
 *   #include <shardml/shardml.h>
 *
 *   int main(int argc, char **argv) {
 *     sml_init(&argc, &argv);  // MPI with funnelled threads; OpenMP threads per rank
 *     sml_comm world = sml_comm_world();
 *
 *     sml_train_config cfg = sml_train_unset();  // every field "not given"
 *     snprintf(cfg.model, sizeof cfg.model, "softmax");
 *     cfg.epochs = 2;
 *     cfg.batch = 64;
 *     sml_train_defaults(&cfg);  // the rest as `shardml train` has it
 *
 *     sml_train_job job = {.cfg = cfg, .out = argc > 1 ? argv[1] : "example-out", .keep = 1};
 *     job.data.path = argc > 2 ? argv[2] : NULL;  // NULL: Debian's Fashion-MNIST
 *     job.data.load_test = 1;
 *     job.data.limit = 2000;  // the first 2000 training images
 *
 *     sml_err err;
 *     double test_acc = -1;
 *     int status = sml_train_job_run(&job, &world, &test_acc, &err);  // collective
 *     if (world.rank == 0) {
 *       if (status == SML_OK) printf("example: test accuracy %.4f\n", test_acc);
 *       else fprintf(stderr, "example: %s\n", err.msg);
 *     }
 *     sml_finalize();
 *     return status;
 *   }
 * ---- end ----
 */
#ifndef SHARDML_SHARDML_H
#define SHARDML_SHARDML_H

#include "shardml/api.h"
#include "shardml/checkpoint.h"
#include "shardml/comm.h"
#include "shardml/cv.h"
#include "shardml/dataset.h"
#include "shardml/error.h"
#include "shardml/groups.h"
#include "shardml/job.h"
#include "shardml/knn.h"
#include "shardml/model.h"
#include "shardml/optimizer.h"
#include "shardml/prep.h"
#include "shardml/search.h"
#include "shardml/signals.h"
#include "shardml/split.h"
#include "shardml/tasks.h"
#include "shardml/train.h"
#include "shardml/version.h"

#endif
