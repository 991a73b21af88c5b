/* shardml cv --model knn: k-fold cross-validation in parallel over groups
 * of ranks, then the best (k, metric) on the test split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "shardml/groups.h"
#include "shardml/cv.h"
#include "io/io.h"

#define MAX_KS 64

int cmd_cv(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  const char *model = "knn", *klist = "1,3,5,8,10,12,15,20,50,100", *mlist = "l1,l2", *out = "shardml-cv";
  int64_t folds = 5, groups = 0;
  int train_scores = 0;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      {"model", OPT_WORD, &model, "knn", "model to cross-validate (knn)"},
      {"k", OPT_STRING, &klist, "K[,K...]", "values of k (default 1,3,5,8,10,12,15,20,50,100)"},
      {"metric", OPT_WORD, &mlist, "l1,l2", "distances to try (default l1,l2)"},
      {"folds", OPT_INT, &folds, "F", "number of folds (default 5)"},
      {"train-scores", OPT_FLAG, &train_scores, NULL,
       "also score each fold's training images, each its own neighbour (scikit-learn's return_train_score; "
       "(F-1)x the scoring work)"},
      {"groups", OPT_INT, &groups, "G",
       "groups of ranks working on tasks in parallel (default: one per rank, at most one per task)"},
      {"out", OPT_STRING, &out, "DIR",
       "output directory for cv_results.{csv,json} and cv_plot.svg (default shardml-cv)"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "cv",
                    "k-fold cross-validation of kNN over k and the metric, folds in parallel on groups of ranks.\n"
                    "Finished tasks go to DIR/journal.txt. On SIGTERM or SIGUSR1 the running tasks finish,\n"
                    "no new one starts, and shardml exits with status 3; rerun the same command to finish.",
                    "  mpirun -n 4 shardml cv --k 1,3,5,10,20 --folds 5 --groups 4\n"
                    "  mpirun -n 2 shardml cv --subset 10000 --metric l2 --out cv-l2\n",
                    argc, argv, opts, err));
  if (strcmp(model, "knn") != 0)
    return sml_fail(err, SML_EINPUT, "--model %s: cv handles knn; use 'shardml search' for parametric models", model);
  int64_t ks[MAX_KS];
  int nk, nm;
  SML_TRY(cli_int_list("k", klist, ks, MAX_KS, &nk, err));
  cli_sort_unique(ks, &nk); /* the plot's k axis and the table run in order */
  char mbuf[256], *mwords[8];
  SML_TRY(cli_word_list("metric", mlist, mbuf, sizeof mbuf, mwords, 8, &nm, err));
  sml_metric metrics[8];
  for (int i = 0; i < nm; i++)
    if (sml_metric_parse(mwords[i], &metrics[i]) != 0)
      return sml_fail(err, SML_EINPUT, "--metric %s: unknown metric (l1, l2)", mwords[i]);
  if (folds < 2) return sml_fail(err, SML_EINPUT, "--folds %lld: needs at least 2", (long long)folds);
  if (folds > 1000) return sml_fail(err, SML_EINPUT, "--folds %lld: at most 1000", (long long)folds);
  const int ntasks = (int)folds * nm;
  if (groups == 0) groups = world->size < ntasks ? world->size : ntasks;
  if (groups < 1 || groups > world->size)
    return sml_fail(err, SML_EINPUT, "--groups %lld: must be between 1 and the number of ranks (%d)", (long long)groups,
                    world->size);

  int st = world->rank == 0 ? sml_mkdirs(out, err) : SML_OK;
  SML_TRY(sml_agree(world, st, err));
  sml_data_options dopt;
  SML_TRY(cli_data_options(&data, 0, &dopt, err));
  char journal[4096];
  snprintf(journal, sizeof journal, "%s/journal.txt", out);
  sml_knn_cv_config cfg = {.ks = ks,
                           .nk = nk,
                           .metrics = metrics,
                           .nmetrics = nm,
                           .folds = (int)folds,
                           .groups = (int)groups,
                           .subset = 0,
                           .data = &dopt,
                           .journal = journal,
                           .train_scores = train_scores};
  sml_cv_table table;
  const double t0 = sml_now();
  SML_TRY(sml_knn_cv(&cfg, world, &table, err));
  const double cv_secs = sml_now() - t0;
  const int best = sml_cv_best(&table);
  const int64_t best_k = ks[best % nk];
  const sml_metric best_metric = metrics[best / nk];
  if (world->rank == 0) {
    printf("%-6s %-6s %-9s %-9s\n", "k", "metric", "mean", "std");
    for (int c = 0; c < table.nconfigs; c++)
      printf("%-6s %-6s %.4f    %.4f%s\n", table.values[c][0], table.values[c][1], sml_cv_mean(&table, c),
             sml_cv_std(&table, c), c == best ? "   <- best" : "");
  }
  char layout[64];
  sml_groups_text(world->size, (int)groups, layout, sizeof layout);
  sml_log(world, "cv: %d tasks on %s in %.1fs; best k=%lld metric=%s (mean %.4f)", ntasks, layout, cv_secs,
          (long long)best_k, sml_metric_name(best_metric), sml_cv_mean(&table, best));

  /* The best configuration on the whole training set (or its subset), scored on the test split. */
  sml_dataset ds;
  dopt.load_test = 1;
  st = sml_dataset_load(&ds, &dopt, world, err);
  double test_acc = -1;
  if (st == SML_OK) {
    sml_knn_ref ref = {
        .images = ds.train.images, .labels = ds.train.labels, .id_base = ds.train.first, .count = ds.train.count};
    if (ds.test.total > 0) {
      sml_knn_accuracy(&ref, ds.test.images, ds.test.labels, ds.test.count, sml_dataset_dim(&ds), &best_k, 1,
                       best_metric, ds.num_classes, world, &test_acc, NULL, 0, NULL);
      if (world->rank == 0)
        printf("test accuracy %.4f (k=%lld, %s)\n", test_acc, (long long)best_k, sml_metric_name(best_metric));
    }
    sml_dataset_free(&ds);
    st = SML_OK;
    if (world->rank == 0) {
      char path[4096];
      st = sml_cv_write(&table, out, test_acc, err);
      snprintf(path, sizeof path, "%s/cv_plot.svg", out);
      if (st == SML_OK) st = sml_knn_cv_plot(&table, &cfg, path, err);
      if (st == SML_OK) sml_log(world, "wrote %s/cv_results.csv, cv_results.json, cv_plot.svg", out);
    }
    st = sml_agree(world, st, err);
  }
  sml_cv_table_free(&table);
  return st;
}
