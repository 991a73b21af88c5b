/* Checkpoint files: see shardml/checkpoint.h and the schema in docs/reference.md. */
#include "shardml/checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "data/formats.h"
#include "io/io.h"
#include "train/step.h"

void sml_dataset_identity_of(sml_dataset_identity *id, const sml_dataset *ds, const sml_comm *c) {
  memset(id, 0, sizeof *id);
  snprintf(id->path, sizeof id->path, "%s", ds->path);
  id->n_train = ds->train.total;
  id->n_val = ds->val.total;
  id->n_test = ds->test.total;
  id->label_checksum = sml_dataset_label_checksum(ds, c);
}

/* FNV-1a over the parameter bytes, then each optimizer state buffer's in
 * order (for SGD: the momentum, which is format 1's checksum too). */
static uint64_t tensors_checksum(const float *params, float *const *state, int nstate, int64_t n) {
  uint64_t h = sml_fnv1a(SML_FNV1A_INIT, params, (size_t)n * sizeof *params);
  for (int k = 0; k < nstate; k++) h = sml_fnv1a(h, state[k], (size_t)n * sizeof *state[k]);
  return h;
}

/* The per-epoch history columns, as /history/<name> datasets. */
static const char *const history_names[] = {"loss", "train_acc", "val_acc", "val_loss", "images_per_sec", "lr"};
#define NHISTORY (int)(sizeof history_names / sizeof history_names[0])
static double *history_field(sml_epoch_stats *e, int k) {
  double *fields[NHISTORY] = {&e->loss, &e->train_acc, &e->val_acc, &e->val_loss, &e->images_per_sec, &e->lr};
  return fields[k];
}

static const char *schedule_name(sml_schedule s) { return s == SML_SCHEDULE_COSINE ? "cosine" : "step"; }

/* The attributes a checkpoint restores or checks, as one record: written
 * from it, read back into it, and hashed from it in one order by both. */
static const char *const real_names[] = {"lr",           "reg",     "momentum", "beta1",         "beta2",     "eps",
                                         "weight_decay", "dropout", "lr_decay", "warmup_epochs", "init_scale"};
static const char *const int_names[] = {"epochs",     "batch",     "seed",       "lr_step",      "lr_scaling",
                                        "base_batch", "log_every", "early_stop", "reproducible", "micro_batch"};
static const char *const progress_names[] = {"epoch", "step_in_epoch", "global_step"};
static const char *const sum_names[] = {"epoch_loss_sum", "epoch_compute_s", "epoch_allreduce_s", "epoch_elapsed_s"};
#define NREALS (int)(sizeof real_names / sizeof real_names[0])
#define NINTS (int)(sizeof int_names / sizeof int_names[0])
typedef struct {
  double reals[NREALS];
  int64_t ints[NINTS];
  int64_t progress[3]; /* epoch, step_in_epoch, global_step */
  double sums[4];      /* the running epoch's sums */
  char model[32], optimizer[32], schedule[16];
  int64_t widths[SML_MAX_LAYERS + 1];
  int nwidths;
  char net[SML_NET_LEN]; /* model "cnn": its layers; "" otherwise */
  char augment[32];      /* "crop2,flip"; "" when none */
} ckpt_meta;

static void meta_of(ckpt_meta *mt, const sml_model *m, const sml_train_config *cfg, const sml_train_state *st) {
  *mt =
      (ckpt_meta){.reals = {cfg->lr, cfg->reg, cfg->opt.momentum, cfg->opt.beta1, cfg->opt.beta2, cfg->opt.eps,
                            cfg->opt.weight_decay, cfg->dropout, cfg->lr_decay, cfg->warmup_epochs, cfg->init_scale},
                  .ints = {cfg->epochs, cfg->batch, (int64_t)cfg->seed, cfg->lr_step, cfg->lr_scaling, cfg->base_batch,
                           cfg->log_every, cfg->early_stop, cfg->reproducible, sml_micro_batch_setting(cfg)},
                  .progress = {st->epoch, st->step_in_epoch, st->global_step},
                  .sums = {st->epoch_loss_sum, st->epoch_compute_s, st->epoch_allreduce_s, st->epoch_elapsed_s},
                  .nwidths = m->nlayers + 1};
  snprintf(mt->model, sizeof mt->model, "%s", m->kind);
  snprintf(mt->optimizer, sizeof mt->optimizer, "%s", cfg->optimizer->name);
  snprintf(mt->schedule, sizeof mt->schedule, "%s", schedule_name(cfg->schedule));
  memcpy(mt->widths, m->width, (size_t)mt->nwidths * sizeof *mt->widths);
  snprintf(mt->net, sizeof mt->net, "%s", m->net);
  sml_augment_format(&cfg->augment, mt->augment, sizeof mt->augment);
}

/* One checksum over everything a resume restores or trusts (format 3):
 * the tensors, the attributes of mt, and the history. */
static uint64_t contents_checksum(uint64_t tensors, const ckpt_meta *mt, const sml_train_history *h) {
  uint64_t x = sml_fnv1a(SML_FNV1A_INIT, &tensors, sizeof tensors);
  x = sml_fnv1a(x, mt->reals, sizeof mt->reals);
  x = sml_fnv1a(x, mt->ints, sizeof mt->ints);
  x = sml_fnv1a(x, mt->progress, sizeof mt->progress);
  x = sml_fnv1a(x, mt->sums, sizeof mt->sums);
  x = sml_fnv1a(x, mt->model, strlen(mt->model) + 1);
  x = sml_fnv1a(x, mt->optimizer, strlen(mt->optimizer) + 1);
  x = sml_fnv1a(x, mt->schedule, strlen(mt->schedule) + 1);
  x = sml_fnv1a(x, mt->widths, (size_t)mt->nwidths * sizeof *mt->widths);
  if (mt->net[0]) x = sml_fnv1a(x, mt->net, strlen(mt->net) + 1); /* networks only: older files keep their sums */
  if (mt->augment[0]) x = sml_fnv1a(x, mt->augment, strlen(mt->augment) + 1); /* likewise */
  for (int k = 0; k < NHISTORY; k++)
    for (int64_t i = 0; i < h->nepochs; i++) x = sml_fnv1a(x, history_field(&h->epochs[i], k), sizeof(double));
  x = sml_fnv1a(x, h->step_index, (size_t)h->nsteps_logged * sizeof *h->step_index);
  return sml_fnv1a(x, h->step_loss, (size_t)h->nsteps_logged * sizeof *h->step_loss);
}

uint64_t sml_checkpoint_run_identity(const sml_model *m, const sml_train_config *cfg,
                                     const sml_dataset_identity *data) {
  /* Exactly what read_state requires to be equal for a resume. */
  const double reals[] = {cfg->lr,        cfg->reg,     cfg->opt.momentum,     cfg->opt.beta1,
                          cfg->opt.beta2, cfg->opt.eps, cfg->opt.weight_decay, cfg->dropout,
                          cfg->lr_decay};
  const int64_t ints[] = {cfg->batch,
                          (int64_t)cfg->seed,
                          cfg->lr_step,
                          cfg->reproducible,
                          cfg->reproducible ? sml_micro_batch_setting(cfg) : 0,
                          cfg->schedule == SML_SCHEDULE_COSINE ? cfg->epochs : 0,
                          data->n_train,
                          data->n_val,
                          (int64_t)data->label_checksum};
  uint64_t h = sml_fnv1a(SML_FNV1A_INIT, m->kind, strlen(m->kind) + 1);
  h = sml_fnv1a(h, m->width, (size_t)(m->nlayers + 1) * sizeof *m->width);
  if (m->net[0]) h = sml_fnv1a(h, m->net, strlen(m->net) + 1);
  char augment[32];
  sml_augment_format(&cfg->augment, augment, sizeof augment);
  if (augment[0]) h = sml_fnv1a(h, augment, strlen(augment) + 1);
  h = sml_fnv1a(h, cfg->optimizer->name, strlen(cfg->optimizer->name) + 1);
  const char *sched = schedule_name(cfg->schedule);
  h = sml_fnv1a(h, sched, strlen(sched) + 1);
  h = sml_fnv1a(h, reals, sizeof reals);
  return sml_fnv1a(h, ints, sizeof ints);
}

int sml_checkpoint_write(const char *path, const sml_checkpoint_contents *cc, sml_err *err) {
  const sml_model *m = cc->model;
  const sml_train_config *cfg = cc->cfg;
  const sml_train_state *st = cc->state;
  const sml_optimizer *o = cfg->optimizer;
  sml_h5_writer w;
  SML_TRY(sml_h5w_open(&w, path, err));
  for (int p = 0; p < m->nparams; p++) {
    const sml_param_entry *e = &m->param[p];
    char name[64];
    snprintf(name, sizeof name, "/params/%s", e->name);
    sml_h5w_tensor(&w, name, e->ndim, e->shape, st->params + e->offset);
    for (int k = 0; k < o->nstate; k++) {
      snprintf(name, sizeof name, "/optimizer/%s/%s", o->state_names[k], e->name);
      sml_h5w_tensor(&w, name, e->ndim, e->shape, st->opt_state[k] + e->offset);
    }
  }
  sml_h5w_tensor(&w, "/prep/mean", 1, &cc->dim, cc->mean);
  if (!cc->final && st->residuals) { /* 16-bit wire types: every rank's rounding residual */
    const int64_t shape[2] = {st->residual_ranks, m->nweights};
    sml_h5w_tensor(&w, "/reduce/residual", 2, shape, st->residuals);
    sml_h5w_attr_string(&w, "grad_dtype", sml_grad_dtype_name((sml_grad_dtype)st->residual_dtype));
    char hex[32];
    snprintf(hex, sizeof hex, "%016" PRIx64,
             sml_fnv1a(SML_FNV1A_INIT, st->residuals, (size_t)(shape[0] * shape[1]) * sizeof *st->residuals));
    sml_h5w_attr_string(&w, "residual_checksum", hex);
  }
  const sml_train_history *h = &st->hist;
  const int64_t ne = h->nepochs;
  double *col = SML_ALLOC((size_t)(ne + 1) * sizeof *col);
  for (int k = 0; k < NHISTORY; k++) {
    for (int64_t i = 0; i < ne; i++) col[i] = *history_field(&h->epochs[i], k);
    char name[64];
    snprintf(name, sizeof name, "/history/%s", history_names[k]);
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
  ckpt_meta mt;
  meta_of(&mt, m, cfg, st);
  sml_h5w_attr_string(&w, "model", mt.model);
  sml_h5w_attr_i64s(&w, "widths", mt.widths, mt.nwidths);
  if (mt.net[0]) sml_h5w_attr_string(&w, "net", mt.net);
  if (mt.augment[0]) sml_h5w_attr_string(&w, "augment", mt.augment);
  sml_h5w_attr_double(&w, "svm_margin", m->svm_margin);
  int64_t shape[3] = {cc->ds->height, cc->ds->width, cc->ds->channels};
  sml_h5w_attr_i64s(&w, "image_shape", shape, 3);
  const char *cn[SML_MAX_CLASSES];
  for (int i = 0; i < cc->ds->num_classes; i++) cn[i] = cc->ds->class_names[i];
  sml_h5w_attr_strings(&w, "class_names", cn, cc->ds->num_classes);
  /* Hyperparameters and progress; the shuffling RNG is (seed, epoch), so
   * that is its state. */
  sml_h5w_attr_string(&w, "optimizer", mt.optimizer);
  for (int i = 0; i < NREALS; i++) sml_h5w_attr_double(&w, real_names[i], mt.reals[i]);
  sml_h5w_attr_string(&w, "schedule", mt.schedule);
  for (int i = 0; i < NINTS; i++) sml_h5w_attr_i64s(&w, int_names[i], &mt.ints[i], 1);
  for (int i = 0; i < 3; i++) sml_h5w_attr_i64s(&w, progress_names[i], &mt.progress[i], 1);
  sml_h5w_attr_string(&w, "rng", "splitmix64; epoch e shuffles with stream (seed, 2, e); init used (seed, 1, 0)");
  for (int i = 0; i < 4; i++) sml_h5w_attr_double(&w, sum_names[i], mt.sums[i]);
  sml_h5w_attr_double(&w, "test_accuracy", h->test_acc);
  /* Dataset identity. */
  sml_h5w_attr_string(&w, "dataset_path", cc->data->path);
  int64_t counts[3] = {cc->data->n_train, cc->data->n_val, cc->data->n_test};
  sml_h5w_attr_i64s(&w, "dataset_counts", counts, 3);
  char hex[32];
  snprintf(hex, sizeof hex, "%016" PRIx64, cc->data->label_checksum);
  sml_h5w_attr_string(&w, "dataset_label_checksum", hex);
  /* Whose file this is: rotation removes only files of the same run. */
  snprintf(hex, sizeof hex, "%016" PRIx64, sml_checkpoint_run_identity(m, cfg, cc->data));
  sml_h5w_attr_string(&w, "run_identity", hex);
  int64_t layout[2] = {cc->nranks, cc->nthreads};
  sml_h5w_attr_i64s(&w, "saved_ranks_threads", layout, 2);
  const uint64_t tensors = tensors_checksum(st->params, st->opt_state, o->nstate, m->nweights);
  snprintf(hex, sizeof hex, "%016" PRIx64, tensors);
  sml_h5w_attr_string(&w, "tensors_checksum", hex);
  snprintf(hex, sizeof hex, "%016" PRIx64, contents_checksum(tensors, &mt, h));
  sml_h5w_attr_string(&w, "contents_checksum", hex);
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
  for (int i = 0; i < n && used < (int)len; i++)
    used += snprintf(out + used, len - (size_t)used, "%s%lld", i ? "-" : "", (long long)w[i]);
  if (used < (int)len) snprintf(out + used, len - (size_t)used, "]");
}

static int read_tensors(const sml_h5_reader *r, const sml_model *m, const char *group, float *buf, sml_err *err) {
  for (int p = 0; p < m->nparams; p++) {
    char name[96];
    snprintf(name, sizeof name, "%s/%s", group, m->param[p].name);
    SML_TRY(sml_h5r_tensor(r, name, buf + m->param[p].offset, m->param[p].size, err));
  }
  return SML_OK;
}

/* A trajectory-defining value must be the same to resume; one a format 1
 * file lacks (Adam's betas, say) is not compared: such a file used SGD and
 * the defaults of everything it does not record. */
static int check_real(const sml_h5_reader *r, const char *name, const char *quantity, double want, sml_err *err) {
  double got;
  if (!sml_h5r_has_attr(r, name)) return SML_OK;
  SML_TRY(sml_h5r_attr_double(r, name, &got, err));
  if (got != want)
    return sml_fail(err, SML_EINPUT, "%s: saved with %s %g, this run asks for %g (resume with the same value)", r->path,
                    quantity, got, want);
  return SML_OK;
}

static int check_int(const sml_h5_reader *r, const char *name, const char *quantity, int64_t want, sml_err *err) {
  int64_t got;
  SML_TRY(sml_h5r_attr_i64s(r, name, &got, 1, NULL, err));
  if (got != want)
    return sml_fail(err, SML_EINPUT, "%s: saved with %s %lld, this run asks for %lld (resume with the same value)",
                    r->path, quantity, (long long)got, (long long)want);
  return SML_OK;
}

/* The optimizer a file was saved with (format 1: SGD). */
static int read_optimizer(const sml_h5_reader *r, const sml_optimizer **o, sml_err *err) {
  char name[32] = "sgd";
  if (sml_h5r_has_attr(r, "optimizer")) SML_TRY(sml_h5r_attr_string(r, "optimizer", name, sizeof name, err));
  *o = sml_optimizer_find(name);
  if (!*o)
    return sml_fail(err, SML_EINPUT, "%s: saved with optimizer %s, which this shardml does not know", r->path, name);
  return SML_OK;
}

/* Reads the parameters and the optimizer's state buffers and checks them
 * against the stored checksum. */
static int read_tensor_set(const sml_h5_reader *r, const sml_model *m, const sml_optimizer *o, float *params,
                           float *const *state, uint64_t *checksum, sml_err *err) {
  SML_TRY(read_tensors(r, m, "/params", params, err));
  for (int k = 0; k < o->nstate; k++) {
    char group[64];
    snprintf(group, sizeof group, "/optimizer/%s", o->state_names[k]);
    SML_TRY(read_tensors(r, m, group, state[k], err));
  }
  char hex[32], want_hex[32];
  SML_TRY(sml_h5r_attr_string(r, "tensors_checksum", hex, sizeof hex, err));
  *checksum = tensors_checksum(params, state, o->nstate, m->nweights);
  snprintf(want_hex, sizeof want_hex, "%016" PRIx64, *checksum);
  if (strcmp(hex, want_hex) != 0)
    return sml_fail(err, SML_EINPUT, "%s: corrupt: tensor checksum %s, stored %s", r->path, want_hex, hex);
  /* shardml up to e737e33 wrote the model of a run whose last update blew up
   * (checksum and all): such parameters predict nothing and resume nowhere. */
  int64_t bad = 0;
  for (int64_t i = 0; i < m->nweights; i++) bad += !isfinite(params[i]);
  if (bad > 0)
    return sml_fail(err, SML_EINPUT, "%s: %lld of %lld parameters are not finite (the model of a diverged run)",
                    r->path, (long long)bad, (long long)m->nweights);
  return SML_OK;
}

/* Checkpoints of 16-bit wire types (bf16|fp16): the ranks' rounding residuals, one
 * row per rank (the trainer uses them only on as many ranks), checked
 * against their own checksum and for finiteness. */
static int read_residuals(const sml_h5_reader *r, const sml_model *m, int64_t ranks, sml_train_state *st,
                          sml_err *err) {
  if (!sml_h5r_has(r, "/reduce/residual")) return SML_OK;
  if (ranks > SML_RESIDUALS_MAX / m->nweights)
    return sml_fail(err, SML_EINPUT, "%s: corrupt: residuals of %lld ranks, more than a checkpoint holds", r->path,
                    (long long)ranks);
  char dtype[16], hex[32], want_hex[32];
  SML_TRY(sml_h5r_attr_string(r, "grad_dtype", dtype, sizeof dtype, err));
  sml_grad_dtype d;
  if (sml_grad_dtype_parse(dtype, &d) != 0 || d == SML_GRAD_FP32)
    return sml_fail(err, SML_EINPUT, "%s: corrupt: residuals of wire type '%s'", r->path, dtype);
  const int64_t n = ranks * m->nweights;
  st->residuals = SML_ALLOC((size_t)n * sizeof *st->residuals);
  st->residual_ranks = ranks;
  st->residual_dtype = d;
  SML_TRY(sml_h5r_tensor(r, "/reduce/residual", st->residuals, n, err));
  SML_TRY(sml_h5r_attr_string(r, "residual_checksum", hex, sizeof hex, err));
  snprintf(want_hex, sizeof want_hex, "%016" PRIx64,
           sml_fnv1a(SML_FNV1A_INIT, st->residuals, (size_t)n * sizeof *st->residuals));
  if (strcmp(hex, want_hex) != 0)
    return sml_fail(err, SML_EINPUT, "%s: corrupt: residual checksum %s, stored %s", r->path, want_hex, hex);
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(st->residuals[i])) return sml_fail(err, SML_EINPUT, "%s: corrupt: a residual is not finite", r->path);
  return SML_OK;
}

static int read_state(const sml_h5_reader *r, const sml_model *model, const sml_train_config *cfg,
                      const sml_dataset_identity *data, sml_train_state *scratch, int *saved_ranks, int *saved_threads,
                      sml_err *err) {
  uint64_t tensors = 0;
  char kind[32], file_kind[32];
  int64_t widths[SML_MAX_LAYERS + 1];
  int nwid;
  SML_TRY(sml_h5r_attr_string(r, "shardml_file", file_kind, sizeof file_kind, err));
  int64_t version;
  SML_TRY(sml_h5r_attr_i64s(r, "format_version", &version, 1, NULL, err));
  if (version < 1 || version > SML_CHECKPOINT_VERSION)
    return sml_fail(err, SML_EINPUT, "%s: checkpoint format %lld, this shardml reads 1 to %d", r->path,
                    (long long)version, SML_CHECKPOINT_VERSION);
  SML_TRY(read_model_shape(r, kind, sizeof kind, widths, &nwid, err));
  int same = strcmp(kind, model->kind) == 0 && nwid == model->nlayers + 1;
  for (int i = 0; same && i < nwid; i++) same = widths[i] == model->width[i];
  if (!same) {
    char saved[128], wanted[128];
    describe(saved, sizeof saved, kind, widths, nwid);
    describe(wanted, sizeof wanted, model->kind, model->width, model->nlayers + 1);
    return sml_fail(err, SML_EINPUT, "%s: a checkpoint of model %s, but this run trains %s", r->path, saved, wanted);
  }
  char net[SML_NET_LEN] = "";
  if (sml_h5r_has_attr(r, "net")) SML_TRY(sml_h5r_attr_string(r, "net", net, sizeof net, err));
  if (strcmp(net, model->net) != 0)
    return sml_fail(err, SML_EINPUT, "%s: a checkpoint of the network '%s', but this run trains '%s'", r->path, net,
                    model->net);
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
  const sml_optimizer *o;
  SML_TRY(read_optimizer(r, &o, err));
  if (o != cfg->optimizer)
    return sml_fail(err, SML_EINPUT, "%s: saved with optimizer %s, this run asks for %s (resume with the same one)",
                    r->path, o->name, cfg->optimizer->name);
  SML_TRY(check_int(r, "batch", "batch size", cfg->batch, err));
  SML_TRY(check_int(r, "seed", "seed", (int64_t)cfg->seed, err));
  SML_TRY(check_real(r, "lr", "learning rate", cfg->lr, err));
  SML_TRY(check_real(r, "reg", "L2 strength", cfg->reg, err));
  SML_TRY(check_real(r, "momentum", "momentum", cfg->opt.momentum, err));
  SML_TRY(check_real(r, "beta1", "beta1", cfg->opt.beta1, err));
  SML_TRY(check_real(r, "beta2", "beta2", cfg->opt.beta2, err));
  SML_TRY(check_real(r, "eps", "epsilon", cfg->opt.eps, err));
  SML_TRY(check_real(r, "weight_decay", "weight decay", cfg->opt.weight_decay, err));
  if (!sml_h5r_has_attr(r, "dropout") && cfg->dropout != 0)
    return sml_fail(err, SML_EINPUT, "%s: saved without dropout, this run asks for %g", r->path, cfg->dropout);
  SML_TRY(check_real(r, "dropout", "dropout", cfg->dropout, err));
  /* Augmentation: absent in files of runs without it (and before it). */
  char saved_aug[32] = "", want_aug[32];
  if (sml_h5r_has_attr(r, "augment")) SML_TRY(sml_h5r_attr_string(r, "augment", saved_aug, sizeof saved_aug, err));
  sml_augment_format(&cfg->augment, want_aug, sizeof want_aug);
  if (strcmp(saved_aug, want_aug) != 0)
    return sml_fail(err, SML_EINPUT, "%s: saved with augmentation %s, this run asks for %s", r->path,
                    saved_aug[0] ? saved_aug : "none", want_aug[0] ? want_aug : "none");
  SML_TRY(check_real(r, "lr_decay", "learning-rate decay", cfg->lr_decay, err));
  /* The arithmetic mode: a reproducible run continues reproducibly (and
   * with the same micro-batches) or not at all. */
  const int64_t saved_repro = sml_h5r_has_attr(r, "reproducible") ? -1 : 0;
  if (saved_repro == 0 && cfg->reproducible)
    return sml_fail(err, SML_EINPUT, "%s: saved without reproducible arithmetic, this run asks for it", r->path);
  if (saved_repro < 0) {
    SML_TRY(check_int(r, "reproducible", "reproducible arithmetic (0/1)", cfg->reproducible, err));
    if (cfg->reproducible) SML_TRY(check_int(r, "micro_batch", "micro-batch", sml_micro_batch_setting(cfg), err));
  }
  SML_TRY(check_int(r, "lr_step", "decay interval", cfg->lr_step, err));
  char sched[16];
  SML_TRY(sml_h5r_attr_string(r, "schedule", sched, sizeof sched, err));
  if (strcmp(sched, schedule_name(cfg->schedule)) != 0)
    return sml_fail(err, SML_EINPUT, "%s: saved with the %s schedule, this run asks for %s", r->path, sched,
                    schedule_name(cfg->schedule));
  if (cfg->schedule == SML_SCHEDULE_COSINE) SML_TRY(check_int(r, "epochs", "epochs", cfg->epochs, err));

  /* Progress, range-checked before anything is sized by it: the epoch
   * within this run's epochs, the step within the epoch, and the global step
   * their consequence (every step advances both). */
  ckpt_meta mt;
  meta_of(&mt, model, cfg, scratch); /* this run's values; the file's own replace them below */
  for (int i = 0; i < 3; i++) SML_TRY(sml_h5r_attr_i64s(r, progress_names[i], &mt.progress[i], 1, NULL, err));
  const int64_t epoch = mt.progress[0], step_in_epoch = mt.progress[1], global_step = mt.progress[2];
  const int64_t spe = (data->n_train + cfg->batch - 1) / cfg->batch;
  if (epoch < 0 || epoch > cfg->epochs)
    return sml_fail(err, SML_EINPUT, "%s: corrupt or another run's: saved at epoch %lld, this run has %lld epochs",
                    r->path, (long long)epoch, (long long)cfg->epochs);
  int64_t expect_step;
  if (step_in_epoch < 0 || step_in_epoch > spe || __builtin_mul_overflow(epoch, spe, &expect_step) ||
      expect_step + step_in_epoch != global_step || global_step > cfg->epochs * spe)
    return sml_fail(err, SML_EINPUT, "%s: corrupt: epoch %lld, step %lld of %lld in it and global step %lld disagree",
                    r->path, (long long)epoch, (long long)step_in_epoch, (long long)spe, (long long)global_step);
  for (int i = 0; i < 4; i++) {
    SML_TRY(sml_h5r_attr_double(r, sum_names[i], &mt.sums[i], err));
    if (!isfinite(mt.sums[i]) || (i > 0 && mt.sums[i] < 0))
      return sml_fail(err, SML_EINPUT, "%s: corrupt: %s is %g", r->path, sum_names[i], mt.sums[i]);
  }
  int64_t layout[2];
  SML_TRY(sml_h5r_attr_i64s(r, "saved_ranks_threads", layout, 2, NULL, err));
  if (layout[0] < 1 || layout[0] > INT32_MAX || layout[1] < 1 || layout[1] > INT32_MAX)
    return sml_fail(err, SML_EINPUT, "%s: corrupt: saved on %lld ranks x %lld threads", r->path, (long long)layout[0],
                    (long long)layout[1]);

  /* Tensors and history into scratch room sized by this run; the caller
   * commits them only when everything checked out. */
  SML_TRY(read_tensor_set(r, model, o, scratch->params, scratch->opt_state, &tensors, err));
  SML_TRY(read_residuals(r, model, layout[0], scratch, err));
  scratch->epoch = epoch;
  scratch->step_in_epoch = step_in_epoch;
  scratch->global_step = global_step;
  scratch->epoch_loss_sum = mt.sums[0];
  scratch->epoch_compute_s = mt.sums[1];
  scratch->epoch_allreduce_s = mt.sums[2];
  scratch->epoch_elapsed_s = mt.sums[3];
  sml_train_history *h = &scratch->hist;
  int64_t ne = epoch;
  double *col = SML_ALLOC((size_t)(epoch + 1) * sizeof *col);
  int st = SML_OK;
  for (int k = 0; k < NHISTORY && st == SML_OK; k++) {
    char name[64];
    snprintf(name, sizeof name, "/history/%s", history_names[k]);
    if (!sml_h5r_has(r, name) && version < 3) { /* format 1 has no validation loss */
      for (int64_t i = 0; i < epoch; i++) *history_field(&h->epochs[i], k) = NAN;
      continue;
    }
    int64_t n = 0;
    st = sml_h5r_doubles(r, name, col, epoch, &n, err);
    if (st == SML_OK && n != epoch)
      st = sml_fail(err, SML_EINPUT, "%s: corrupt: %s has %lld entries for %lld finished epochs", r->path, name,
                    (long long)n, (long long)epoch);
    for (int64_t i = 0; st == SML_OK && i < n; i++) *history_field(&h->epochs[i], k) = col[i];
  }
  free(col);
  SML_TRY(st);
  h->nepochs = ne;
  if (cfg->log_every > 0) {
    int64_t log_every;
    SML_TRY(sml_h5r_attr_i64s(r, "log_every", &log_every, 1, NULL, err));
    if (log_every == cfg->log_every) { /* global_step is in range, so this fits the history's room */
      const int64_t want = global_step / log_every;
      int64_t ns = 0, nl = 0;
      double *steps = SML_ALLOC((size_t)(want + 1) * sizeof *steps);
      st = sml_h5r_doubles(r, "/history/step", steps, want, &ns, err);
      if (st == SML_OK) st = sml_h5r_doubles(r, "/history/step_loss", h->step_loss, want, &nl, err);
      if (st == SML_OK && (ns != want || nl != want))
        st = sml_fail(err, SML_EINPUT, "%s: corrupt: %lld and %lld logged steps where global step %lld means %lld",
                      r->path, (long long)ns, (long long)nl, (long long)global_step, (long long)want);
      for (int64_t i = 0; st == SML_OK && i < ns; i++) {
        if (!(steps[i] == (double)((i + 1) * log_every)))
          st = sml_fail(err, SML_EINPUT, "%s: corrupt: logged step %lld is %g", r->path, (long long)i, steps[i]);
        h->step_index[i] = (i + 1) * log_every;
      }
      free(steps);
      SML_TRY(st);
      h->nsteps_logged = ns;
    }
  }
  *saved_ranks = (int)layout[0];
  *saved_threads = (int)layout[1];

  /* Format 3: one checksum over all of it, from the file's own values. */
  if (version >= 3) {
    for (int i = 0; i < NREALS; i++) SML_TRY(sml_h5r_attr_double(r, real_names[i], &mt.reals[i], err));
    for (int i = 0; i < NINTS; i++) SML_TRY(sml_h5r_attr_i64s(r, int_names[i], &mt.ints[i], 1, NULL, err));
    SML_TRY(sml_h5r_attr_string(r, "optimizer", mt.optimizer, sizeof mt.optimizer, err));
    SML_TRY(sml_h5r_attr_string(r, "schedule", mt.schedule, sizeof mt.schedule, err));
    snprintf(mt.model, sizeof mt.model, "%s", kind);
    SML_TRY(sml_h5r_attr_string(r, "contents_checksum", hex, sizeof hex, err));
    snprintf(want_hex, sizeof want_hex, "%016" PRIx64, contents_checksum(tensors, &mt, h));
    if (strcmp(hex, want_hex) != 0)
      return sml_fail(err, SML_EINPUT, "%s: corrupt: contents checksum %s, stored %s", r->path, want_hex, hex);
  }
  return SML_OK;
}

static int read_checkpoint(const char *path, const sml_model *model, const sml_train_config *cfg,
                           const sml_dataset_identity *data, sml_train_state *state, int *saved_ranks,
                           int *saved_threads, sml_err *err) {
  sml_h5_reader r;
  SML_TRY(sml_h5r_open(&r, path, err));
  /* Read and verified into scratch state; only a checkpoint that passes
   * every check replaces the live one, so a refused file leaves no trace. */
  sml_train_state scratch;
  sml_train_state_init(&scratch, model, cfg, (data->n_train + cfg->batch - 1) / cfg->batch);
  int st = read_state(&r, model, cfg, data, &scratch, saved_ranks, saved_threads, err);
  sml_h5r_close(&r);
  if (st == SML_OK) {
    sml_train_state t = *state;
    *state = scratch;
    scratch = t;
  }
  sml_train_state_free(&scratch);
  return st;
}

/* The rehearsals (src/io/h5vet.c): the same reads, in a child, into state
 * that is thrown away. */
typedef struct {
  const sml_model *model;
  const sml_train_config *cfg;
  const sml_dataset_identity *data;
} resume_args;
static int rehearse_checkpoint(const char *path, void *arg, sml_err *err) {
  const resume_args *a = arg;
  sml_train_state st;
  sml_train_state_init(&st, a->model, a->cfg, (a->data->n_train + a->cfg->batch - 1) / a->cfg->batch);
  int ranks, threads;
  const int status = read_checkpoint(path, a->model, a->cfg, a->data, &st, &ranks, &threads, err);
  sml_train_state_free(&st);
  return status;
}

int sml_checkpoint_read(const char *path, const sml_model *model, const sml_train_config *cfg,
                        const sml_dataset_identity *data, sml_train_state *state, int *saved_ranks, int *saved_threads,
                        sml_err *err) {
  resume_args a = {model, cfg, data};
  SML_TRY(sml_h5_vet(path, "checkpoint", rehearse_checkpoint, &a, err));
  return read_checkpoint(path, model, cfg, data, state, saved_ranks, saved_threads, err);
}

static int load_model(sml_saved_model *sm, const char *path, sml_err *err);
static int rehearse_model(const char *path, void *arg, sml_err *err) {
  (void)arg;
  sml_saved_model sm;
  const int st = load_model(&sm, path, err);
  if (st == SML_OK) sml_saved_model_free(&sm);
  return st;
}

int sml_saved_model_load(sml_saved_model *sm, const char *path, sml_err *err) {
  memset(sm, 0, sizeof *sm);
  SML_TRY(sml_h5_vet(path, "model", rehearse_model, NULL, err));
  return load_model(sm, path, err);
}

static int load_model(sml_saved_model *sm, const char *path, sml_err *err) {
  memset(sm, 0, sizeof *sm);
  sml_h5_reader r;
  SML_TRY(sml_h5r_open(&r, path, err));
  /* The model is described as a training set-up would describe it, and
   * built the same way. */
  sml_train_config cfg = sml_train_unset();
  int64_t widths[SML_MAX_LAYERS + 1];
  int nw, n3;
  int st = read_model_shape(&r, cfg.model, sizeof cfg.model, widths, &nw, err);
  if (st == SML_OK && nw < 2) st = sml_fail(err, SML_EINPUT, "%s: widths needs at least 2 entries", path);
  if (st == SML_OK) st = sml_h5r_attr_i64s(&r, "image_shape", sm->image_shape, 3, &n3, err);
  if (st == SML_OK && strcmp(cfg.model, "cnn") == 0) st = sml_h5r_attr_string(&r, "net", cfg.net, sizeof cfg.net, err);
  if (st == SML_OK && strcmp(cfg.model, "cnn") == 0) {
    int ok = n3 == 3;
    for (int i = 0; ok && i < 3; i++) ok = sm->image_shape[i] >= 1 && sm->image_shape[i] <= SML_MAX_SIDE;
    st = ok ? sml_train_model_image(&cfg, (int)sm->image_shape[0], (int)sm->image_shape[1], (int)sm->image_shape[2],
                                    (int)widths[nw - 1], &sm->model, err)
            : sml_fail(err, SML_EINPUT, "%s: corrupt: image_shape", path);
    int same = st == SML_OK && sm->model.nlayers + 1 == nw;
    for (int i = 0; same && i < nw; i++) same = sm->model.width[i] == widths[i];
    if (st == SML_OK && !same)
      st = sml_fail(err, SML_EINPUT, "%s: corrupt: the network does not give the saved widths", path);
  } else if (st == SML_OK) {
    cfg.nhidden = nw - 2;
    memcpy(cfg.hidden, widths + 1, (size_t)cfg.nhidden * sizeof *cfg.hidden);
    st = sml_train_model(&cfg, widths[0], (int)widths[nw - 1], &sm->model, err);
  }
  const sml_optimizer *o = NULL;
  if (st == SML_OK) st = read_optimizer(&r, &o, err);
  if (st == SML_OK) {
    sm->dim = widths[0];
    sm->params = SML_ALLOC((size_t)sm->model.nweights * sizeof *sm->params);
    sm->mean = SML_ALLOC((size_t)sm->dim * sizeof *sm->mean);
    float *state[SML_OPT_MAX_STATE] = {0};
    for (int k = 0; k < o->nstate; k++) state[k] = SML_ALLOC((size_t)sm->model.nweights * sizeof *state[k]);
    uint64_t tensors;
    st = read_tensor_set(&r, &sm->model, o, sm->params, state, &tensors,
                         err); /* verified, though eval needs params only */
    for (int k = 0; k < o->nstate; k++) free(state[k]);
  }
  if (st == SML_OK) st = sml_h5r_tensor(&r, "/prep/mean", sm->mean, sm->dim, err);
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

static int cmp_desc(const void *a, const void *b) { return -strcmp(*(char *const *)a, *(char *const *)b); }

int sml_checkpoint_list(const char *dir, char ***paths_out) {
  *paths_out = NULL;
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0, cap = 0;
  char **paths = NULL;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "ckpt-", 5) != 0 || len <= 8 || strcmp(e->d_name + len - 3, ".h5") != 0) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = realloc(paths, (size_t)cap * sizeof *paths);
      SML_ASSERT(grown != NULL);
      paths = grown;
    }
    const size_t bytes = strlen(dir) + len + 2;
    paths[n] = SML_ALLOC(bytes);
    snprintf(paths[n++], bytes, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (n > 1) qsort(paths, (size_t)n, sizeof *paths, cmp_desc); /* zero-padded steps: newest first */
  *paths_out = paths;
  return n;
}

void sml_checkpoint_list_free(char **paths, int n) {
  for (int i = 0; i < n; i++) free(paths[i]);
  free(paths);
}

/* The run identity a file records (0 when it records none). */
static int read_run_identity(const char *path, void *out, sml_err *err) {
  sml_h5_reader r;
  SML_TRY(sml_h5r_open(&r, path, err));
  char hex[32] = "";
  int st =
      sml_h5r_has_attr(&r, "run_identity") ? sml_h5r_attr_string(&r, "run_identity", hex, sizeof hex, err) : SML_OK;
  sml_h5r_close(&r);
  if (out) *(uint64_t *)out = st == SML_OK ? strtoull(hex, NULL, 16) : 0;
  return st;
}

uint64_t sml_checkpoint_identity_of(const char *path) {
  sml_err ignored;
  uint64_t id = 0;
  /* Another run's file may be damaged: read first in a child (h5vet). */
  if (sml_h5_vet(path, "checkpoint", read_run_identity, NULL, &ignored) != SML_OK) return 0;
  return read_run_identity(path, &id, &ignored) == SML_OK ? id : 0;
}

/* ckpt-<step>.h5's step. */
static int64_t step_of(const char *path) {
  const char *base = strrchr(path, '/');
  return strtoll((base ? base + 1 : path) + 5, NULL, 10);
}

int sml_checkpoint_dir_scan(sml_checkpoint_dir *d, const char *dir, uint64_t identity, int64_t first_step,
                            int64_t last_step, sml_err *err) {
  memset(d, 0, sizeof *d);
  char **paths;
  const int n = sml_checkpoint_list(dir, &paths);
  d->paths = SML_CALLOC((size_t)n + 1, sizeof *d->paths);
  int st = SML_OK;
  for (int i = 0; i < n; i++) {
    const uint64_t theirs = st == SML_OK ? sml_checkpoint_identity_of(paths[i]) : 0;
    const int64_t step = step_of(paths[i]);
    /* A file that records no identity (unreadable, or from an older
     * shardml) is no result to protect: the run may replace it. */
    if (theirs == identity) {
      d->paths[d->n++] = paths[i];
      paths[i] = NULL;
    } else if (theirs != 0 && step > first_step && step <= last_step) {
      st = sml_fail(err, SML_EINPUT,
                    "%s: a checkpoint of another run (other data, model or hyperparameters) at step "
                    "%lld, which this run would replace; use another checkpoint directory or remove that run's files",
                    paths[i], (long long)step);
    }
  }
  sml_checkpoint_list_free(paths, n);
  if (st != SML_OK) sml_checkpoint_dir_free(d);
  return st;
}

void sml_checkpoint_dir_free(sml_checkpoint_dir *d) {
  sml_checkpoint_list_free(d->paths, d->n);
  memset(d, 0, sizeof *d);
}

int sml_checkpoint_rotate(sml_checkpoint_dir *d, const char *dir, const char *newest, int keep, sml_err *err) {
  char latest[4096];
  snprintf(latest, sizeof latest, "%s/latest", dir);
  sml_atomic_file a;
  SML_TRY(sml_atomic_open(&a, latest, err));
  const char *base = strrchr(newest, '/');
  fprintf(a.f, "%s\n", base ? base + 1 : newest);
  SML_TRY(sml_atomic_commit(&a, err));
  /* The run's files, newest first, the one just written among them; beyond
   * the newest `keep` they go. Other runs' files are never in the list. */
  int have = 0;
  for (int i = 0; i < d->n && !have; i++) have = strcmp(d->paths[i], newest) == 0;
  if (!have) {
    char **grown = realloc(d->paths, (size_t)(d->n + 1) * sizeof *d->paths);
    SML_ASSERT(grown != NULL);
    d->paths = grown;
    d->paths[d->n] = SML_ALLOC(strlen(newest) + 1);
    memcpy(d->paths[d->n++], newest, strlen(newest) + 1);
    qsort(d->paths, (size_t)d->n, sizeof *d->paths, cmp_desc);
  }
  int kept = 0;
  for (int i = 0; i < d->n; i++) {
    if (kept < keep || strcmp(d->paths[i], newest) == 0) {
      d->paths[kept++] = d->paths[i];
    } else {
      unlink(d->paths[i]);
      free(d->paths[i]);
    }
  }
  d->n = kept;
  return SML_OK;
}
