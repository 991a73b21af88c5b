/* Checkpoint files: see shardml/checkpoint.h and the schema in README.md. */
#include "shardml/checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shardml/hash.h"
#include "shardml/io.h"

void sml_dataset_identity_of(sml_dataset_identity *id, const sml_dataset *ds, const sml_comm *c) {
  memset(id, 0, sizeof *id);
  snprintf(id->path, sizeof id->path, "%s", ds->path);
  id->n_train = ds->train.total;
  id->n_val = ds->val.total;
  id->n_test = ds->test.total;
  id->label_checksum = sml_dataset_label_checksum(ds, c);
}

/* FNV-1a over the parameter and momentum bytes. */
static uint64_t tensors_checksum(const float *params, const float *velocity, int64_t n) {
  uint64_t h = sml_fnv1a(SML_FNV1A_INIT, params, (size_t)n * sizeof *params);
  if (velocity) h = sml_fnv1a(h, velocity, (size_t)n * sizeof *velocity);
  return h;
}

static const char *schedule_name(sml_schedule s) { return s == SML_SCHEDULE_COSINE ? "cosine" : "step"; }

int sml_checkpoint_write(const char *path, const sml_checkpoint_contents *cc, sml_err *err) {
  const sml_model *m = cc->model;
  const sml_train_config *cfg = cc->cfg;
  const sml_train_state *st = cc->state;
  sml_h5_writer w;
  SML_TRY(sml_h5w_open(&w, path, err));
  for (int p = 0; p < m->nparams; p++) {
    const sml_param_entry *e = &m->param[p];
    char name[64];
    snprintf(name, sizeof name, "/params/%s", e->name);
    sml_h5w_tensor(&w, name, e->ndim, e->shape, st->params + e->offset);
    snprintf(name, sizeof name, "/optimizer/velocity/%s", e->name);
    sml_h5w_tensor(&w, name, e->ndim, e->shape, st->velocity + e->offset);
  }
  sml_h5w_tensor(&w, "/prep/mean", 1, &cc->dim, cc->mean);
  const sml_train_history *h = &st->hist;
  const int64_t ne = h->nepochs;
  double *col = SML_ALLOC((size_t)(ne + 1) * sizeof *col);
  static const char *names[] = {"loss", "train_acc", "val_acc", "images_per_sec", "lr"};
  for (int k = 0; k < 5; k++) {
    for (int64_t i = 0; i < ne; i++) {
      const sml_epoch_stats *e = &h->epochs[i];
      col[i] = k == 0 ? e->loss : k == 1 ? e->train_acc : k == 2 ? e->val_acc : k == 3 ? e->images_per_sec : e->lr;
    }
    char name[64];
    snprintf(name, sizeof name, "/history/%s", names[k]);
    sml_h5w_doubles(&w, name, col, ne);
  }
  free(col);
  double *steps = SML_ALLOC((size_t)(h->nsteps_logged + 1) * sizeof *steps);
  for (int64_t i = 0; i < h->nsteps_logged; i++) steps[i] = (double)h->step_index[i];
  sml_h5w_doubles(&w, "/history/step", steps, h->nsteps_logged);
  sml_h5w_doubles(&w, "/history/step_loss", h->step_loss, h->nsteps_logged);
  free(steps);

  sml_h5w_attr_string(&w, "shardml_file", cc->final ? "model" : "checkpoint");
  int64_t version = SML_CHECKPOINT_VERSION;
  sml_h5w_attr_i64s(&w, "format_version", &version, 1);
  sml_h5w_attr_string(&w, "model", m->kind);
  sml_h5w_attr_i64s(&w, "widths", m->width, m->nlayers + 1);
  sml_h5w_attr_double(&w, "svm_margin", m->svm_margin);
  int64_t shape[3] = {cc->ds->height, cc->ds->width, cc->ds->channels};
  sml_h5w_attr_i64s(&w, "image_shape", shape, 3);
  const char *cn[SML_MAX_CLASSES];
  for (int i = 0; i < cc->ds->num_classes; i++) cn[i] = cc->ds->class_names[i];
  sml_h5w_attr_strings(&w, "class_names", cn, cc->ds->num_classes);
  /* Hyperparameters. */
  sml_h5w_attr_double(&w, "lr", cfg->lr);
  sml_h5w_attr_double(&w, "reg", cfg->reg);
  sml_h5w_attr_double(&w, "momentum", cfg->momentum);
  sml_h5w_attr_double(&w, "lr_decay", cfg->lr_decay);
  sml_h5w_attr_double(&w, "warmup_epochs", cfg->warmup_epochs);
  sml_h5w_attr_double(&w, "init_scale", cfg->init_scale);
  sml_h5w_attr_string(&w, "schedule", schedule_name(cfg->schedule));
  int64_t ints[7] = {cfg->epochs, cfg->batch, (int64_t)cfg->seed, cfg->lr_step, cfg->lr_scaling, cfg->base_batch, cfg->log_every};
  static const char *int_names[7] = {"epochs", "batch", "seed", "lr_step", "lr_scaling", "base_batch", "log_every"};
  for (int i = 0; i < 7; i++) sml_h5w_attr_i64s(&w, int_names[i], &ints[i], 1);
  /* Progress; the shuffling RNG is (seed, epoch), so this is its state. */
  int64_t progress[3] = {st->epoch, st->step_in_epoch, st->global_step};
  sml_h5w_attr_i64s(&w, "epoch", &progress[0], 1);
  sml_h5w_attr_i64s(&w, "step_in_epoch", &progress[1], 1);
  sml_h5w_attr_i64s(&w, "global_step", &progress[2], 1);
  sml_h5w_attr_string(&w, "rng", "splitmix64; epoch e shuffles with stream (seed, 2, e); init used (seed, 1, 0)");
  sml_h5w_attr_double(&w, "epoch_loss_sum", st->epoch_loss_sum);
  sml_h5w_attr_double(&w, "epoch_compute_s", st->epoch_compute_s);
  sml_h5w_attr_double(&w, "epoch_allreduce_s", st->epoch_allreduce_s);
  sml_h5w_attr_double(&w, "epoch_elapsed_s", st->epoch_elapsed_s);
  sml_h5w_attr_double(&w, "test_accuracy", h->test_acc);
  /* Dataset identity. */
  sml_h5w_attr_string(&w, "dataset_path", cc->data->path);
  int64_t counts[3] = {cc->data->n_train, cc->data->n_val, cc->data->n_test};
  sml_h5w_attr_i64s(&w, "dataset_counts", counts, 3);
  char hex[32];
  snprintf(hex, sizeof hex, "%016" PRIx64, cc->data->label_checksum);
  sml_h5w_attr_string(&w, "dataset_label_checksum", hex);
  int64_t layout[2] = {cc->nranks, cc->nthreads};
  sml_h5w_attr_i64s(&w, "saved_ranks_threads", layout, 2);
  snprintf(hex, sizeof hex, "%016" PRIx64, tensors_checksum(st->params, st->velocity, m->nweights));
  sml_h5w_attr_string(&w, "tensors_checksum", hex);
  return sml_h5w_commit(&w, err);
}

/* ------------------------------------------------------------- reading */

static int read_model_shape(const sml_h5_reader *r, char *kind, size_t kind_len, int64_t *widths, int *nw,
                            sml_err *err) {
  SML_TRY(sml_h5r_attr_string(r, "model", kind, kind_len, err));
  return sml_h5r_attr_i64s(r, "widths", widths, SML_MAX_LAYERS + 1, nw, err);
}

static void describe(char *out, size_t len, const char *kind, const int64_t *w, int n) {
  int used = snprintf(out, len, "%s [", kind);
  for (int i = 0; i < n && used < (int)len; i++) used += snprintf(out + used, len - (size_t)used, "%s%lld", i ? "-" : "", (long long)w[i]);
  if (used < (int)len) snprintf(out + used, len - (size_t)used, "]");
}

static int read_tensors(const sml_h5_reader *r, const sml_model *m, const char *group, float *buf, sml_err *err) {
  for (int p = 0; p < m->nparams; p++) {
    char name[64];
    snprintf(name, sizeof name, "%s/%s", group, m->param[p].name);
    SML_TRY(sml_h5r_tensor(r, name, buf + m->param[p].offset, m->param[p].size, err));
  }
  return SML_OK;
}

static int check_hyper(const sml_h5_reader *r, const char *name, const char *option, double want, sml_err *err) {
  double got;
  SML_TRY(sml_h5r_attr_double(r, name, &got, err));
  if (got != want)
    return sml_fail(err, SML_EINPUT, "%s: saved with --%s %g, this run asks for %g (resume with the same value)",
                    r->path, option, got, want);
  return SML_OK;
}

static int check_int(const sml_h5_reader *r, const char *name, const char *option, int64_t want, sml_err *err) {
  int64_t got;
  SML_TRY(sml_h5r_attr_i64s(r, name, &got, 1, NULL, err));
  if (got != want)
    return sml_fail(err, SML_EINPUT, "%s: saved with --%s %lld, this run asks for %lld (resume with the same value)",
                    r->path, option, (long long)got, (long long)want);
  return SML_OK;
}

static int read_state(const sml_h5_reader *r, const sml_model *model, const sml_train_config *cfg,
                      const sml_dataset_identity *data, sml_train_state *state, int *saved_ranks,
                      int *saved_threads, sml_err *err) {
  char kind[32], file_kind[32];
  int64_t widths[SML_MAX_LAYERS + 1];
  int nwid;
  SML_TRY(sml_h5r_attr_string(r, "shardml_file", file_kind, sizeof file_kind, err));
  int64_t version;
  SML_TRY(sml_h5r_attr_i64s(r, "format_version", &version, 1, NULL, err));
  if (version != SML_CHECKPOINT_VERSION)
    return sml_fail(err, SML_EINPUT, "%s: checkpoint format %lld, this shardml reads %d", r->path, (long long)version,
                    SML_CHECKPOINT_VERSION);
  SML_TRY(read_model_shape(r, kind, sizeof kind, widths, &nwid, err));
  int same = strcmp(kind, model->kind) == 0 && nwid == model->nlayers + 1;
  for (int i = 0; same && i < nwid; i++) same = widths[i] == model->width[i];
  if (!same) {
    char saved[128], wanted[128];
    describe(saved, sizeof saved, kind, widths, nwid);
    describe(wanted, sizeof wanted, model->kind, model->width, model->nlayers + 1);
    return sml_fail(err, SML_EINPUT, "%s: a checkpoint of model %s, but this run trains %s", r->path, saved, wanted);
  }
  int64_t counts[3];
  char hex[32], want_hex[32];
  SML_TRY(sml_h5r_attr_i64s(r, "dataset_counts", counts, 3, NULL, err));
  SML_TRY(sml_h5r_attr_string(r, "dataset_label_checksum", hex, sizeof hex, err));
  snprintf(want_hex, sizeof want_hex, "%016" PRIx64, data->label_checksum);
  if (counts[0] != data->n_train || counts[1] != data->n_val || strcmp(hex, want_hex) != 0)
    return sml_fail(err, SML_EINPUT,
                    "%s: saved for another dataset (%lld training + %lld validation images, labels %s); this run has "
                    "%lld + %lld, labels %s",
                    r->path, (long long)counts[0], (long long)counts[1], hex, (long long)data->n_train,
                    (long long)data->n_val, want_hex);
  SML_TRY(check_int(r, "batch", "batch", cfg->batch, err));
  SML_TRY(check_int(r, "seed", "seed", (int64_t)cfg->seed, err));
  SML_TRY(check_hyper(r, "lr", "lr", cfg->lr, err));
  SML_TRY(check_hyper(r, "reg", "reg", cfg->reg, err));
  SML_TRY(check_hyper(r, "momentum", "momentum", cfg->momentum, err));
  SML_TRY(check_hyper(r, "lr_decay", "lr-decay", cfg->lr_decay, err));
  SML_TRY(check_int(r, "lr_step", "lr-step", cfg->lr_step, err));
  char sched[16];
  SML_TRY(sml_h5r_attr_string(r, "schedule", sched, sizeof sched, err));
  if (strcmp(sched, schedule_name(cfg->schedule)) != 0)
    return sml_fail(err, SML_EINPUT, "%s: saved with --schedule %s, this run asks for %s", r->path, sched,
                    schedule_name(cfg->schedule));
  if (cfg->schedule == SML_SCHEDULE_COSINE) SML_TRY(check_int(r, "epochs", "epochs", cfg->epochs, err));

  SML_TRY(read_tensors(r, model, "/params", state->params, err));
  SML_TRY(read_tensors(r, model, "/optimizer/velocity", state->velocity, err));
  SML_TRY(sml_h5r_attr_string(r, "tensors_checksum", hex, sizeof hex, err));
  snprintf(want_hex, sizeof want_hex, "%016" PRIx64, tensors_checksum(state->params, state->velocity, model->nweights));
  if (strcmp(hex, want_hex) != 0)
    return sml_fail(err, SML_EINPUT, "%s: corrupt: tensor checksum %s, stored %s", r->path, want_hex, hex);

  int64_t progress[3];
  SML_TRY(sml_h5r_attr_i64s(r, "epoch", &progress[0], 1, NULL, err));
  SML_TRY(sml_h5r_attr_i64s(r, "step_in_epoch", &progress[1], 1, NULL, err));
  SML_TRY(sml_h5r_attr_i64s(r, "global_step", &progress[2], 1, NULL, err));
  state->epoch = progress[0];
  state->step_in_epoch = progress[1];
  state->global_step = progress[2];
  SML_TRY(sml_h5r_attr_double(r, "epoch_loss_sum", &state->epoch_loss_sum, err));
  SML_TRY(sml_h5r_attr_double(r, "epoch_compute_s", &state->epoch_compute_s, err));
  SML_TRY(sml_h5r_attr_double(r, "epoch_allreduce_s", &state->epoch_allreduce_s, err));
  SML_TRY(sml_h5r_attr_double(r, "epoch_elapsed_s", &state->epoch_elapsed_s, err));
  /* History: per-epoch metrics and the logged steps. */
  sml_train_history *h = &state->hist;
  int64_t ne = 0, ns = 0, cap = cfg->epochs;
  double *col = SML_ALLOC((size_t)(progress[0] + 1) * sizeof *col);
  static const char *names[] = {"loss", "train_acc", "val_acc", "images_per_sec", "lr"};
  int st = SML_OK;
  for (int k = 0; k < 5 && st == SML_OK; k++) {
    char name[64];
    snprintf(name, sizeof name, "/history/%s", names[k]);
    st = sml_h5r_doubles(r, name, col, progress[0] < cap ? progress[0] : cap, &ne, err);
    for (int64_t i = 0; st == SML_OK && i < ne; i++) {
      sml_epoch_stats *e = &h->epochs[i];
      if (k == 0) e->loss = col[i];
      else if (k == 1) e->train_acc = col[i];
      else if (k == 2) e->val_acc = col[i];
      else if (k == 3) e->images_per_sec = col[i];
      else e->lr = col[i];
    }
  }
  free(col);
  SML_TRY(st);
  h->nepochs = ne;
  if (cfg->log_every > 0) {
    int64_t log_every;
    SML_TRY(sml_h5r_attr_i64s(r, "log_every", &log_every, 1, NULL, err));
    if (log_every == cfg->log_every) {
      double *steps = SML_ALLOC((size_t)(state->global_step / cfg->log_every + 2) * sizeof *steps);
      SML_TRY(sml_h5r_doubles(r, "/history/step", steps, state->global_step / cfg->log_every + 1, &ns, err));
      SML_TRY(sml_h5r_doubles(r, "/history/step_loss", h->step_loss, ns, &ns, err));
      for (int64_t i = 0; i < ns; i++) h->step_index[i] = (int64_t)steps[i];
      h->nsteps_logged = ns;
      free(steps);
    }
  }
  int64_t layout[2];
  SML_TRY(sml_h5r_attr_i64s(r, "saved_ranks_threads", layout, 2, NULL, err));
  *saved_ranks = (int)layout[0];
  *saved_threads = (int)layout[1];
  return SML_OK;
}

int sml_checkpoint_read(const char *path, const sml_model *model, const sml_train_config *cfg,
                        const sml_dataset_identity *data, sml_train_state *state, int *saved_ranks,
                        int *saved_threads, sml_err *err) {
  sml_h5_reader r;
  SML_TRY(sml_h5r_open(&r, path, err));
  int st = read_state(&r, model, cfg, data, state, saved_ranks, saved_threads, err);
  sml_h5r_close(&r);
  return st;
}

int sml_saved_model_load(sml_saved_model *sm, const char *path, sml_err *err) {
  memset(sm, 0, sizeof *sm);
  sml_h5_reader r;
  SML_TRY(sml_h5r_open(&r, path, err));
  char kind[32];
  int64_t widths[SML_MAX_LAYERS + 1];
  int nw, n3;
  int st = read_model_shape(&r, kind, sizeof kind, widths, &nw, err);
  if (st == SML_OK && nw < 2) st = sml_fail(err, SML_EINPUT, "%s: widths needs at least 2 entries", path);
  if (st == SML_OK) st = sml_model_init(&sm->model, kind, widths[0], (int)widths[nw - 1], widths + 1, nw - 2, err);
  if (st == SML_OK) st = sml_h5r_attr_i64s(&r, "image_shape", sm->image_shape, 3, &n3, err);
  if (st == SML_OK) {
    sm->dim = widths[0];
    sm->params = SML_ALLOC((size_t)sm->model.nweights * sizeof *sm->params);
    sm->mean = SML_ALLOC((size_t)sm->dim * sizeof *sm->mean);
    st = read_tensors(&r, &sm->model, "/params", sm->params, err);
  }
  if (st == SML_OK) st = sml_h5r_tensor(&r, "/prep/mean", sm->mean, sm->dim, err);
  if (st == SML_OK && sml_h5r_has(&r, "/optimizer/velocity/W0")) {
    float *vel = SML_ALLOC((size_t)sm->model.nweights * sizeof *vel);
    char hex[32], want[32];
    st = read_tensors(&r, &sm->model, "/optimizer/velocity", vel, err);
    if (st == SML_OK) st = sml_h5r_attr_string(&r, "tensors_checksum", hex, sizeof hex, err);
    snprintf(want, sizeof want, "%016" PRIx64, tensors_checksum(sm->params, vel, sm->model.nweights));
    if (st == SML_OK && strcmp(hex, want) != 0)
      st = sml_fail(err, SML_EINPUT, "%s: corrupt: tensor checksum %s, stored %s", path, want, hex);
    free(vel);
  }
  if (st == SML_OK) sml_h5r_attr_string(&r, "dataset_path", sm->dataset_path, sizeof sm->dataset_path, err);
  sml_h5r_close(&r);
  if (st != SML_OK) sml_saved_model_free(sm);
  return st;
}

void sml_saved_model_free(sml_saved_model *sm) {
  free(sm->params);
  free(sm->mean);
  sm->params = sm->mean = NULL;
}

/* ------------------------------------------------------------ the directory */

int sml_checkpoint_path(char *out, size_t len, const char *dir, int64_t global_step) {
  return snprintf(out, len, "%s/ckpt-%09lld.h5", dir, (long long)global_step);
}

static int cmp_desc(const void *a, const void *b) { return -strcmp((const char *)a, (const char *)b); }

int sml_checkpoint_list(const char *dir, char (*paths)[4096], int max) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  char (*names)[256] = SML_CALLOC(4096, sizeof *names);
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 4096) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "ckpt-", 5) == 0 && len > 8 && strcmp(e->d_name + len - 3, ".h5") == 0 && len < 256)
      snprintf(names[n++], 256, "%s", e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp_desc); /* zero-padded steps: newest first */
  int out = n < max ? n : max;
  for (int i = 0; i < out; i++) snprintf(paths[i], 4096, "%s/%s", dir, names[i]);
  free(names);
  return out;
}

int sml_checkpoint_rotate(const char *dir, const char *newest, int keep, sml_err *err) {
  char latest[4096];
  snprintf(latest, sizeof latest, "%s/latest", dir);
  sml_atomic_file a;
  SML_TRY(sml_atomic_open(&a, latest, err));
  const char *base = strrchr(newest, '/');
  fprintf(a.f, "%s\n", base ? base + 1 : newest);
  SML_TRY(sml_atomic_commit(&a, err));
  char (*paths)[4096] = SML_CALLOC(1024, sizeof *paths);
  int n = sml_checkpoint_list(dir, paths, 1024);
  for (int i = keep; i < n; i++) unlink(paths[i]);
  free(paths);
  return SML_OK;
}
