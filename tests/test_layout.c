/* Layout equivalence of one training step: from identical parameters, the
 * allreduced gradient of the same global minibatch agrees for 1, 2, 3 and 4
 * ranks and 1 and 2 threads per rank, to float rounding: on every parameter
 * tensor, max |g - g_1x1| <= 1e-5 max |g_1x1|. Runs under 4 MPI ranks and
 * forms every layout from them (a group of the first G ranks loads its own
 * shards), through the trainer's own step code (sml_step_local, then the
 * allreduce). Covers softmax, SVM and a two-hidden-layer MLP on Fashion-MNIST,
 * shards of unequal size (1001 images) and a short last batch (1 image).
 * The default step is also taken with its sum overlapped in 16 kB buckets
 * (held to the same tolerance) and with bf16 sums (to 2^-6).
 * The --reproducible step (sml_repro_step) is held to the same 1x1 default
 * result on every layout, with both of its sums: the default micro-batch
 * (2 per step, gathered and added in order) and --micro-batch 16 (7 per
 * step, exact fixed-point sums, also overlapped with the backward pass).
 * Its layout-independence to the bit is
 * tests/cli/reproducible.sh's.
 *
 * Why not whole runs: float training is chaotic, so two layouts that round
 * differently agree for a few hundred steps and then drift apart; one step's
 * gradient is the property that holds (tests/cli/train_equivalence.sh checks
 * short runs and final accuracy). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "base/rng.h"
#include "shardml/train.h"
#include "train/step.h"

#include "expect.h"

#define NIMAGES 1001
#define BATCH 100
#define SEED 11

/* The 1x1 result each layout is compared with (world rank 0 only). */
typedef struct {
  float *grad;
  double loss;
  int64_t count;
} step_result;

/* The modes a step is taken in: the default one, and --reproducible at two
 * micro-batch sizes (0: the default, 64 at batch 100). */
static const struct {
  const char *name;
  int reproducible;
  int64_t micro;
  int overlap; /* the sum's settings (train/reduce.h; reproducible: overlap only) */
  double bucket_bytes;
  sml_grad_dtype dtype;
  double tol; /* of each tensor's largest 1x1 entry */
} modes[] = {{"default", 0, 0, 0, 0, SML_GRAD_FP32, 1e-5},
             /* 16 kB buckets: weight gradients in row blocks, sums started mid-backward */
             {"default, overlapped buckets", 0, 0, 1, 16e3, SML_GRAD_FP32, 1e-5},
             /* each rank's part rounded once to 8 bits of mantissa, then every addition */
             {"default, bf16 sums", 0, 0, 1, 16e3, SML_GRAD_BF16, 0x1p-6},
             {"reproducible, gathered", 1, 0, 0, 0, SML_GRAD_FP32, 1e-5},
             {"reproducible, exact sums", 1, 16, 0, 0, SML_GRAD_FP32, 1e-5},
             /* the exact sums started during the last micro-batch's backward pass */
             {"reproducible, exact sums overlapped", 1, 16, 1, 0, SML_GRAD_FP32, 1e-5}};
#define NMODES (int)(sizeof modes / sizeof modes[0])

/* sml_repro_step's summed gradient as floats, the way the optimizer reads it. */
static void repro_gradient(const sml_model *m, const sml_grad_sum *g, float *out) {
  const sml_kernels *k = sml_kernels_active();
  for (int p = 0; p < m->nparams; p++) {
    const sml_param_entry *e = &m->param[p];
    if (g->fixed) k->fixed_to_float(out + e->offset, g->fixed + e->offset, e->size, g->unscale[p]);
    else k->ordered_sum_rows(out + e->offset, g->rows + e->offset, g->stride, g->nrows, e->size);
  }
}

/* One step's allreduced gradient on group c in the given mode. */
static void step_on(const sml_comm *c, const sml_model *m, int64_t step, int threads, int mode, step_result *out) {
  sml_data_options opt = {.path = NULL, .limit = NIMAGES};
  sml_dataset ds;
  sml_err err;
  if (sml_dataset_load(&ds, &opt, c, &err) != SML_OK) {
    fprintf(stderr, "test_layout: %s\n", err.msg);
    exit(2);
  }
  const int64_t D = sml_dataset_dim(&ds), N = ds.train.total;
  sml_prep prep;
  sml_prep_init(&prep, &ds.train, D, c);
  float *params = malloc((size_t)m->nweights * sizeof *params);
  if (c->rank == 0) sml_model_init_params(m, params, SEED, m->nlayers == 1 ? 1e-2 : 0);
  sml_bcast_bytes(c, params, m->nweights * (int64_t)sizeof *params, 0);
  int64_t *perm = malloc((size_t)N * sizeof *perm);
  sml_rng shuffle = sml_rng_stream(SEED, SML_STREAM_SHUFFLE, 0);
  sml_rng_permutation(&shuffle, perm, N);

  omp_set_num_threads(threads);
  sml_step_scratch scratch;
  sml_step_scratch_init(&scratch, m, BATCH, D);
  const int64_t lo = step * BATCH, hi = lo + BATCH < N ? lo + BATCH : N;
  int64_t count;
  if (modes[mode].reproducible) {
    sml_train_config cfg = sml_train_unset();
    snprintf(cfg.model, sizeof cfg.model, "%s", m->nlayers == 1 ? "softmax" : "mlp");
    cfg.batch = BATCH;
    cfg.micro_batch = modes[mode].micro;
    cfg.reproducible = 1;
    cfg.overlap = modes[mode].overlap;
    sml_train_defaults(&cfg);
    sml_repro *r = sml_repro_init(m, &ds.train, &prep, &cfg, c);
    sml_grad_sum g;
    int64_t flags[2] = {0, 0};
    sml_reduce_times times;
    const int ok = sml_repro_step(r, params, perm, lo, hi, step, NULL, &g, &out->loss, &out->count, flags, &times);
    EXPECT(ok == 0, "%s step %lld: not finite", modes[mode].name, (long long)step);
    repro_gradient(m, &g, out->grad);
    sml_repro_free(r);
  } else {
    /* As sml_train_step sums it: the loss and count ride as floats. */
    float *buf = malloc((size_t)(m->nweights + 2) * sizeof *buf);
    sml_reducer *r = sml_reducer_init(m, buf, 2, modes[mode].overlap, modes[mode].bucket_bytes, modes[mode].dtype, c);
    const sml_grad_hook *hook = sml_reducer_begin(r);
    EXPECT((hook != NULL) == (modes[mode].overlap && c->size > 1), "%s: hook only when overlapping ranks",
           modes[mode].name);
    buf[m->nweights] =
        (float)sml_step_local(m, params, &ds.train, &prep, perm, lo, hi, NULL, NULL, &scratch, buf, &count, hook);
    buf[m->nweights + 1] = (float)count;
    sml_reduce_times t;
    sml_reducer_finish(r, &t);
    memcpy(out->grad, buf, (size_t)m->nweights * sizeof *buf);
    out->loss = buf[m->nweights];
    out->count = (int64_t)buf[m->nweights + 1];
    sml_reducer_free(r);
    free(buf);
  }
  omp_set_num_threads(1);

  sml_step_scratch_free(&scratch);
  free(perm);
  free(params);
  sml_prep_free(&prep);
  sml_dataset_free(&ds);
}

static void compare(const sml_model *m, const char *what, const step_result *ref, const step_result *got, double tol) {
  EXPECT(got->count == ref->count, "%s: %lld samples, 1x1 had %lld", what, (long long)got->count,
         (long long)ref->count);
  EXPECT(fabs(got->loss - ref->loss) <= 1e-5 * fabs(ref->loss), "%s: loss %.9g, 1x1 %.9g", what, got->loss, ref->loss);
  double worst_tensor = 0;
  for (int p = 0; p < m->nparams; p++) {
    const sml_param_entry *e = &m->param[p];
    const float *a = got->grad + e->offset, *b = ref->grad + e->offset;
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < e->size; i++) {
      scale = fmax(scale, fabs(b[i]));
      diff = fmax(diff, fabs((double)a[i] - b[i]));
    }
    const double rel = diff / (scale > 0 ? scale : 1);
    worst_tensor = fmax(worst_tensor, rel);
    EXPECT(rel <= tol, "%s: gradient of %s differs by %.3g of its largest entry", what, e->name, rel);
  }
  printf("  %-40s max |g - g_1x1| / max |g_1x1| over tensors: %.2e\n", what, worst_tensor);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  tests_check_ranks(argv[0]);
  tests_select_kernels("test_layout");
  sml_comm world = sml_comm_world();
  if (world.size != 4) {
    if (world.rank == 0) fprintf(stderr, "test_layout: run on 4 ranks\n");
    sml_finalize();
    return 2;
  }
  const char *kinds[] = {"softmax", "svm", "mlp"};
  const int64_t hidden[] = {64, 32};
  const int64_t steps[] = {0, NIMAGES / BATCH}; /* a full batch and the 1-image last one */
  for (int k = 0; k < 3; k++) {
    sml_model m;
    sml_err err;
    if (sml_model_init(&m, kinds[k], 784, 10, hidden, k == 2 ? 2 : 0, &err) != SML_OK) {
      fprintf(stderr, "test_layout: %s\n", err.msg);
      return 2;
    }
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
      step_result ref = {.grad = calloc((size_t)m.nweights, sizeof(float))};
      step_result got = {.grad = calloc((size_t)m.nweights, sizeof(float))};
      if (world.rank == 0) printf("%s, step %lld:\n", kinds[k], (long long)steps[s]);
      for (int mode = 0; mode < NMODES; mode++)
        for (int ranks = 1; ranks <= 4; ranks++)
          for (int threads = 1; threads <= 2; threads++) {
            /* The first `ranks` ranks form the layout; the others wait in the split. */
            const int is_ref = mode == 0 && ranks == 1 && threads == 1;
            sml_comm group = sml_comm_split(&world, world.rank < ranks ? 0 : 1, world.rank);
            if (world.rank < ranks) step_on(&group, &m, steps[s], threads, mode, is_ref ? &ref : &got);
            sml_comm_free(&group);
            if (world.rank == 0 && !is_ref) {
              char what[128];
              snprintf(what, sizeof what, "%s step %lld, %s, %d rank(s) x %d thread(s)", kinds[k], (long long)steps[s],
                       modes[mode].name, ranks, threads);
              compare(&m, what, &ref, &got, modes[mode].tol);
            }
          }
      free(ref.grad);
      free(got.grad);
    }
  }
  int64_t total = failures;
  sml_allreduce_sum_i64(&world, &total, 1);
  if (world.rank == 0) printf("test_layout: %lld failures\n", (long long)total);
  sml_finalize();
  return total ? 1 : 0;
}
