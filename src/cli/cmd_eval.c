/* shardml eval and predict: a saved model (final model.h5 or any
 * checkpoint) on a dataset's test split (or validation split with --val).
 * The preprocessing mean is the one saved with the model. kNN keeps no
 * trained state, so it has no file for these commands: use `shardml knn`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "shardml/checkpoint.h"
#include "io/io.h"
#include "plot/plot.h"
#include "shardml/prep.h"

typedef struct {
  sml_saved_model sm;
  sml_dataset ds;
  const sml_shard *split;
} eval_setup;

static const char *knn_note =
    "kNN keeps no trained state, so it has no checkpoint: evaluate it with "
    "'shardml knn --k K --metric l1|l2 --data ...'";

/* Loads the model (every rank reads the small file) and the data, and
 * checks that they fit each other. Collective; agreed. */
static int setup(eval_setup *e, const char *checkpoint, const cli_data_args *data, const char *model_opt,
                 const sml_comm *c, sml_err *err) {
  memset(e, 0, sizeof *e);
  if (model_opt && strcmp(model_opt, "knn") == 0) return sml_fail(err, SML_EINPUT, "--model knn: %s", knn_note);
  if (!checkpoint) return sml_fail(err, SML_EINPUT, "--checkpoint FILE is required (a model.h5 or ckpt-*.h5)");
  int st = sml_saved_model_load(&e->sm, checkpoint, err);
  /* The file says what it holds; --model may only confirm it. */
  if (st == SML_OK && model_opt && strcmp(model_opt, e->sm.model.kind) != 0) {
    st = sml_fail(err, SML_EINPUT, "--model %s: %s holds a %s model (eval reads the model from the file; drop --model)",
                  model_opt, checkpoint, e->sm.model.kind);
    sml_saved_model_free(&e->sm);
  }
  SML_TRY(sml_agree(c, st, err));
  cli_data_args d = *data;
  if (!d.data && e->sm.dataset_path[0]) d.data = e->sm.dataset_path; /* the data it was trained on */
  sml_data_options dopt;
  SML_TRY(cli_data_options(&d, 1, &dopt, err));
  st = sml_dataset_load(&e->ds, &dopt, c, err);
  if (st != SML_OK) {
    sml_saved_model_free(&e->sm);
    return st;
  }
  e->split = e->ds.val.total > 0 ? &e->ds.val : &e->ds.test;
  const int C = (int)e->sm.model.width[e->sm.model.nlayers];
  if (sml_dataset_dim(&e->ds) != e->sm.dim || e->ds.height != e->sm.image_shape[0] ||
      e->ds.width != e->sm.image_shape[1])
    st = sml_fail(err, SML_EINPUT, "%s: the model takes %lldx%lldx%lld images, %s has %dx%dx%d", checkpoint,
                  (long long)e->sm.image_shape[0], (long long)e->sm.image_shape[1], (long long)e->sm.image_shape[2],
                  e->ds.path, e->ds.height, e->ds.width, e->ds.channels);
  else if (e->ds.num_classes > C)
    st = sml_fail(err, SML_EINPUT, "%s: the model knows %d classes, %s has %d", checkpoint, C, e->ds.path,
                  e->ds.num_classes);
  else if (e->split->total == 0)
    st = sml_fail(err, SML_EINPUT, "%s: no test split to evaluate (use --test-data or --val)", e->ds.path);
  if (st != SML_OK) {
    sml_dataset_free(&e->ds);
    sml_saved_model_free(&e->sm);
  }
  return st;
}

static void teardown(eval_setup *e) {
  sml_dataset_free(&e->ds);
  sml_saved_model_free(&e->sm);
}

/* scores[count, C] of the local split (softmax probabilities unless svm). */
static float *local_scores(const eval_setup *e) {
  const sml_model *m = &e->sm.model;
  const int64_t C = m->width[m->nlayers], n = e->split->count;
  const sml_prep prep = {.dim = e->sm.dim, .mean = e->sm.mean};
  float *scores = SML_ALLOC((size_t)(n * C + 1) * sizeof *scores);
  sml_images_scores(m, e->sm.params, &prep, e->split->images, e->split->first, n, scores);
  if (m->loss == SML_LOSS_SOFTMAX)
    for (int64_t i = 0; i < n; i++) {
      float *s = scores + i * C, mx = s[0], sum = 0;
      for (int64_t j = 1; j < C; j++) mx = s[j] > mx ? s[j] : mx;
      for (int64_t j = 0; j < C; j++) sum += (s[j] = expf(s[j] - mx));
      for (int64_t j = 0; j < C; j++) s[j] /= sum;
    }
  return scores;
}

/* The confusion matrix as a picture: rows the true class (named), columns
 * the predicted one (numbered), each cell's count on a shade of its share
 * of the row. Rank 0 only. */
static int confusion_png(const char *path, const int64_t *confusion, int64_t C, const sml_dataset *ds, sml_err *err) {
  static const uint8_t ink[3] = {0, 0, 0}, white[3] = {255, 255, 255};
  const int cell = 44, left = 16 * SML_TEXT_W, top = 3 * SML_TEXT_H + 12;
  sml_canvas cv;
  sml_canvas_init(&cv, left + (int)C * cell + 10, top + (int)C * cell + 2 * SML_TEXT_H + 10);
  sml_canvas_text(&cv, 4, 4, "confusion matrix: rows true class, columns predicted", 0, ink);
  for (int64_t p = 0; p < C; p++) {
    char head[24];
    snprintf(head, sizeof head, "%lld", (long long)p);
    sml_canvas_text_centered(&cv, left + (int)p * cell + cell / 2, top - SML_TEXT_H - 4, head, cell, ink);
  }
  for (int64_t t = 0; t < C; t++) {
    int64_t row = 0;
    for (int64_t p = 0; p < C; p++) row += confusion[t * C + p];
    char name[80], unnamed[32];
    snprintf(name, sizeof name, "%lld %s", (long long)t, sml_class_name(ds, (int)t, unnamed, sizeof unnamed));
    sml_canvas_text(&cv, 4, top + (int)t * cell + (cell - SML_TEXT_H) / 2, name, left / SML_TEXT_W - 1, ink);
    for (int64_t p = 0; p < C; p++) {
      const double share = row ? (double)confusion[t * C + p] / (double)row : 0;
      const uint8_t shade[3] = {(uint8_t)lrint(255 - 225 * share), (uint8_t)lrint(255 - 175 * share),
                                (uint8_t)lrint(255 - 75 * share)}; /* white to dark blue */
      const int x = left + (int)p * cell, y = top + (int)t * cell;
      sml_canvas_fill(&cv, x, y, cell - 1, cell - 1, shade);
      if (p == t) sml_canvas_frame(&cv, x + 1, y + 1, cell - 3, cell - 3, 1, ink); /* the diagonal: correct */
      char count[24];
      snprintf(count, sizeof count, "%lld", (long long)confusion[t * C + p]);
      sml_canvas_text_centered(&cv, x + cell / 2, y + (cell - SML_TEXT_H) / 2, count, cell - 2,
                               share > 0.5 ? white : ink);
    }
  }
  int st = sml_canvas_write_png(&cv, path, err);
  sml_canvas_free(&cv);
  return st;
}

/* Precision, recall, F1 and support of each class as scikit-learn's
 * classification_report computes them: over the classes that occur as a
 * true or a predicted label, 0 where a ratio has nothing below it, then
 * their plain (macro) and support-weighted means. Printed as that report
 * does (4 decimals) and, with a path, written as CSV. Rank 0 only. */
typedef struct {
  double precision, recall, f1;
  int64_t support;
} class_scores;

static int report(const int64_t *confusion, int64_t C, const sml_dataset *ds, const char *csv_path, sml_err *err) {
  class_scores *sc = SML_CALLOC((size_t)C, sizeof *sc);
  int *present = SML_CALLOC((size_t)C, sizeof *present);
  class_scores macro = {0, 0, 0, 0}, weighted = {0, 0, 0, 0};
  int64_t total = 0, correct = 0, nclasses = 0;
  for (int64_t k = 0; k < C; k++) {
    int64_t row = 0, column = 0;
    for (int64_t j = 0; j < C; j++) {
      row += confusion[k * C + j];
      column += confusion[j * C + k];
    }
    const double hit = (double)confusion[k * C + k];
    sc[k].support = row;
    sc[k].precision = column ? hit / (double)column : 0;
    sc[k].recall = row ? hit / (double)row : 0;
    const double pr = sc[k].precision + sc[k].recall;
    sc[k].f1 = pr > 0 ? 2 * sc[k].precision * sc[k].recall / pr : 0;
    present[k] = row > 0 || column > 0;
    if (!present[k]) continue;
    nclasses++;
    total += row;
    correct += confusion[k * C + k];
    macro.precision += sc[k].precision;
    macro.recall += sc[k].recall;
    macro.f1 += sc[k].f1;
    weighted.precision += sc[k].precision * (double)row;
    weighted.recall += sc[k].recall * (double)row;
    weighted.f1 += sc[k].f1 * (double)row;
  }
  macro.precision /= (double)nclasses;
  macro.recall /= (double)nclasses;
  macro.f1 /= (double)nclasses;
  weighted.precision /= (double)total;
  weighted.recall /= (double)total;
  weighted.f1 /= (double)total;
  macro.support = weighted.support = total;

  printf("\n%24s %9s %9s %9s %9s\n\n", "", "precision", "recall", "f1-score", "support");
  for (int64_t k = 0; k < C; k++) {
    if (!present[k]) continue;
    char unnamed[32];
    printf("%24.24s %9.4f %9.4f %9.4f %9lld\n", sml_class_name(ds, (int)k, unnamed, sizeof unnamed), sc[k].precision,
           sc[k].recall, sc[k].f1, (long long)sc[k].support);
  }
  printf("\n%24s %9s %9s %9.4f %9lld\n", "accuracy", "", "", (double)correct / (double)total, (long long)total);
  printf("%24s %9.4f %9.4f %9.4f %9lld\n", "macro avg", macro.precision, macro.recall, macro.f1, (long long)total);
  printf("%24s %9.4f %9.4f %9.4f %9lld\n", "weighted avg", weighted.precision, weighted.recall, weighted.f1,
         (long long)total);

  int st = SML_OK;
  if (csv_path) {
    sml_atomic_file a;
    st = sml_atomic_open(&a, csv_path, err);
    if (st == SML_OK) {
      fprintf(a.f, "class,name,precision,recall,f1,support\n");
      for (int64_t k = 0; k < C; k++) {
        char unnamed[32];
        if (!present[k]) continue;
        fprintf(a.f, "%lld,", (long long)k);
        sml_csv_field(a.f, sml_class_name(ds, (int)k, unnamed, sizeof unnamed));
        fprintf(a.f, ",%.17g,%.17g,%.17g,%lld\n", sc[k].precision, sc[k].recall, sc[k].f1, (long long)sc[k].support);
      }
      fprintf(a.f, ",macro avg,%.17g,%.17g,%.17g,%lld\n", macro.precision, macro.recall, macro.f1, (long long)total);
      fprintf(a.f, ",weighted avg,%.17g,%.17g,%.17g,%lld\n", weighted.precision, weighted.recall, weighted.f1,
              (long long)total);
      fprintf(a.f, ",accuracy,,,%.17g,%lld\n", (double)correct / (double)total, (long long)total);
      st = sml_atomic_commit(&a, err);
      if (st == SML_OK) fprintf(stderr, "shardml: wrote %s\n", csv_path);
    }
  }
  free(sc);
  free(present);
  return st;
}

int cmd_eval(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  const char *checkpoint = NULL, *model = NULL, *confusion_path = NULL, *confusion_svg = NULL, *report_path = NULL;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      {"checkpoint", OPT_STRING, &checkpoint, "FILE", "a model.h5 or checkpoint ckpt-*.h5 written by shardml train"},
      {"confusion", OPT_STRING, &confusion_svg, "FILE.svg",
       "also draw the confusion matrix: class names on both axes, cells coloured by their share of the row, a "
       "colour bar"},
      {"confusion-png", OPT_STRING, &confusion_path, "FILE.png",
       "the same as a PNG raster (bitmap font: class names on its rows)"},
      {"report", OPT_STRING, &report_path, "FILE.csv",
       "also write precision, recall, F1 and support per class, with macro and weighted averages"},
      {"model", OPT_WORD, &model, "NAME", "only to be told that knn has no checkpoint"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "eval",
                    "Accuracy, per-class accuracy, confusion matrix and per-class precision, recall and F1\n"
                    "(as scikit-learn's classification_report) of a saved model on the test split (default\n"
                    "data: the dataset the model was trained on). kNN keeps no trained state: evaluate it\n"
                    "with 'shardml knn'.",
                    "  mpirun -n 2 shardml eval --checkpoint shardml-out/model.h5\n"
                    "  shardml eval --checkpoint out/model.h5 --report r.csv --confusion c.svg\n"
                    "  shardml eval --checkpoint ck/ckpt-000001000.h5 --data fashion.h5\n",
                    argc, argv, opts, err));
  SML_TRY(cli_check_outputs(world, (const char *const[]){confusion_path, confusion_svg, report_path}, 3, err));
  eval_setup e;
  SML_TRY(setup(&e, checkpoint, &data, model, world, err));
  const int64_t C = e.sm.model.width[e.sm.model.nlayers];
  float *scores = local_scores(&e);
  int64_t *confusion = SML_CALLOC((size_t)(C * C), sizeof *confusion); /* [true, predicted] */
  for (int64_t i = 0; i < e.split->count; i++) confusion[e.split->labels[i] * C + sml_argmax(scores + i * C, C)]++;
  sml_allreduce_sum_i64(world, confusion, C * C);
  if (world->rank == 0) {
    int64_t correct = 0, total = 0;
    for (int64_t t = 0; t < C; t++)
      for (int64_t p = 0; p < C; p++) {
        total += confusion[t * C + p];
        if (t == p) correct += confusion[t * C + p];
      }
    printf("model %s on %s (%lld images)\naccuracy %.4f\n\nper-class accuracy\n", e.sm.model.kind, e.ds.path,
           (long long)total, (double)correct / (double)total);
    for (int64_t t = 0; t < e.ds.num_classes; t++) {
      int64_t row = 0;
      for (int64_t p = 0; p < C; p++) row += confusion[t * C + p];
      printf("  %-3lld %-16s %.4f (%lld images)\n", (long long)t, e.ds.class_names[t],
             row ? (double)confusion[t * C + t] / (double)row : 0.0, (long long)row);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n     ");
    for (int64_t p = 0; p < C; p++) printf("%6lld", (long long)p);
    printf("\n");
    for (int64_t t = 0; t < e.ds.num_classes; t++) {
      printf("  %-3lld", (long long)t);
      for (int64_t p = 0; p < C; p++) printf("%6lld", (long long)confusion[t * C + p]);
      printf("\n");
    }
  }
  int st = SML_OK;
  if (world->rank == 0) {
    st = report(confusion, C, &e.ds, report_path, err);
    fflush(stdout);
  }
  if (st == SML_OK && confusion_path && world->rank == 0) {
    st = confusion_png(confusion_path, confusion, C, &e.ds, err);
    if (st == SML_OK) fprintf(stderr, "shardml: wrote %s\n", confusion_path);
  }
  if (st == SML_OK && confusion_svg && world->rank == 0) {
    char(*named)[80] = SML_CALLOC((size_t)C, sizeof *named);
    const char **names = SML_CALLOC((size_t)C, sizeof *names);
    for (int64_t k = 0; k < C; k++) {
      char unnamed[32];
      snprintf(named[k], sizeof named[k], "%s", sml_class_name(&e.ds, (int)k, unnamed, sizeof unnamed));
      names[k] = named[k];
    }
    st = sml_svg_confusion(confusion_svg, confusion, (int)C, names, err);
    if (st == SML_OK) fprintf(stderr, "shardml: wrote %s\n", confusion_svg);
    free(names);
    free(named);
  }
  st = sml_agree(world, st, err);
  free(confusion);
  free(scores);
  teardown(&e);
  return st;
}

int cmd_predict(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  const char *checkpoint = NULL, *model = NULL, *out = "predictions.csv";
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      {"checkpoint", OPT_STRING, &checkpoint, "FILE", "a model.h5 or checkpoint ckpt-*.h5 written by shardml train"},
      {"out", OPT_STRING, &out, "FILE",
       "CSV: index, predicted and true label, their class names, per-class probabilities (scores for svm)"},
      {"model", OPT_WORD, &model, "NAME", "only to be told that knn has no checkpoint"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "predict",
                    "Write a saved model's predictions for the test split (or --val split) to a CSV file.",
                    "  shardml predict --checkpoint shardml-out/model.h5 --out predictions.csv\n"
                    "  shardml predict --checkpoint best.h5 --val 5000 --out val.csv\n",
                    argc, argv, opts, err));
  SML_TRY(cli_check_outputs(world, (const char *const[]){out}, 1, err));
  eval_setup e;
  SML_TRY(setup(&e, checkpoint, &data, model, world, err));
  const int64_t C = e.sm.model.width[e.sm.model.nlayers], n = e.split->count;
  float *scores = local_scores(&e);
  /* Rank 0 writes the rows in global order: its own, then each rank's. */
  int64_t *counts = world->rank == 0 ? SML_ALLOC((size_t)world->size * sizeof *counts) : NULL;
  sml_gather_i64(world, n, counts, 0);
  int64_t total = 0;
  if (world->rank == 0)
    for (int r = 0; r < world->size; r++) total += counts[r];
  float *all = world->rank == 0 ? SML_ALLOC((size_t)(total * C + 1) * sizeof *all) : NULL;
  uint8_t *labels = world->rank == 0 ? SML_ALLOC((size_t)total + 1) : NULL;
  int64_t *bytes = world->rank == 0 ? SML_ALLOC((size_t)world->size * sizeof *bytes) : NULL;
  if (bytes)
    for (int r = 0; r < world->size; r++) bytes[r] = counts[r] * C * (int64_t)sizeof(float);
  sml_gatherv_bytes(world, scores, n * C * (int64_t)sizeof(float), all, bytes, 0);
  sml_gatherv_bytes(world, e.split->labels, n, labels, counts, 0);
  int st = SML_OK;
  if (world->rank == 0) {
    sml_atomic_file a;
    st = sml_atomic_open(&a, out, err);
    if (st == SML_OK) {
      fprintf(a.f, "index,predicted,true_label,predicted_name,true_name");
      for (int64_t j = 0; j < C; j++)
        fprintf(a.f, e.sm.model.loss == SML_LOSS_SOFTMAX ? ",prob_%lld" : ",score_%lld", (long long)j);
      fprintf(a.f, "\n");
      for (int64_t i = 0; i < total; i++) {
        const int predicted = sml_argmax(all + i * C, C);
        char unnamed[32];
        fprintf(a.f, "%lld,%d,%d,", (long long)i, predicted, labels[i]);
        sml_csv_field(a.f, sml_class_name(&e.ds, predicted, unnamed, sizeof unnamed));
        fputc(',', a.f);
        sml_csv_field(a.f, sml_class_name(&e.ds, labels[i], unnamed, sizeof unnamed));
        for (int64_t j = 0; j < C; j++) fprintf(a.f, ",%.9g", all[i * C + j]); /* round-trips a float */
        fprintf(a.f, "\n");
      }
      st = sml_atomic_commit(&a, err);
      if (st == SML_OK) fprintf(stderr, "shardml: wrote %lld predictions to %s\n", (long long)total, out);
    }
  }
  free(counts);
  free(all);
  free(labels);
  free(bytes);
  free(scores);
  teardown(&e);
  return sml_agree(world, st, err);
}
