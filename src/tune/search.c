/* Hyperparameter search: (configuration, fold) tasks over groups of ranks,
 * each trained data-parallel inside its group. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/search.h"
#include "io/io.h"
#include "plot/plot.h"
#include "shardml/prep.h"
#include "base/hash.h"
#include "base/rng.h"

typedef struct {
  const sml_search_spec *spec;
  const sml_train_config *base;
  const sml_dataset *ds; /* the whole training set, sharded over the group */
  int64_t n;             /* training images used (subset) */
  int nfolds;            /* table columns */
  const int *part;       /* [n]: the fold of each image (with one fold: 1 validates, 0 trains) */
} search_ctx;

/* Copies this rank's images of [0, n) into a task dataset: those of the
 * fold as validation, the others as training. Each split keeps the file
 * order with the other's images left out, so this rank's part of each is a
 * contiguous range of that split's numbering (first = images of the split
 * before this rank's block). */
static void make_task_data(const search_ctx *s, int fold, sml_dataset *out) {
  const sml_dataset *ds = s->ds;
  const sml_shard *sh = &ds->train;
  const int64_t dim = sml_dataset_dim(ds);
  *out = *ds;
  memset(&out->train, 0, sizeof out->train);
  memset(&out->val, 0, sizeof out->val);
  memset(&out->test, 0, sizeof out->test);
  out->train.images = SML_ALLOC((size_t)(sh->count * dim) + 1);
  out->train.labels = SML_ALLOC((size_t)sh->count + 1);
  out->val.images = SML_ALLOC((size_t)(sh->count * dim) + 1);
  out->val.labels = SML_ALLOC((size_t)sh->count + 1);
  out->test.images = SML_ALLOC(1);
  out->test.labels = SML_ALLOC(1);
  int64_t val_total = 0, val_before = 0, before = sh->first < s->n ? sh->first : s->n;
  for (int64_t id = 0; id < s->n; id++) val_total += s->part[id] == fold;
  for (int64_t id = 0; id < before; id++) val_before += s->part[id] == fold;
  out->train.total = s->n - val_total;
  out->val.total = val_total;
  out->train.first = before - val_before;
  out->val.first = val_before;
  for (int64_t i = 0; i < sh->count; i++) {
    const int64_t id = sh->first + i;
    if (id >= s->n) break;
    sml_shard *dst = s->part[id] == fold ? &out->val : &out->train;
    memcpy(dst->images + dst->count * dim, sh->images + i * dim, (size_t)dim);
    dst->labels[dst->count++] = sh->labels[i];
  }
}

static void free_task_data(sml_dataset *d) {
  free(d->train.images);
  free(d->train.labels);
  free(d->val.images);
  free(d->val.labels);
  free(d->test.images);
  free(d->test.labels);
}

static uint64_t task_seed(uint64_t base, int config, int fold) {
  sml_rng r = sml_rng_stream(base, SML_STREAM_TASK_SEED, (uint64_t)config * 100003u + (uint64_t)fold);
  return sml_rng_next(&r) >> 1;
}

/* With best_epoch_score, the parameters of the best epoch so far (rank 0
 * of the group), for the training score of the same model. */
typedef struct {
  float *params;
  int64_t n;
  int saved;
} best_params;

static int keep_best_params(void *ctx, const sml_train_state *st, sml_err *err) {
  (void)err;
  best_params *b = ctx;
  memcpy(b->params, st->params, (size_t)b->n * sizeof *b->params);
  b->saved = 1;
  return SML_OK;
}

void sml_search_point_apply(const sml_search_point *p, sml_train_config *cfg) {
  cfg->lr = p->lr;
  cfg->reg = p->reg;
  cfg->batch = p->batch;
  if (p->nhidden > 0) {
    cfg->nhidden = p->nhidden;
    memcpy(cfg->hidden, p->hidden, (size_t)p->nhidden * sizeof *cfg->hidden);
  }
  if (p->net[0]) memcpy(cfg->net, p->net, sizeof cfg->net);
}

/* The architecture of a point as results spell it: "512x256" or the
 * network's layers ("" when it is the base's). */
static void architecture_text(const sml_search_point *p, char *out, size_t len) {
  if (p->net[0]) {
    snprintf(out, len, "%s", p->net);
  } else {
    sml_hidden_text(p->hidden, p->nhidden, out, len);
  }
}

/* Trains one (configuration, fold) inside the group and scores it. */
static int search_task_run(void *ctx, int task, const sml_comm *gc, sml_task_result *res, sml_err *err) {
  search_ctx *s = ctx;
  const int config = task / s->nfolds, fold = task % s->nfolds;
  const sml_search_point *p = &s->spec->points[config];
  const double t0 = sml_now();
  sml_dataset td;
  make_task_data(s, s->spec->folds == 1 ? 1 : fold, &td);
  sml_train_config cfg = *s->base;
  sml_search_point_apply(p, &cfg);
  cfg.seed = task_seed(s->base->seed, config, fold);
  cfg.quiet = 1;
  cfg.log_every = 0;
  sml_model model;
  int st = sml_train_model_image(&cfg, td.height, td.width, td.channels, td.num_classes, &model, err);
  double score = NAN, score_s = 0, train_score = NAN, train_s = 0;
  if (st == SML_OK) {
    sml_prep prep;
    sml_prep_init(&prep, &td.train, sml_dataset_dim(&td), gc);
    sml_train_state state;
    sml_train_state_init(&state, &model, &cfg, (td.train.total + cfg.batch - 1) / cfg.batch);
    if (gc->rank == 0) sml_model_init_params(&model, state.params, cfg.seed, cfg.init_scale);
    sml_train_state_bcast(&state, &model, &cfg, gc);
    sml_err why;
    const int want_best = s->spec->train_scores && s->spec->best_epoch_score;
    best_params best = {.params = want_best ? SML_ALLOC((size_t)model.nweights * sizeof(float)) : NULL,
                        .n = model.nweights};
    const sml_checkpoint_policy keep = {.write_best = keep_best_params, .ctx = &best};
    st = sml_train(&model, &state, &td, &prep, &cfg, want_best ? &keep : NULL, gc, &why);
    if (st == SML_OK) {
      const sml_train_history *h = &state.hist;
      score = h->epochs[h->nepochs - 1].val_acc;
      score_s = h->epochs[h->nepochs - 1].eval_s; /* scoring the fold once, as scikit-learn's score_time */
      for (int64_t e = 0; s->spec->best_epoch_score && e < h->nepochs; e++)
        if (h->epochs[e].val_acc > score) score = h->epochs[e].val_acc;
      if (s->spec->train_scores) {
        const double t1 = sml_now();
        if (want_best && gc->rank == 0 && !best.saved) /* no epoch had a validation score: the last one */
          memcpy(best.params, state.params, (size_t)model.nweights * sizeof(float));
        if (want_best) sml_bcast_bytes(gc, best.params, model.nweights * (int64_t)sizeof(float), 0);
        train_score = sml_evaluate(&model, want_best ? best.params : state.params, &td.train, &prep, gc, NULL);
        train_s = sml_now() - t1; /* neither fitting nor scoring the fold: out of both times */
      }
    } else if (st == SML_ERUNTIME) {
      /* A diverging configuration is a result (NaN, as scikit-learn's
       * error_score), not a reason to stop the search; rank 0 lists them
       * at the end (only world rank 0 prints). */
      st = SML_OK;
    } else {
      *err = why;
    }
    free(best.params);
    sml_train_state_free(&state);
    sml_prep_free(&prep);
  }
  free_task_data(&td);
  if (st != SML_OK) return -st;
  res[0] = (sml_task_result){.config = config,
                             .fold = fold,
                             .score = score,
                             .fit_time = sml_now() - t0 - score_s - train_s,
                             .score_time = score_s,
                             .train_score = train_score};
  return 1;
}

void sml_hidden_text(const int64_t *hidden, int n, char *out, size_t len) {
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < n && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%lld", i ? "x" : "", (long long)hidden[i]);
}

static void search_task_describe(void *ctx, int task, char *out, size_t len) {
  const search_ctx *s = ctx;
  const sml_search_point *p = &s->spec->points[task / s->nfolds];
  char arch[SML_NET_LEN];
  architecture_text(p, arch, sizeof arch);
  snprintf(out, len, "lr %g, reg %g%s%s, batch %lld, fold %d", p->lr, p->reg,
           p->net[0]    ? ", net "
           : p->nhidden ? ", hidden "
                        : "",
           arch, (long long)p->batch, task % s->nfolds);
}

int sml_search_run(const sml_search_spec *spec, const sml_train_config *base, const sml_comm *world,
                   sml_cv_table *table, sml_task_load *load, sml_err *err) {
  memset(table, 0, sizeof *table);
  memset(load, 0, sizeof *load);
  if (spec->folds < 1) return sml_fail_quantity(err, SML_EINPUT, "folds", " %d: must be at least 1", spec->folds);
  sml_groups g;
  sml_dataset ds;
  SML_TRY(sml_groups_load(&g, &ds, world, spec->groups, spec->data, err));
  int st = SML_OK;
  search_ctx s = {.spec = spec,
                  .base = base,
                  .ds = &ds,
                  .n = spec->subset > 0 && spec->subset < ds.train.total ? spec->subset : ds.train.total,
                  .nfolds = spec->folds};
  if (spec->folds > s.n)
    st = sml_fail_quantity(err, SML_EINPUT, "folds", " %d: more folds than training images (%lld)", spec->folds,
                           (long long)s.n);
  int *part = st == SML_OK ? sml_group_folds(&ds, s.n, spec->folds, &g.comm, world) : NULL;
  s.part = part;
  /* Every point must fit the smallest training part of a fold. */
  int64_t smallest = s.n;
  for (int f = spec->folds == 1 ? 1 : 0; st == SML_OK && f < (spec->folds == 1 ? 2 : spec->folds); f++) {
    int64_t val = 0;
    for (int64_t i = 0; i < s.n; i++) val += part[i] == f;
    if (s.n - val < smallest) smallest = s.n - val;
  }
  for (int i = 0; st == SML_OK && i < spec->npoints; i++)
    if (spec->points[i].batch > smallest)
      st = sml_fail_quantity(err, SML_EINPUT, "batch size",
                             " %lld: larger than the training part of a fold (%lld images)",
                             (long long)spec->points[i].batch, (long long)smallest);
  for (int i = 0; st == SML_OK && i < spec->npoints; i++) { /* every point fits the memory */
    sml_train_config cfg = *base;
    sml_search_point_apply(&spec->points[i], &cfg);
    sml_model model;
    st = sml_train_model_image(&cfg, ds.height, ds.width, ds.channels, ds.num_classes, &model, err);
    if (st == SML_OK) st = sml_train_memory_check(&model, &cfg, s.n, g.comm.size, err);
  }
  if (st != SML_OK) {
    free(part);
    sml_dataset_free(&ds);
    sml_groups_free(&g);
    return st;
  }

  const char *names[4] = {"lr", "reg", strcmp(base->model, "cnn") == 0 ? "net" : "hidden", "batch"};
  const char *used[4];
  int np = 0;
  used[np++] = names[0];
  used[np++] = names[1];
  if (spec->vary_hidden) used[np++] = names[2];
  if (spec->vary_batch) used[np++] = names[3];
  sml_cv_table_init(table, np, used, spec->npoints, spec->folds);
  table->split = ds.split;
  table->has_train_score = spec->train_scores;
  table->numeric[0] = table->numeric[1] = 1;
  if (spec->vary_batch) table->numeric[np - 1] = 1;
  for (int c = 0; c < spec->npoints; c++) {
    const sml_search_point *p = &spec->points[c];
    int k = 0;
    snprintf(table->values[c][k++], SML_CV_VALUE_LEN, "%g", p->lr);
    snprintf(table->values[c][k++], SML_CV_VALUE_LEN, "%g", p->reg);
    if (spec->vary_hidden) architecture_text(p, table->values[c][k++], SML_CV_VALUE_LEN);
    if (spec->vary_batch) snprintf(table->values[c][k++], SML_CV_VALUE_LEN, "%lld", (long long)p->batch);
  }
  /* The search's identity for its journal: everything that defines a
   * task's result, every configuration included (hashed incrementally, so
   * a grid of any size counts whole). */
  char definition[8192], rule[96];
  sml_split_describe(&ds.split, rule, sizeof rule);
  char augment[32];
  sml_augment_format(&base->augment, augment, sizeof augment);
  snprintf(definition, sizeof definition,
           "search %s data=%s n=%lld folds=%d split=%s epochs=%lld seed=%llu opt=%s mom=%.17g b1=%.17g b2=%.17g "
           "eps=%.17g wd=%.17g drop=%.17g es=%lld best=%d sched=%d decay=%.17g step=%lld warm=%.17g init=%.17g "
           "repro=%d micro=%lld%s%s%s",
           base->model, ds.path, (long long)s.n, spec->folds, rule, (long long)base->epochs,
           (unsigned long long)base->seed, base->optimizer->name, base->opt.momentum, base->opt.beta1, base->opt.beta2,
           base->opt.eps, base->opt.weight_decay, base->dropout, (long long)base->early_stop, spec->best_epoch_score,
           (int)base->schedule, base->lr_decay, (long long)base->lr_step, base->warmup_epochs, base->init_scale,
           base->reproducible, (long long)base->micro_batch, spec->train_scores ? " train_scores" : "",
           augment[0] ? " augment=" : "", augment); /* only when on: earlier journals keep their signature */
  uint64_t signature = sml_signature(definition);
  for (int c = 0; c < spec->npoints; c++) {
    char arch[SML_NET_LEN], point[SML_NET_LEN + 128];
    architecture_text(&spec->points[c], arch, sizeof arch);
    snprintf(point, sizeof point, " [%.17g %.17g %s %lld]", spec->points[c].lr, spec->points[c].reg, arch,
             (long long)spec->points[c].batch);
    signature = sml_fnv1a(signature, point, strlen(point));
  }
  sml_task_plan plan = {.ntasks = spec->npoints * spec->folds,
                        .run = search_task_run,
                        .ctx = &s,
                        .describe = search_task_describe,
                        .journal = spec->journal,
                        .signature = signature,
                        .train_scores = spec->train_scores,
                        .slice = spec->slice,
                        .nslices = spec->nslices};
  st = sml_run_tasks(&plan, &g, world, table, load, err);
  free(part);
  sml_dataset_free(&ds);
  sml_groups_free(&g);
  return st;
}

/* ------------------------------------------------------------ figures */

static int find_value(char vals[][SML_CV_VALUE_LEN], int n, const char *v) {
  for (int i = 0; i < n; i++)
    if (strcmp(vals[i], v) == 0) return i;
  return -1;
}

static int cmp_numeric(const void *a, const void *b) {
  double x = atof((const char *)a), y = atof((const char *)b);
  return (x > y) - (x < y);
}

int sml_search_heatmap(const sml_cv_table *t, int px, int py, const char *path, sml_err *err) {
  char(*xs)[SML_CV_VALUE_LEN] = SML_CALLOC((size_t)t->nconfigs, sizeof *xs);
  char(*ys)[SML_CV_VALUE_LEN] = SML_CALLOC((size_t)t->nconfigs, sizeof *ys);
  int nx = 0, ny = 0;
  for (int c = 0; c < t->nconfigs; c++) {
    if (find_value(xs, nx, t->values[c][px]) < 0) snprintf(xs[nx++], SML_CV_VALUE_LEN, "%s", t->values[c][px]);
    if (find_value(ys, ny, t->values[c][py]) < 0) snprintf(ys[ny++], SML_CV_VALUE_LEN, "%s", t->values[c][py]);
  }
  qsort(xs, (size_t)nx, sizeof *xs, cmp_numeric);
  qsort(ys, (size_t)ny, sizeof *ys, cmp_numeric);
  /* The best mean over any other parameters, per cell. */
  double *cell = SML_ALLOC((size_t)(nx * ny) * sizeof *cell);
  for (int i = 0; i < nx * ny; i++) cell[i] = NAN;
  double lo = INFINITY, hi = -INFINITY;
  for (int c = 0; c < t->nconfigs; c++) {
    int i = find_value(xs, nx, t->values[c][px]), j = find_value(ys, ny, t->values[c][py]);
    double m = sml_cv_mean(t, c);
    if (!isnan(m) && (isnan(cell[j * nx + i]) || m > cell[j * nx + i])) cell[j * nx + i] = m;
    if (!isnan(m)) {
      lo = fmin(lo, m);
      hi = fmax(hi, m);
    }
  }
  int best_i = -1, best_j = -1; /* the cell of the best configuration (sml_cv_best) */
  if (t->nconfigs > 0 && !isnan(sml_cv_mean(t, sml_cv_best(t)))) {
    best_i = find_value(xs, nx, t->values[sml_cv_best(t)][px]);
    best_j = find_value(ys, ny, t->values[sml_cv_best(t)][py]);
  }
  const int cw = 90, ch = 50, ml = 110, mt = 50, bar_x = ml + nx * cw + 30, bar_h = ny * ch > 150 ? ny * ch : 150;
  sml_atomic_file a;
  int st = sml_atomic_open(&a, path, err);
  if (st == SML_OK) {
    FILE *f = a.f;
    char colour[24];
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='12'>\n",
            bar_x + 90, mt + (ny * ch > bar_h ? ny * ch : bar_h) + 70);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fprintf(f, "<text x='%d' y='24' font-size='15'>mean validation accuracy (%d-fold)</text>\n", ml, t->nfolds);
    for (int j = 0; j < ny; j++)
      for (int i = 0; i < nx; i++) {
        double v = cell[j * nx + i];
        int x = ml + i * cw, y = mt + (ny - 1 - j) * ch;
        if (isnan(v))
          fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='#ccc' stroke='white'/>", x, y, cw, ch);
        else
          fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='%s' stroke='white'/>", x, y, cw, ch,
                  sml_heat_colour(hi > lo ? (v - lo) / (hi - lo) : 1, colour));
        if (isnan(v))
          fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>diverged</text>\n", x + cw / 2, y + ch / 2 + 4);
        else
          fprintf(f, "<text x='%d' y='%d' text-anchor='middle' fill='%s'>%.4f</text>\n", x + cw / 2, y + ch / 2 + 4,
                  sml_heat_text(hi > lo ? (v - lo) / (hi - lo) : 1), v);
      }
    if (best_i >= 0 && best_j >= 0) { /* the best configuration: framed and named */
      const int x = ml + best_i * cw, y = mt + (ny - 1 - best_j) * ch;
      fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='black' stroke-width='3'/>", x + 2,
              y + 2, cw - 4, ch - 4);
      fprintf(f, "<text x='%d' y='%d' text-anchor='middle' fill='%s' font-size='10'>best</text>\n", x + cw / 2,
              y + ch - 7, sml_heat_text(hi > lo ? (cell[best_j * nx + best_i] - lo) / (hi - lo) : 1));
    }
    /* Colour bar: what the colours mean, from the worst to the best mean. */
    sml_svg_colour_bar(f, bar_x, mt, bar_h, lo, hi, 2, 4);
    fprintf(f, "<rect x='%d' y='%d' width='16' height='12' fill='#ccc'/><text x='%d' y='%d'>diverged</text>\n", bar_x,
            mt + bar_h + 12, bar_x + 22, mt + bar_h + 22);
    for (int i = 0; i < nx; i++)
      fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>\n", ml + i * cw + cw / 2, mt + ny * ch + 18,
              xs[i]);
    for (int j = 0; j < ny; j++)
      fprintf(f, "<text x='%d' y='%d' text-anchor='end'>%s</text>\n", ml - 8, mt + (ny - 1 - j) * ch + ch / 2 + 4,
              ys[j]);
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>\n", ml + nx * cw / 2, mt + ny * ch + 42,
            t->param_names[px]);
    fprintf(f, "<text transform='translate(20,%d) rotate(-90)' text-anchor='middle'>%s</text>\n", mt + ny * ch / 2,
            t->param_names[py]);
    fprintf(f, "</svg>\n");
    st = sml_atomic_commit(&a, err);
  }
  free(xs);
  free(ys);
  free(cell);
  return st;
}

int sml_search_config_plot(const sml_cv_table *t, const char *path, sml_err *err) {
  const int C = t->nconfigs, F = t->nfolds;
  double *x = SML_ALLOC((size_t)C * sizeof *x), *m = SML_ALLOC((size_t)C * sizeof *m),
         *sd = SML_ALLOC((size_t)C * sizeof *sd);
  double *fx = SML_ALLOC((size_t)(C * F) * sizeof *fx), *fy = SML_ALLOC((size_t)(C * F) * sizeof *fy);
  for (int c = 0; c < C; c++) {
    x[c] = c;
    m[c] = sml_cv_mean(t, c);
    sd[c] = sml_cv_std(t, c);
    for (int f = 0; f < F; f++) {
      fx[c * F + f] = c;
      fy[c * F + f] = t->score[(size_t)c * F + f];
    }
  }
  sml_svg_series series[2] = {{"mean +/- std", C, x, m, sd, 1, 1, 0}, {"folds", C * F, fx, fy, NULL, 1, 2, 0}};
  int st = sml_svg_plot(path, "Validation accuracy per configuration (see cv_results.csv for the index)",
                        "configuration index", "validation accuracy", 0, series, 2, err);
  free(x);
  free(m);
  free(sd);
  free(fx);
  free(fy);
  return st;
}
