/* shardml: the entry point. Fixes the BLAS kernel choice (before MPI_Init,
 * since it may re-exec), starts MPI, chooses shardml's own kernel level,
 * runs one subcommand, and turns its
 * status into one error line on rank 0 and the same exit code on every rank. */
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "kernels/blas_core.h"
#include "shardml/comm.h"
#include "kernels/kernels.h"
#include "shardml/signals.h"
#include "shardml/version.h"

static const struct {
  const char *name;
  cli_command_fn run;
  const char *summary;
} commands[] = {
    {"info", cmd_info, "describe a dataset and how it is sharded over the ranks"},
    {"convert", cmd_convert, "write a dataset in shardml's HDF5 layout"},
    {"train", cmd_train, "train a softmax, SVM or MLP classifier (data-parallel SGD)"},
    {"eval", cmd_eval, "accuracy, per-class accuracy and confusion matrix of a saved model"},
    {"predict", cmd_predict, "write a saved model's predictions to CSV"},
    {"knn", cmd_knn, "k-nearest-neighbour classification (L1/L2), distributed"},
    {"search", cmd_search, "hyperparameter search with k-fold CV over groups of ranks"},
    {"cv", cmd_cv, "k-fold cross-validation over groups of ranks (kNN)"},
    {"gradcheck", cmd_gradcheck, "check a model's analytic gradient against centred differences"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fprintf(out,
          "usage: mpirun -n P shardml COMMAND [options]\n       (shardml COMMAND --help: its options)\n\n"
          "commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\nexit status: 0 success, 1 runtime failure, 2 bad usage or input,\n"
          "             3 stopped by a signal after a checkpoint\n"
          "\nexamples:\n  mpirun -n 2 shardml train --model mlp --hidden 512x256\n"
          "  mpirun -n 4 shardml cv --k 1,3,5,10 --groups 2\n");
}

int main(int argc, char **argv) {
  /* First: a SIGTERM or SIGUSR1 at any time from here on means "stop" (exit
   * 3 after the first step's checkpoint), never death by the signal. */
  sml_signals_install();
  sml_blas_core_fix(argc, argv);
  sml_init(&argc, &argv);
  sml_comm world = sml_comm_world();
  const char *notice = sml_blas_core_notice();
  if (notice) sml_log(&world, "%s", notice);

  sml_err err = {{0}, {0}};
  int quiet_failure = 0; /* the failure was already explained */
  const char *cmd = argc > 1 ? argv[1] : NULL;
  int status = sml_kernels_init(&err);
  if (status == SML_OK) status = sml_blas_core_check(&err);
  if (status == SML_OK) status = sml_finalize_settings(&err);
  status = sml_agree(&world, status, &err);
  if (status == SML_OK) {
    /* A job spanning nodes of different CPUs runs the level every rank has,
     * so that all ranks round alike. */
    sml_kernels_use((sml_isa)sml_allreduce_min_i64(&world, sml_kernels_active()->isa));
  }
  if (status != SML_OK) {
    cmd = NULL;
  } else if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    /* Bare `shardml`: the usage on stderr is the message, exit 2. */
    if (world.rank == 0) usage(cmd ? stdout : stderr);
    status = cmd ? SML_OK : SML_EINPUT;
    quiet_failure = 1;
  } else if (strcmp(cmd, "--version") == 0) {
    if (world.rank == 0) printf("shardml %s\n", SHARDML_VERSION);
  } else {
    size_t i = 0;
    while (i < NCOMMANDS && strcmp(commands[i].name, cmd) != 0) i++;
    if (i == NCOMMANDS) {
      const char *names[NCOMMANDS];
      for (size_t k = 0; k < NCOMMANDS; k++) names[k] = commands[k].name;
      const char *guess = cli_closest(cmd, strlen(cmd), names, NCOMMANDS);
      if (guess) status = sml_fail(&err, SML_EINPUT, "unknown command '%s'; did you mean '%s'?", cmd, guess);
      else status = sml_fail(&err, SML_EINPUT, "unknown command '%s' (see shardml --help)", cmd);
      cmd = NULL;
    } else {
      status = commands[i].run(&world, argc - 1, argv + 1, &err);
      if (status == CLI_HELP) status = SML_OK;
    }
  }
  /* Commands agree on their own failures; this catches any path that did not. */
  status = sml_agree(&world, status, &err);
  if (status != SML_OK && world.rank == 0 && !quiet_failure) {
    cli_name_option(&err);
    fprintf(stderr, "shardml%s%s: error: %s\n", cmd ? " " : "", cmd ? cmd : "", err.msg);
    fflush(stderr);
  }
  sml_finalize_status(status);
  return status;
}
