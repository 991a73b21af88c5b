/* What --reproducible costs per step, measured step by step (not a test):
 * the 784-256-10 MLP on Fashion-MNIST, one training in each mode side by
 * side in one process, their steps alternating (ABBA, so neither mode
 * always follows the other). On a shared VM whose speed drifts by tens of
 * percent over minutes, runs minutes apart (tests/bench/reproducible.sh)
 * compare the machine as much as the modes; steps a millisecond apart see
 * the same machine. Each step is the trainer's own (sml_train_step), timed
 * whole: the local gradient, the sum over the ranks and the optimizer's
 * update. Both trainings share the caches, so each step starts colder than
 * in a run of its own; the ratio is the figure to read.
 * Usage: mpirun -n P sml_bench_repro_steps [BATCH] [STEPS] [MICRO] (MICRO: --micro-batch, default shardml's) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_core.h"
#include "shardml/dataset.h"
#include "shardml/comm.h"
#include "base/rng.h"
#include "shardml/train.h"
#include "train/step.h"

#include "median.h"

/* One training in one mode: its parameters, optimizer state and buffers. */
typedef struct {
  sml_train_config cfg;
  sml_train_state st;
  sml_step_buffers bufs;
} mode_run;

/* One step of positions [lo, hi) of perm, as sml_train takes it (without
 * signals or timers). Returns the loss. */
static double step(mode_run *r, const sml_model *m, const sml_dataset *ds, const sml_prep *prep, const int64_t *perm,
                   int64_t lo, int64_t hi, const sml_comm *c) {
  int64_t flags[2] = {0, 0};
  sml_reduce_times times;
  const double loss =
      sml_train_step(&r->bufs, m, &r->st, &r->cfg, &ds->train, prep, perm, lo, hi, r->cfg.lr, flags, &times, c);
  r->st.global_step++;
  return loss;
}

int main(int argc, char **argv) {
  sml_blas_core_fix(argc, argv);
  sml_init(&argc, &argv);
  const sml_comm world = sml_comm_world();
  const int64_t batch = argc > 1 ? atoll(argv[1]) : 128, steps = argc > 2 ? atoll(argv[2]) : 2000;
  sml_train_config cfg = sml_train_unset();
  snprintf(cfg.model, sizeof cfg.model, "mlp");
  cfg.hidden[0] = 256;
  cfg.nhidden = 1;
  cfg.batch = batch;
  cfg.micro_batch = argc > 3 ? atoll(argv[3]) : 0;
  sml_train_defaults(&cfg);
  sml_err err;
  sml_dataset ds;
  const sml_data_options data = {0}; /* the default dataset, no validation or test split */
  sml_model m;
  int status = batch >= 1 && steps >= 4 && cfg.micro_batch >= 0
                   ? SML_OK
                   : sml_fail(&err, SML_EINPUT, "usage: sml_bench_repro_steps [BATCH >= 1] [STEPS >= 4] [MICRO >= 0]");
  if (status == SML_OK) status = sml_dataset_load(&ds, &data, &world, &err);
  if (status == SML_OK)
    status = sml_train_model_image(&cfg, ds.height, ds.width, ds.channels, ds.num_classes, &m, &err);
  if (status != SML_OK) {
    if (world.rank == 0) fprintf(stderr, "sml_bench_repro_steps: %s\n", err.msg);
    sml_finalize();
    return 2;
  }
  sml_prep prep;
  sml_prep_init(&prep, &ds.train, sml_dataset_dim(&ds), &world);
  const int64_t N = ds.train.total, per_epoch = (N + batch - 1) / batch;
  mode_run runs[2]; /* [0] default, [1] --reproducible */
  for (int k = 0; k < 2; k++) {
    mode_run *r = &runs[k];
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->cfg.reproducible = k;
    sml_train_state_init(&r->st, &m, &r->cfg, per_epoch);
    if (world.rank == 0) sml_model_init_params(&m, r->st.params, cfg.seed, cfg.init_scale);
    sml_train_state_bcast(&r->st, &m, &r->cfg, &world);
    sml_step_buffers_init(&r->bufs, &m, &ds, &prep, &r->cfg, &world);
  }
  int64_t *perm = SML_ALLOC((size_t)N * sizeof *perm);
  double *t = SML_ALLOC((size_t)(2 * steps) * sizeof *t), last_loss[2] = {0, 0};
  const int64_t warmup = steps / 10; /* untimed */
  int64_t epoch = -1;
  for (int64_t s = -warmup; s < steps; s++) {
    const int64_t g = s + warmup, in_epoch = g % per_epoch;
    if (g / per_epoch != epoch) {
      epoch = g / per_epoch;
      sml_rng shuffle = sml_rng_stream(cfg.seed, SML_STREAM_SHUFFLE, (uint64_t)epoch);
      sml_rng_permutation(&shuffle, perm, N);
    }
    const int64_t lo = in_epoch * batch, hi = lo + batch < N ? lo + batch : N;
    for (int j = 0; j < 2; j++) {
      const int k = (s & 1) ? 1 - j : j; /* ABBA */
      sml_barrier(&world);
      const double t0 = sml_now();
      last_loss[k] = step(&runs[k], &m, &ds, &prep, perm, lo, hi, &world);
      if (s >= 0) t[k * steps + s] = sml_now() - t0;
    }
  }
  /* Bytes bound for other ranks per step (sml_step_sent), averaged over the
   * steps and the ranks. */
  double sent[2][2];
  for (int k = 0; k < 2; k++) {
    int64_t mine[2];
    sml_step_sent(&runs[k].bufs, &mine[0], &mine[1]);
    sml_allreduce_sum_i64(&world, mine, 2);
    for (int j = 0; j < 2; j++) sent[k][j] = (double)mine[j] / (double)world.size / (double)(warmup + steps);
  }
  if (world.rank == 0) {
    double med[2];
    for (int k = 0; k < 2; k++) med[k] = sml_bench_median(t + k * steps, (size_t)steps);
    printf(
        "MLP 784-256-10, batch %lld, %d rank(s) x %d thread(s), %lld alternating steps of each mode (medians): "
        "default %.0f us (%.0f images/s), --reproducible %.0f us (%.0f images/s, micro %lld): %+.1f %% images/s; "
        "last step losses %.4f / %.4f\n",
        (long long)batch, world.size, sml_threads(), (long long)steps, med[0] * 1e6, (double)batch / med[0],
        med[1] * 1e6, (double)batch / med[1], (long long)sml_micro_batch(&cfg), 100 * (med[0] / med[1] - 1),
        last_loss[0], last_loss[1]);
    printf("  sent per rank and step: default %.0f kB (gradient), --reproducible %.0f kB (sums) + %.1f kB (images)\n",
           sent[0][0] / 1e3, sent[1][0] / 1e3, sent[1][1] / 1e3);
  }
  for (int k = 0; k < 2; k++) {
    sml_step_buffers_free(&runs[k].bufs);
    sml_train_state_free(&runs[k].st);
  }
  free(perm);
  free(t);
  sml_dataset_free(&ds);
  sml_finalize();
  return 0;
}
