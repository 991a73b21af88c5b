/* The cross-validation results table and its files, with scikit-learn's
 * cv_results_ column names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/cv.h"
#include "io/io.h"

void sml_cv_table_init(sml_cv_table *t, int nparams, const char *const *names, int nconfigs, int nfolds) {
  memset(t, 0, sizeof *t);
  t->nparams = nparams;
  for (int p = 0; p < nparams; p++) snprintf(t->param_names[p], SML_CV_VALUE_LEN, "%s", names[p]);
  t->nconfigs = nconfigs;
  t->nfolds = nfolds;
  t->values = SML_CALLOC((size_t)nconfigs, sizeof *t->values);
  t->numeric = SML_CALLOC((size_t)nparams, sizeof *t->numeric);
  size_t cells = (size_t)nconfigs * (size_t)nfolds;
  t->score = SML_CALLOC(cells, sizeof *t->score);
  t->fit_time = SML_CALLOC(cells, sizeof *t->fit_time);
  t->score_time = SML_CALLOC(cells, sizeof *t->score_time);
  t->train_score = SML_CALLOC(cells, sizeof *t->train_score);
}

void sml_cv_table_free(sml_cv_table *t) {
  free(t->values);
  free(t->numeric);
  free(t->score);
  free(t->fit_time);
  free(t->score_time);
  free(t->train_score);
  memset(t, 0, sizeof *t);
}

static double row_mean(const double *row, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += row[i];
  return n ? s / n : NAN;
}
/* Population standard deviation, as numpy.std and scikit-learn report. */
static double row_std(const double *row, int n) {
  double m = row_mean(row, n), s = 0;
  for (int i = 0; i < n; i++) s += (row[i] - m) * (row[i] - m);
  return n ? sqrt(s / n) : NAN;
}

double sml_cv_mean(const sml_cv_table *t, int c) { return row_mean(t->score + (size_t)c * t->nfolds, t->nfolds); }
double sml_cv_std(const sml_cv_table *t, int c) { return row_std(t->score + (size_t)c * t->nfolds, t->nfolds); }

/* A diverged task scores NaN (as scikit-learn's error_score): it never
 * wins and ranks last. */
static int better(double a, double b) { return !isnan(a) && (isnan(b) || a > b); }

int sml_cv_best(const sml_cv_table *t) {
  int best = 0;
  for (int c = 1; c < t->nconfigs; c++)
    if (better(sml_cv_mean(t, c), sml_cv_mean(t, best))) best = c;
  return best;
}

void sml_cv_table_allreduce(sml_cv_table *t, const sml_comm *world) {
  int64_t cells = (int64_t)t->nconfigs * t->nfolds;
  sml_allreduce_sum_f64(world, t->score, cells);
  sml_allreduce_sum_f64(world, t->fit_time, cells);
  sml_allreduce_sum_f64(world, t->score_time, cells);
  sml_allreduce_sum_f64(world, t->train_score, cells);
}

/* Rank 1 for the best mean; equal means share the smaller rank. */
static int rank_of(const sml_cv_table *t, int c) {
  int r = 1;
  for (int o = 0; o < t->nconfigs; o++)
    if (better(sml_cv_mean(t, o), sml_cv_mean(t, c))) r++;
  return r;
}

static void json_value(FILE *f, const sml_cv_table *t, int c, int p) {
  if (t->numeric[p]) fprintf(f, "%s", t->values[c][p]);
  else fprintf(f, "\"%s\"", t->values[c][p]);
}

/* Configuration c as a JSON object, {"lr": 0.01, "metric": "l2"} (scikit-learn's
 * params); in CSV (csv = 1) quoted, its quotes doubled, as one field. */
static void params_object(FILE *f, const sml_cv_table *t, int c, int csv) {
  const char *q = csv ? "\"\"" : "\"";
  fprintf(f, "%s{", csv ? "\"" : "");
  for (int p = 0; p < t->nparams; p++) {
    fprintf(f, "%s%s%s%s: ", p ? ", " : "", q, t->param_names[p], q);
    if (t->numeric[p]) fprintf(f, "%s", t->values[c][p]);
    else fprintf(f, "%s%s%s", q, t->values[c][p], q);
  }
  fprintf(f, "}%s", csv ? "\"" : "");
}

static void json_array(FILE *f, const char *key, const double *v, int n, int stride) {
  fprintf(f, "  \"%s\": [", key);
  for (int i = 0; i < n; i++) {
    const double x = v[(size_t)i * stride];
    if (isfinite(x)) fprintf(f, "%s%.6g", i ? ", " : "", x);
    else fprintf(f, "%snull", i ? ", " : ""); /* JSON has no NaN: a diverged task */
  }
  fprintf(f, "]");
}

/* "split<i>_<what>_score": [...] for each fold i of scores [C, F], each line ending ",\n". */
static void json_splits(FILE *f, const char *what, const double *scores, int C, int F) {
  for (int fo = 0; fo < F; fo++) {
    char key[48];
    snprintf(key, sizeof key, "split%d_%s_score", fo, what);
    json_array(f, key, scores + fo, C, F);
    fprintf(f, ",\n");
  }
}

int sml_cv_write(const sml_cv_table *t, const char *dir, double test_score, sml_err *err) {
  const int F = t->nfolds, C = t->nconfigs;
  double *mean = SML_ALLOC((size_t)C * sizeof *mean), *stdv = SML_ALLOC((size_t)C * sizeof *stdv);
  double *mfit = SML_ALLOC((size_t)C * sizeof *mfit), *sfit = SML_ALLOC((size_t)C * sizeof *sfit);
  double *mscore = SML_ALLOC((size_t)C * sizeof *mscore), *sscore = SML_ALLOC((size_t)C * sizeof *sscore);
  double *mtrain = SML_ALLOC((size_t)C * sizeof *mtrain), *strain = SML_ALLOC((size_t)C * sizeof *strain);
  for (int c = 0; c < C; c++) {
    mtrain[c] = row_mean(t->train_score + (size_t)c * F, F);
    strain[c] = row_std(t->train_score + (size_t)c * F, F);
    mean[c] = sml_cv_mean(t, c);
    stdv[c] = sml_cv_std(t, c);
    mfit[c] = row_mean(t->fit_time + (size_t)c * F, F);
    sfit[c] = row_std(t->fit_time + (size_t)c * F, F);
    mscore[c] = row_mean(t->score_time + (size_t)c * F, F);
    sscore[c] = row_std(t->score_time + (size_t)c * F, F);
  }
  char path[4096];
  sml_atomic_file a;
  snprintf(path, sizeof path, "%s/cv_results.csv", dir);
  int st = sml_atomic_open(&a, path, err);
  if (st == SML_OK) {
    for (int p = 0; p < t->nparams; p++) fprintf(a.f, "param_%s,", t->param_names[p]);
    for (int f = 0; f < F; f++) fprintf(a.f, "split%d_test_score,", f);
    /* params last: the columns before it keep their places for tools that cut them. */
    fprintf(a.f, "mean_test_score,std_test_score,rank_test_score,");
    for (int f = 0; t->has_train_score && f < F; f++) fprintf(a.f, "split%d_train_score,", f);
    if (t->has_train_score) fprintf(a.f, "mean_train_score,std_train_score,");
    fprintf(a.f, "mean_fit_time,std_fit_time,mean_score_time,std_score_time,params\n");
    for (int c = 0; c < C; c++) {
      for (int p = 0; p < t->nparams; p++) { /* a network's layers hold commas: quoted */
        sml_csv_field(a.f, t->values[c][p]);
        fputc(',', a.f);
      }
      for (int f = 0; f < F; f++) fprintf(a.f, "%.6f,", t->score[(size_t)c * F + f]);
      fprintf(a.f, "%.6f,%.6f,%d,", mean[c], stdv[c], rank_of(t, c));
      for (int f = 0; t->has_train_score && f < F; f++) fprintf(a.f, "%.6f,", t->train_score[(size_t)c * F + f]);
      if (t->has_train_score) fprintf(a.f, "%.6f,%.6f,", mtrain[c], strain[c]);
      fprintf(a.f, "%.4f,%.4f,%.4f,%.4f,", mfit[c], sfit[c], mscore[c], sscore[c]);
      params_object(a.f, t, c, 1);
      fprintf(a.f, "\n");
    }
    st = sml_atomic_commit(&a, err);
  }
  if (st == SML_OK) {
    snprintf(path, sizeof path, "%s/cv_results.json", dir);
    st = sml_atomic_open(&a, path, err);
  }
  if (st == SML_OK) {
    FILE *f = a.f;
    const int best = sml_cv_best(t);
    fprintf(f, "{\n");
    for (int p = 0; p < t->nparams; p++) {
      fprintf(f, "  \"param_%s\": [", t->param_names[p]);
      for (int c = 0; c < C; c++) {
        fprintf(f, "%s", c ? ", " : "");
        json_value(f, t, c, p);
      }
      fprintf(f, "],\n");
    }
    json_splits(f, "test", t->score, C, F);
    fprintf(f, "  \"params\": [");
    for (int c = 0; c < C; c++) {
      fprintf(f, "%s", c ? ", " : "");
      params_object(f, t, c, 0);
    }
    fprintf(f, "],\n");
    json_array(f, "mean_test_score", mean, C, 1);
    fprintf(f, ",\n");
    json_array(f, "std_test_score", stdv, C, 1);
    fprintf(f, ",\n");
    fprintf(f, "  \"rank_test_score\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s%d", c ? ", " : "", rank_of(t, c));
    fprintf(f, "],\n");
    if (t->has_train_score) json_splits(f, "train", t->train_score, C, F);
    if (t->has_train_score) {
      json_array(f, "mean_train_score", mtrain, C, 1);
      fprintf(f, ",\n");
      json_array(f, "std_train_score", strain, C, 1);
      fprintf(f, ",\n");
    }
    json_array(f, "mean_fit_time", mfit, C, 1);
    fprintf(f, ",\n");
    json_array(f, "std_fit_time", sfit, C, 1);
    fprintf(f, ",\n");
    json_array(f, "mean_score_time", mscore, C, 1);
    fprintf(f, ",\n");
    json_array(f, "std_score_time", sscore, C, 1);
    fprintf(f, ",\n");
    fprintf(f, "  \"split\": {\"folds_mode\": \"%s\", \"shuffle\": %s, \"seed\": %llu, \"folds\": %d},\n",
            sml_split_mode_name(t->split.mode), t->split.shuffle ? "true" : "false", (unsigned long long)t->split.seed,
            F);
    fprintf(f, "  \"best_index\": %d,\n  \"best_params\": ", best);
    params_object(f, t, best, 0);
    if (isfinite(mean[best])) fprintf(f, ",\n  \"best_score\": %.6f,\n", mean[best]);
    else fprintf(f, ",\n  \"best_score\": null,\n");
    if (test_score >= 0) fprintf(f, "  \"test_score\": %.6f\n}\n", test_score);
    else fprintf(f, "  \"test_score\": null\n}\n");
    st = sml_atomic_commit(&a, err);
  }
  free(mean);
  free(stdv);
  free(mfit);
  free(sfit);
  free(mscore);
  free(sscore);
  free(mtrain);
  free(strain);
  return st;
}
