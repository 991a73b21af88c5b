/* A run's history: per-epoch metrics and logged steps, and the files
 * they become (history.csv, steps.csv, loss.svg, accuracy.svg). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "plot/plot.h"
#include "shardml/train.h"

void sml_train_history_init(sml_train_history *h, const sml_train_config *cfg, int64_t steps_per_epoch) {
  memset(h, 0, sizeof *h);
  h->epochs = SML_CALLOC((size_t)cfg->epochs + 1, sizeof *h->epochs);
  int64_t max_logged = cfg->log_every > 0 ? cfg->epochs * steps_per_epoch / cfg->log_every + 1 : 0;
  h->step_index = SML_CALLOC((size_t)max_logged + 1, sizeof *h->step_index);
  h->step_loss = SML_CALLOC((size_t)max_logged + 1, sizeof *h->step_loss);
  h->test_acc = -1;
}

void sml_train_history_free(sml_train_history *h) {
  free(h->epochs);
  free(h->step_index);
  free(h->step_loss);
  memset(h, 0, sizeof *h);
}

/* Local indices (into this rank's shard) of global positions [lo, hi) of perm. */

static int write_curves(const sml_train_history *h, const char *dir, sml_err *err) {
  const int64_t ne = h->nepochs, ns = h->nsteps_logged;
  const int64_t steps_per_epoch = ne > 0 && ns > 0 ? (h->step_index[ns - 1] + ne - 1) / ne : 1;
  double *sx = SML_ALLOC((size_t)(ns + 1) * sizeof *sx), *sy = SML_ALLOC((size_t)(ns + 1) * sizeof *sy);
  double *ex = SML_ALLOC((size_t)(ne + 1) * sizeof *ex), *cols[4];
  for (int k = 0; k < 4; k++) cols[k] = SML_ALLOC((size_t)(ne + 1) * sizeof *cols[k]);
  int has_val = 0;
  for (int64_t i = 0; i < ns; i++) {
    sx[i] = (double)h->step_index[i];
    sy[i] = h->step_loss[i];
  }
  for (int64_t i = 0; i < ne; i++) {
    const sml_epoch_stats *e = &h->epochs[i];
    ex[i] = ns > 0 ? (double)((i + 1) * steps_per_epoch) : (double)(i + 1);
    cols[0][i] = e->loss;
    cols[1][i] = e->val_loss;
    cols[2][i] = e->train_acc;
    cols[3][i] = e->val_acc;
    has_val |= e->val_acc >= 0;
  }
  sml_svg_series loss[2] = {
      {.name = "training loss", .n = ns > 0 ? ns : ne, .x = ns > 0 ? sx : ex, .y = ns > 0 ? sy : cols[0]},
      {.name = "validation loss", .n = ne, .x = ex, .y = cols[1]}};
  sml_svg_series acc[2] = {{.name = "training accuracy", .n = ne, .x = ex, .y = cols[2]},
                           {.name = "validation accuracy", .n = ne, .x = ex, .y = cols[3]}};
  char path[4096];
  snprintf(path, sizeof path, "%s/loss.svg", dir);
  int st = sml_svg_plot(path, "Loss", ns > 0 ? "step" : "epoch", "loss (training: data + L2; validation: data)", 0,
                        loss, has_val ? 2 : 1, err);
  const int has_train_acc = ne > 0 && h->epochs[0].train_acc >= 0;
  if (st == SML_OK && (has_train_acc || has_val)) {
    snprintf(path, sizeof path, "%s/accuracy.svg", dir);
    st = sml_svg_plot(path, "Accuracy", ns > 0 ? "step" : "epoch", "accuracy", 0, has_train_acc ? acc : acc + 1,
                      has_train_acc + has_val, err);
  }
  free(sx);
  free(sy);
  free(ex);
  for (int k = 0; k < 4; k++) free(cols[k]);
  return st;
}

int sml_train_write_history(const sml_train_history *h, const char *dir, const sml_comm *c, sml_err *err) {
  int status = SML_OK;
  if (c->rank == 0) {
    char path[4096];
    sml_atomic_file a;
    snprintf(path, sizeof path, "%s/history.csv", dir);
    status = sml_atomic_open(&a, path, err);
    if (status == SML_OK) {
      /* allreduce_s (waiting for the sums) = comm_exposed_s + imbalance_s;
       * comm_hidden_s ran during compute_s. */
      fprintf(a.f,
              "epoch,loss,train_acc,val_acc,lr,images_per_sec,compute_s,allreduce_s,other_s,eval_s,val_loss,"
              "comm_hidden_s,comm_exposed_s,imbalance_s\n");
      for (int64_t i = 0; i < h->nepochs; i++) {
        const sml_epoch_stats *e = &h->epochs[i];
        fprintf(a.f, "%lld,%.8g,%.6f,%.6f,%.6g,%.1f,%.4f,%.4f,%.4f,%.4f,%.8g,%.4f,%.4f,%.4f\n", (long long)i + 1,
                e->loss, e->train_acc, e->val_acc, e->lr, e->images_per_sec, e->compute_s, e->allreduce_s, e->other_s,
                e->eval_s, e->val_loss, e->comm_hidden_s, e->comm_exposed_s, e->imbalance_s);
      }
      status = sml_atomic_commit(&a, err);
    }
    if (status == SML_OK && h->nsteps_logged > 0) {
      snprintf(path, sizeof path, "%s/steps.csv", dir);
      status = sml_atomic_open(&a, path, err);
      if (status == SML_OK) {
        fprintf(a.f, "step,loss\n");
        for (int64_t i = 0; i < h->nsteps_logged; i++)
          fprintf(a.f, "%lld,%.9g\n", (long long)h->step_index[i], h->step_loss[i]);
        status = sml_atomic_commit(&a, err);
      }
    }
    if (status == SML_OK) status = write_curves(h, dir, err);
  }
  return sml_agree(c, status, err);
}
