/* shardml search: grid or random hyperparameter search with k-fold CV,
 * (configuration, fold) tasks handed to groups of ranks as they free up,
 * a resumable journal, then the best configuration retrained on the whole
 * training set and scored on the test split. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"
#include "options.h"
#include "shardml/groups.h"
#include "shardml/search.h"
#include "io/io.h"
#include "shardml/job.h"

/* "a,b,c" (a list) or "lo:hi" (a log-uniform range, --random only). */
static int parse_reals(const char *opt, const char *text, sml_search_axis *out, int positive_range, sml_err *err) {
  memset(out, 0, sizeof *out);
  const char *colon = strchr(text, ':');
  char *end;
  if (colon) {
    errno = 0;
    out->v[0] = strtod(text, &end);
    int bad = end != colon;
    out->v[1] = strtod(colon + 1, &end);
    if (bad || *end || errno || !(out->v[0] < out->v[1]))
      return sml_fail(err, SML_EINPUT, "--%s %s: a range is LO:HI with LO < HI", opt, text);
    if (positive_range && !(out->v[0] > 0))
      return sml_fail(err, SML_EINPUT, "--%s %s: a log-uniform range needs LO > 0", opt, text);
    out->range = 1;
    out->n = 2;
    return SML_OK;
  }
  char buf[2048], *words[SML_SEARCH_MAX_VALUES];
  SML_TRY(cli_word_list(opt, text, buf, sizeof buf, words, SML_SEARCH_MAX_VALUES, &out->n, err));
  for (int i = 0; i < out->n; i++) {
    errno = 0;
    out->v[i] = strtod(words[i], &end);
    if (end == words[i] || *end || errno || !isfinite(out->v[i]))
      return sml_fail(err, SML_EINPUT, "--%s %s: expected numbers separated by commas, or LO:HI", opt, text);
  }
  return SML_OK;
}

/* One --hidden alternative, "512x256", into widths. */
static int parse_widths(const char *text, const char *all, int64_t *widths, int *n, sml_err *err) {
  cli_model_args a = {.model = "mlp", .hidden = text};
  sml_train_config cfg = sml_train_unset();
  if (cli_model_config(&a, &cfg, err) != SML_OK)
    return sml_fail(err, SML_EINPUT, "--hidden %s: widths are digits, layers joined by x, alternatives by commas", all);
  *n = cfg.nhidden;
  memcpy(widths, cfg.hidden, (size_t)cfg.nhidden * sizeof *widths);
  return SML_OK;
}

/* --net alternatives, "A;B": each a network's layers (checked against the
 * data when the search starts). */
static int parse_nets(const char *text, sml_search_space *space, sml_err *err) {
  int n = 0;
  for (const char *p = text;; n++) {
    const char *end = strchr(p, ';');
    const size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0)
      return sml_fail(err, SML_EINPUT, "--net %s: an empty alternative (networks are separated by ';')", text);
    if (len >= SML_NET_LEN)
      return sml_fail(err, SML_EINPUT, "--net %s: alternative %d is longer than %d characters", text, n + 1,
                      SML_NET_LEN - 1);
    if (n == SML_SEARCH_MAX_VALUES)
      return sml_fail(err, SML_EINPUT, "--net: at most %d alternatives", SML_SEARCH_MAX_VALUES);
    memcpy(space->net[n], p, len);
    space->net[n][len] = '\0';
    for (int i = 0; i < n; i++)
      if (strcmp(space->net[i], space->net[n]) == 0)
        return sml_fail(err, SML_EINPUT, "--net: %s is given twice", space->net[n]);
    if (!end) break;
    p = end + 1;
  }
  space->nalternatives = n + 1;
  return SML_OK;
}

int cmd_search(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  const char *model = NULL, *net_text = NULL, *lr_text = "1e-3,1e-2,1e-1", *reg_text = "0,1e-4,1e-3",
             *hidden_text = NULL;
  const char *batch_text = "128", *out = "shardml-search", *schedule = NULL, *slice_text = NULL, *optimizer = NULL;
  int64_t folds = 5, groups = 0, random_n = 0;
  int keep_best = 0, train_scores = 0;
  sml_train_config base = sml_train_unset();
  cli_reduce_args reduce = {0};
  base.epochs = 5;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      {"model", OPT_WORD, &model, "NAME", "softmax | svm | mlp | cnn (default mlp; cnn with --net)"},
      {"lr", OPT_STRING, &lr_text, "LIST|LO:HI",
       "learning rates (default 1e-3,1e-2,1e-1); LO:HI is log-uniform with --random"},
      {"reg", OPT_STRING, &reg_text, "LIST|LO:HI", "L2 strengths (default 0,1e-4,1e-3)"},
      {"hidden", OPT_STRING, &hidden_text, "LIST",
       "mlp hidden widths to try, e.g. 128,256; 512x256 is two layers (default 256)"},
      {"net", OPT_STRING, &net_text, "NETS",
       "cnn networks to try (train's --net), alternatives separated by ';': 'conv16x3,relu,pool2,fc10;conv32x3,...'"},
      {"batch", OPT_STRING, &batch_text, "LIST", "batch sizes to try (default 128)"},
      {"random", OPT_INT, &random_n, "N", "draw N configurations instead of the grid"},
      {"folds", OPT_INT, &folds, "F", "k-fold CV (default 5); 1: a single split, 20% validates"},
      {"groups", OPT_INT, &groups, "G", "groups of ranks, each training one task at a time (default: one per rank)"},
      {"epochs", OPT_INT, &base.epochs, "E", "epochs per task and for the final run (default 5)"},
      CLI_OPTIMIZER_OPTIONS(&base, &optimizer, &reduce),
      {"lr-decay", OPT_REAL, &base.lr_decay, "GAMMA", "lr *= GAMMA every epoch (default 0.95)"},
      {"schedule", OPT_WORD, &schedule, "step|cosine", "learning-rate schedule (default step)"},
      {"early-stop", OPT_INT, &base.early_stop, "N",
       "each task stops after N epochs without a better validation accuracy"},
      {"keep-best", OPT_FLAG, &keep_best, NULL,
       "each task scores its best epoch, not its last (and best/ keeps best.h5)"},
      {"train-scores", OPT_FLAG, &train_scores, NULL,
       "also score each task's model on its training images (scikit-learn's return_train_score)"},
      {"slice", OPT_STRING, &slice_text, "I/N",
       "run only slice I of N of the tasks (job arrays); merge by rerunning without it"},
      {"out", OPT_STRING, &out, "DIR", "cv_results.{csv,json}, search_plot.svg, journal.txt (default shardml-search)"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "search",
                    "Hyperparameter search with k-fold cross-validation, tasks run in parallel on groups of ranks.\n"
                    "Finished tasks go to DIR/journal.txt; rerunning the same command skips them.\n"
                    "On SIGTERM or SIGUSR1 running tasks stop at their next step, unjournaled, and\n"
                    "shardml exits with status 3; rerun the same command to finish.",
                    "  mpirun -n 4 shardml search --model softmax --lr 1e-3,1e-2 --groups 2\n"
                    "  mpirun -n 2 shardml search --hidden 256,512x256 --folds 3 --epochs 5\n"
                    "  mpirun -n 4 shardml search --random 20 --lr 1e-4:1e-1 --reg 1e-6:1e-2\n"
                    "  mpirun -n 2 shardml search --net 'conv8x3,relu,pool2,fc10;conv16x3,relu,fc10'\n",
                    argc, argv, opts, err));
  if (!model) model = net_text ? "cnn" : "mlp";
  if (strcmp(model, "softmax") && strcmp(model, "svm") && strcmp(model, "mlp") && strcmp(model, "cnn"))
    return sml_fail(err, SML_EINPUT, "--model %s: unknown model (softmax, svm, mlp, cnn; knn: use shardml cv)", model);
  if (hidden_text && strcmp(model, "mlp") != 0)
    return sml_fail(err, SML_EINPUT, "--hidden: %s",
                    strcmp(model, "cnn") == 0 ? "an mlp's widths; a cnn's layers are all in --net"
                                              : "a linear classifier has no hidden layers; use --model mlp");
  if (net_text && strcmp(model, "cnn") != 0)
    return sml_fail(err, SML_EINPUT, "--net: gives the layers of a cnn, not of a %s model", model);
  if (!net_text && strcmp(model, "cnn") == 0)
    return sml_fail(err, SML_EINPUT, "--net: a cnn is given by its layers (e.g. conv32x3,relu,pool2,fc10)");
  if (folds < 1 || folds > 1000)
    return sml_fail(err, SML_EINPUT, "--folds %lld: must be between 1 and 1000", (long long)folds);
  if (random_n < 0 || random_n > SML_SEARCH_MAX_POINTS)
    return sml_fail(err, SML_EINPUT, "--random %lld: must be between 0 and %d", (long long)random_n,
                    SML_SEARCH_MAX_POINTS);
  /* The base set-up every configuration modifies: one typed value, with
   * the train command's defaults. */
  snprintf(base.model, sizeof base.model, "%s", model);
  sml_search_space space = {0};
  if (net_text) SML_TRY(parse_nets(net_text, &space, err));
  if (space.nalternatives > 0) memcpy(base.net, space.net[0], sizeof base.net); /* checked with the rest */
  SML_TRY(cli_optimizer(optimizer, &base, err));
  SML_TRY(cli_schedule(schedule, &base, err));
  SML_TRY(cli_mode_options(&reduce, &base, err));
  base.seed = cli_seed(&data);
  sml_train_defaults(&base);
  base.lr = 1; /* each point sets its own; checked here with the rest */
  base.batch = 1;
  SML_TRY(sml_train_config_check(&base, INT64_MAX, err));
  SML_TRY(parse_reals("lr", lr_text, &space.lr, 1, err));
  SML_TRY(parse_reals("reg", reg_text, &space.reg, 1, err));
  if ((space.lr.range || space.reg.range) && random_n == 0)
    return sml_fail(err, SML_EINPUT, "--lr/--reg LO:HI ranges need --random N");
  for (int i = 0; !space.lr.range && i < space.lr.n; i++)
    if (!(space.lr.v[i] > 0)) return sml_fail(err, SML_EINPUT, "--lr %s: learning rates must be positive", lr_text);
  for (int i = 0; !space.reg.range && i < space.reg.n; i++)
    if (space.reg.v[i] < 0) return sml_fail(err, SML_EINPUT, "--reg %s: must not be negative", reg_text);
  char hbuf[1024], *hidden[SML_SEARCH_MAX_VALUES];
  int nh = 0;
  if (strcmp(model, "mlp") == 0)
    SML_TRY(cli_word_list("hidden", hidden_text ? hidden_text : "256", hbuf, sizeof hbuf, hidden, SML_SEARCH_MAX_VALUES,
                          &nh, err));
  for (int i = 0; i < nh; i++) SML_TRY(parse_widths(hidden[i], hidden_text, space.hidden[i], &space.nhidden[i], err));
  if (!net_text) space.nalternatives = nh;
  SML_TRY(cli_int_list("batch", batch_text, space.batch, SML_SEARCH_MAX_VALUES, &space.nbatch, err));
  int slice = 0, nslices = 0;
  if (slice_text &&
      (sscanf(slice_text, "%d/%d", &slice, &nslices) != 2 || nslices < 1 || slice < 0 || slice >= nslices))
    return sml_fail(err, SML_EINPUT, "--slice %s: expected I/N with 0 <= I < N", slice_text);

  /* The configurations: the grid, or N random draws (the same on every rank). */
  sml_search_point *points = SML_CALLOC(SML_SEARCH_MAX_POINTS, sizeof *points);
  int npoints = 0;
  int st = sml_search_points(&space, random_n, cli_seed(&data), points, &npoints, err);
  if (st != SML_OK) {
    free(points);
    return st;
  }
  const int ntasks = npoints * (int)folds;
  if (groups == 0) groups = world->size < ntasks ? world->size : ntasks;
  if (groups < 1 || groups > world->size) {
    free(points);
    return sml_fail(err, SML_EINPUT, "--groups %lld: must be between 1 and the number of ranks (%d)", (long long)groups,
                    world->size);
  }
  st = world->rank == 0 ? sml_mkdirs(out, err) : SML_OK;
  if ((st = sml_agree(world, st, err)) != SML_OK) {
    free(points);
    return st;
  }

  char journal[4096];
  snprintf(journal, sizeof journal, "%s/journal.txt", out);
  sml_data_options dopt;
  st = cli_data_options(&data, 0, &dopt, err);
  if (st != SML_OK) {
    free(points);
    return st;
  }
  sml_search_spec spec = {.points = points,
                          .npoints = npoints,
                          .vary_hidden = nh > 1 || space.nalternatives > 1,
                          .vary_batch = space.nbatch > 1,
                          .folds = (int)folds,
                          .groups = (int)groups,
                          .subset = 0,
                          .data = &dopt,
                          .journal = journal,
                          .slice = slice,
                          .nslices = nslices,
                          .best_epoch_score = keep_best,
                          .train_scores = train_scores};
  char layout[64];
  sml_groups_text(world->size, (int)groups, layout, sizeof layout);
  sml_log(world, "search: %s, %d configurations x %lld folds = %d tasks on %s", model, npoints, (long long)folds,
          ntasks, layout);
  sml_cv_table table;
  sml_task_load load = {0};
  st = sml_search_run(&spec, &base, world, &table, &load, err);
  if (st != SML_OK) {
    sml_task_load_free(&load);
    free(points);
    return st;
  }
  for (int g = 0; g < load.ngroups; g++)
    sml_log(world, "search: group %d ran %d tasks, busy %.1fs of %.1fs wall (%.0f%%)", g, load.tasks[g], load.busy_s[g],
            load.wall_s, load.wall_s > 0 ? 100.0 * load.busy_s[g] / load.wall_s : 0.0);
  sml_task_load_free(&load);
  if (nslices > 0) {
    sml_log(world, "search: slice %d/%d done; rerun without --slice to merge the journal and finish", slice, nslices);
    sml_cv_table_free(&table);
    free(points);
    return SML_OK;
  }
  int diverged = 0;
  for (int c = 0; c < table.nconfigs; c++) diverged += isnan(sml_cv_mean(&table, c));
  if (diverged)
    sml_log(world, "search: %d configuration(s) diverged in at least one fold (score NaN, ranked last)", diverged);
  const int best = sml_cv_best(&table);
  if (world->rank == 0) {
    printf("%-4s", "rank");
    for (int p = 0; p < table.nparams; p++) printf(" %-10s", table.param_names[p]);
    printf(" mean     std\n");
    for (int c = 0; c < table.nconfigs; c++) {
      printf("%-4s", c == best ? "*" : "");
      for (int p = 0; p < table.nparams; p++) printf(" %-10s", table.values[c][p]);
      printf(" %.4f   %.4f\n", sml_cv_mean(&table, c), sml_cv_std(&table, c));
    }
    fflush(stdout);
  }

  /* The best configuration on the whole training set (or --subset), scored
   * on the test split: a train job built from the same typed set-up, so the
   * final model is exactly a `train` run's. */
  double test_acc = -1;
  if (!isnan(sml_cv_mean(&table, best))) {
    char final_out[4096];
    snprintf(final_out, sizeof final_out, "%s/best", out);
    sml_train_job job = {.cfg = base, .out = final_out, .keep = 1};
    const sml_search_point *p = &points[best];
    sml_search_point_apply(p, &job.cfg);
    /* The tasks' validation watched early stopping; the final run has no
     * validation split, so it trains every epoch. */
    job.cfg.early_stop = 0;
    data.val = 0;
    st = cli_data_options(&data, 1, &job.data, err);
    sml_log(world, "search: retraining the best configuration (index %d) on the whole training set", best);
    if (st == SML_OK) st = sml_train_job_run(&job, world, &test_acc, err);
  } else {
    sml_log(world, "search: every configuration diverged; nothing to retrain");
  }
  if (st == SML_OK) {
    int wst = SML_OK;
    if (world->rank == 0) {
      char path[4096];
      wst = sml_cv_write(&table, out, test_acc, err);
      snprintf(path, sizeof path, "%s/search_plot.svg", out);
      int numeric_pair = table.nparams == 2 && random_n == 0 && space.lr.n > 1 && space.reg.n > 1;
      if (wst == SML_OK)
        wst = numeric_pair ? sml_search_heatmap(&table, 0, 1, path, err) : sml_search_config_plot(&table, path, err);
      if (wst == SML_OK) sml_log(world, "wrote %s/cv_results.csv, cv_results.json, search_plot.svg, best/", out);
    }
    st = sml_agree(world, wst, err);
  }
  sml_cv_table_free(&table);
  free(points);
  return st;
}
