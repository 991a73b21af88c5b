/* Unit tests of the pieces that need no data files: block decomposition,
 * BLAS core levels, preprocessing against a naive loop, and error agreement
 * (run at several rank counts: one failing rank must be heard by all). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_core.h"
#include "shardml/split.h"
#include "shardml/dataset.h"
#include "shardml/prep.h"
#include "shardml/tasks.h"
#include "shardml/train.h"
#include "train/step.h"

#include "base/half.h"
#include "base/rng.h"
#include "train/reduce.h"
#include "expect.h"

static void test_block_range(void) {
  for (int64_t n = 0; n < 40; n++)
    for (int p = 1; p <= 7; p++) {
      int64_t next = 0, mn = n, mx = 0;
      for (int r = 0; r < p; r++) {
        int64_t first, count;
        sml_block_range(n, r, p, &first, &count);
        EXPECT(first == next, "n=%lld p=%d r=%d first=%lld", (long long)n, p, r, (long long)first);
        next = first + count;
        if (count < mn) mn = count;
        if (count > mx) mx = count;
      }
      EXPECT(next == n, "n=%lld p=%d covers %lld", (long long)n, p, (long long)next);
      EXPECT(mx - mn <= 1, "n=%lld p=%d sizes %lld..%lld", (long long)n, p, (long long)mn, (long long)mx);
    }
}

static void test_core_levels(void) {
  /* Intel and AMD names: what matters is the level, never the name (OpenBLAS
   * runs its Haswell-class kernels under the name Zen on AMD EPYC). */
  static const struct {
    const char *core;
    int level;
  } table[] = {{"Prescott", 1},  {"Nehalem", 1},    {"Barcelona", 1},     {"Sandybridge", 2},
               {"Bulldozer", 2}, {"Haswell", 3},    {"Zen", 3},           {"Excavator", 3},
               {"SkylakeX", 4},  {"Cooperlake", 4}, {"SapphireRapids", 4}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    EXPECT(sml_blas_core_level(table[i].core) == table[i].level, "%s: level %d, expected %d", table[i].core,
           sml_blas_core_level(table[i].core), table[i].level);
  EXPECT(sml_blas_core_level("Zen") == sml_blas_core_level("Haswell"), "Zen is Haswell-class");
  EXPECT(sml_blas_core_level("haswell") == 3, "case-insensitive");
  EXPECT(strcmp(sml_blas_level_name(sml_blas_core_level("Zen")), "avx2") == 0, "level names");
  EXPECT(sml_blas_core_level("NoSuchCore") == 0, "unknown names never trigger a re-exec");
  const char *best = sml_cpu_best_core();
  if (best) EXPECT(sml_blas_core_level(best) >= 2, "best core %s", best);
}

static void test_prep_batch(const sml_comm *c) {
  enum { N = 9, D = 13 };
  uint8_t images[N * D];
  uint8_t labels[N] = {0};
  for (int i = 0; i < N * D; i++) images[i] = (uint8_t)((i * 37 + 11) % 256);
  sml_shard sh = {.images = images, .labels = labels, .count = N, .first = 0, .total = N};
  sml_comm self = sml_comm_self();
  sml_prep p;
  sml_prep_init(&p, &sh, D, &self);
  int64_t idx[3] = {4, 0, 8};
  float out[3 * D];
  sml_prep_batch(&p, images, idx, 3, out);
  for (int j = 0; j < D; j++) {
    double mean = 0;
    for (int i = 0; i < N; i++) mean += images[i * D + j] / 255.0;
    mean /= N;
    EXPECT(fabs(mean - p.mean[j]) < 1e-7, "mean[%d] %g vs %g", j, p.mean[j], mean);
    for (int b = 0; b < 3; b++) {
      double want = images[idx[b] * D + j] / 255.0 - mean;
      EXPECT(fabs(want - out[b * D + j]) < 1e-6, "out[%d,%d] %g vs %g", b, j, out[b * D + j], want);
    }
  }
  sml_prep_free(&p);
  (void)c;
}

static void test_agree(const sml_comm *c) {
  sml_err err = {{0}, {0}};
  int st = sml_agree(c, SML_OK, &err);
  EXPECT(st == SML_OK, "all ok -> ok");
  int failing = c->size - 1;
  int local = c->rank == failing ? sml_fail(&err, SML_EINPUT, "file-%d: broken", c->rank) : SML_OK;
  st = sml_agree(c, local, &err);
  char want[64];
  snprintf(want, sizeof want, "file-%d: broken", failing);
  EXPECT(st == SML_EINPUT, "status %d", st);
  EXPECT(strcmp(err.msg, want) == 0, "rank %d got '%s'", c->rank, err.msg);
  /* Two failing ranks: the worst status wins, the lowest rank speaks. */
  local = c->rank == 0 ? sml_fail(&err, SML_EINPUT, "input") : sml_fail(&err, SML_ERUNTIME, "runtime");
  st = sml_agree(c, local, &err);
  EXPECT(st == (c->size > 1 ? SML_EINPUT : SML_EINPUT), "status %d", st);
  EXPECT(strcmp(err.msg, "input") == 0, "rank %d got '%s'", c->rank, err.msg);
}

static void test_lr_schedule(void) {
  sml_train_config c = {.epochs = 10, .batch = 512, .lr = 0.1, .lr_decay = 0.5, .lr_step = 2, .base_batch = 128};
  EXPECT(fabs(sml_lr_at(&c, 0, 0.0) - 0.1) < 1e-12, "step: epoch 0");
  EXPECT(fabs(sml_lr_at(&c, 3, 0.5) - 0.05) < 1e-12, "step: epoch 3 = one decay");
  EXPECT(fabs(sml_lr_at(&c, 4, 0.0) - 0.025) < 1e-12, "step: epoch 4 = two decays");
  c.lr_scaling = 1;
  EXPECT(fabs(sml_lr_at(&c, 0, 0.0) - 0.4) < 1e-12, "linear scaling: 0.1 * 512 / 128");
  c.warmup_epochs = 2;
  EXPECT(fabs(sml_lr_at(&c, 1, 0.0) - 0.2) < 1e-12, "warm-up: half-way at epoch 1 (%g)", sml_lr_at(&c, 1, 0.0));
  EXPECT(fabs(sml_lr_at(&c, 2, 0.0) - 0.2) < 1e-12, "after warm-up: scaled and decayed once");
  c.lr_scaling = 0;
  c.warmup_epochs = 0;
  c.schedule = SML_SCHEDULE_COSINE;
  EXPECT(fabs(sml_lr_at(&c, 0, 0.0) - 0.1) < 1e-12, "cosine: start");
  EXPECT(fabs(sml_lr_at(&c, 5, 0.0) - 0.05) < 1e-12, "cosine: half-way");
  EXPECT(sml_lr_at(&c, 9, 0.999) < 1e-3, "cosine: near zero at the end");
}

/* Parses "1,0,2" into v; returns the count. */
static int parse_ints(const char *text, int *v) {
  int n = 0;
  for (const char *p = text; *p; p++)
    if (*p >= '0' && *p <= '9') v[n++] = (int)strtol(p, (char **)&p, 10), p--;
  return n;
}

/* Library code names quantities, not options (the CLI maps them). */
static void test_quantity_messages(void) {
  sml_train_config c = {.epochs = 1, .batch = 8, .lr = 0, .lr_decay = 1, .lr_step = 1};
  sml_err err = {{0}, {0}};
  EXPECT(sml_train_config_check(&c, 100, &err) == SML_EINPUT, "learning rate 0 refused");
  EXPECT(strcmp(err.msg, "learning rate 0: must be positive") == 0 && strcmp(err.quantity, "learning rate") == 0,
         "message '%s', quantity '%s'", err.msg, err.quantity);
  EXPECT(strstr(err.msg, "--") == NULL, "no option names below the CLI: '%s'", err.msg);
  c.lr = 0.1;
  c.batch = 101;
  EXPECT(sml_train_config_check(&c, 100, &err) == SML_EINPUT && strcmp(err.quantity, "batch size") == 0 &&
             strncmp(err.msg, "batch size 101: larger than the training set", 44) == 0,
         "batch: '%s'", err.msg);
  sml_fail(&err, SML_EINPUT, "a plain message");
  EXPECT(err.quantity[0] == '\0', "sml_fail clears the quantity");
}

static void test_splits(void) {
  /* scikit-learn 1.2's StratifiedKFold(F).split test folds for these labels
   * (classes in order of first appearance); checked against scikit-learn on
   * 300 random label vectors when this was written. */
  static const struct {
    int folds;
    const char *labels, *folds_expected;
  } golden[] = {{3, "2,0,1,2,2,0,1,1,0,2,2,1,0,0,2,1,2,0,1,2,1,2,0", "0,0,0,0,0,0,0,1,0,1,1,1,1,1,1,1,2,2,2,2,2,2,2"},
                {4, "1,1,1,0,0,0,0,2,2,2,2,2,2,1,0,3,3,3", "0,1,2,0,0,1,2,0,1,1,2,2,3,3,3,0,1,3"}};
  int ints[64], expect[64], fold[64];
  uint8_t labels[64];
  const sml_split_rule stratified = {SML_SPLIT_STRATIFIED, 0, 0};
  for (size_t g = 0; g < sizeof golden / sizeof golden[0]; g++) {
    const int n = parse_ints(golden[g].labels, ints);
    parse_ints(golden[g].folds_expected, expect);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)ints[i];
    sml_split_folds(&stratified, labels, n, 4, golden[g].folds, fold);
    int wrong = 0;
    for (int i = 0; i < n; i++) wrong += fold[i] != expect[i];
    EXPECT(wrong == 0, "stratified folds, case %zu: %d differ from scikit-learn's", g, wrong);
  }
  /* Class-sorted data (3 classes x 30): every fold of every mode that
   * stratifies has every class; contiguous blocks have one class each. */
  uint8_t sorted[90];
  for (int i = 0; i < 90; i++) sorted[i] = (uint8_t)(i / 30);
  int part[90];
  uint8_t missing[3];
  for (int shuffle = 0; shuffle < 2; shuffle++) {
    const sml_split_rule r = {SML_SPLIT_STRATIFIED, shuffle, 7};
    sml_split_folds(&r, sorted, 90, 3, 3, part);
    int sizes[3] = {0, 0, 0}, lacking = 0;
    for (int i = 0; i < 90; i++) sizes[part[i]]++;
    for (int f = 0; f < 3; f++) lacking += sml_split_missing_classes(sorted, part, 90, f, 3, missing);
    EXPECT(lacking == 0 && sizes[0] == 30 && sizes[1] == 30 && sizes[2] == 30,
           "stratified (shuffle %d) on sorted data: %d fold-classes missing, sizes %d %d %d", shuffle, lacking,
           sizes[0], sizes[1], sizes[2]);
    sml_split_holdout(&r, sorted, 90, 3, 9, part);
    int val = 0;
    for (int i = 0; i < 90; i++) val += part[i];
    EXPECT(val == 9 && sml_split_missing_classes(sorted, part, 90, 1, 3, missing) == 0,
           "stratified hold-out (shuffle %d): %d held out, classes missing %d", shuffle, val,
           sml_split_missing_classes(sorted, part, 90, 1, 3, missing));
  }
  const sml_split_rule contiguous = {SML_SPLIT_CONTIGUOUS, 0, 0};
  sml_split_folds(&contiguous, sorted, 90, 3, 3, part);
  EXPECT(part[0] == 0 && part[29] == 0 && part[30] == 1 && part[89] == 2, "contiguous folds are KFold blocks");
  EXPECT(sml_split_missing_classes(sorted, part, 90, 0, 3, missing) == 2 && missing[1] && missing[2],
         "fold 0 of sorted data lacks classes 1 and 2");
  sml_split_holdout(&contiguous, sorted, 90, 3, 9, part);
  EXPECT(part[80] == 0 && part[81] == 1 && part[89] == 1, "contiguous hold-out: the last 9");
  /* Hold-out shares: largest remainders (7 of 10 from classes of 5, 3, 2). */
  const uint8_t uneven[10] = {0, 0, 0, 0, 0, 1, 1, 1, 2, 2};
  sml_split_holdout(&stratified, uneven, 10, 3, 7, part);
  int per_class[3] = {0, 0, 0};
  for (int i = 0; i < 10; i++) per_class[uneven[i]] += part[i];
  EXPECT(per_class[0] == 4 && per_class[1] == 2 && per_class[2] == 1,
         "hold-out shares %d %d %d, expected 4 2 1 "
         "(3.5, 2.1, 1.4: floors 3 2 1, the extra one to class 0)",
         per_class[0], per_class[1], per_class[2]);
  EXPECT(part[4] == 1 && part[0] == 0, "a class's share is its last members");
}

/* Search load reports for more groups than the 1024 the report once held
 * in fixed arrays: 3000 ranks in 1500 and in 1025 groups, each group's
 * figures taken from its leader (its lowest rank). */
static void test_task_load_many_groups(void) {
  const int nranks = 3000;
  double *busy = malloc(sizeof *busy * nranks);
  int64_t *tasks = malloc(sizeof *tasks * nranks);
  for (int r = 0; r < nranks; r++) {
    busy[r] = r * 0.5;
    tasks[r] = r;
  }
  const int group_counts[] = {1500, 1025};
  for (int i = 0; i < 2; i++) {
    sml_task_load load = {.ngroups = group_counts[i]};
    load.busy_s = calloc((size_t)load.ngroups, sizeof *load.busy_s);
    load.tasks = calloc((size_t)load.ngroups, sizeof *load.tasks);
    sml_task_load_from_ranks(&load, nranks, busy, tasks);
    int bad = 0;
    for (int g = 0; g < load.ngroups; g++) {
      int64_t first, count;
      sml_block_range(nranks, g, load.ngroups, &first, &count);
      bad += load.tasks[g] != (int)first || load.busy_s[g] != first * 0.5;
    }
    EXPECT(bad == 0, "%d groups: %d groups' load taken from the wrong rank", load.ngroups, bad);
    /* both layouts end in a group of 2 ranks, led by rank 2998 */
    EXPECT(load.tasks[load.ngroups - 1] == nranks - 2, "%d groups: the last group's leader is rank %d", load.ngroups,
           load.tasks[load.ngroups - 1]);
    sml_task_load_free(&load);
  }
  free(busy);
  free(tasks);
}

/* 16-bit conversions against a slow reference: the nearest representable
 * value in double arithmetic (ties to the even pattern), for every binary16
 * and bfloat16 pattern back and forth, and for floats around every
 * rounding boundary. */
static double half_value(uint16_t h, int bf16) { return bf16 ? sml_bf16_to_float(h) : sml_f16_to_float(h); }
static uint16_t half_reference(float x, int bf16) {
  /* The finite patterns of x's sign, searched for the nearest. */
  const uint16_t sign = signbit(x) ? 0x8000 : 0, top = bf16 ? 0x7f80 : 0x7c00;
  const double ax = fabs((double)x);
  uint16_t lo = 0, hi = top; /* value(lo) <= ax < value(hi) once narrowed (hi: infinity) */
  while (hi - lo > 1) {
    const uint16_t mid = (uint16_t)((lo + hi) / 2);
    if (half_value(mid, bf16) <= ax) lo = mid;
    else hi = mid;
  }
  const double below = half_value(lo, bf16);
  /* Beyond the largest finite value, rounding goes to infinity from half an
   * ulp above it (IEEE's overflow rule). */
  const double above = hi == top ? below + (below - half_value((uint16_t)(lo - 1), bf16)) : half_value(hi, bf16);
  const double d_lo = ax - below, d_hi = above - ax;
  const uint16_t pick = d_lo < d_hi ? lo : d_hi < d_lo ? hi : (lo % 2 == 0 ? lo : hi);
  return (uint16_t)(sign | pick);
}
static void test_half(void) {
  for (int bf16 = 0; bf16 < 2; bf16++) {
    int64_t bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
      const float x = (float)half_value((uint16_t)h, bf16);
      const uint16_t back = bf16 ? sml_bf16_from_float(x) : sml_f16_from_float(x);
      if (isnan(x)) bad += !isnan(half_value(back, bf16));
      else bad += back != h;
    }
    EXPECT(bad == 0, "%s: %lld patterns do not survive float and back", bf16 ? "bf16" : "fp16", (long long)bad);
    sml_rng rng = sml_rng_stream(5, 0, (uint64_t)bf16);
    bad = 0;
    for (int i = 0; i < 200000; i++) {
      /* Near a boundary: a representable value plus a fraction of its ulp,
       * or a random float of the type's range. */
      const uint16_t h = (uint16_t)(sml_rng_next(&rng) & (bf16 ? 0x7f7f : 0x7bff));
      if (h + 1 == (bf16 ? 0x7f80 : 0x7c00)) continue; /* the largest finite value: no next one */
      const double v = half_value(h, bf16), next = half_value((uint16_t)(h + 1), bf16);
      const double frac = (double)(sml_rng_next(&rng) % 9) / 8.0;
      float x = (float)(v + frac * (next - v));
      if (i % 2) x = -x;
      const uint16_t got = bf16 ? sml_bf16_from_float(x) : sml_f16_from_float(x), want = half_reference(x, bf16);
      if (got != want && bad++ < 3)
        fprintf(stderr, "  %s(%.9g): 0x%04x, reference 0x%04x\n", bf16 ? "bf16" : "fp16", x, got, want);
    }
    EXPECT(bad == 0, "%s: %lld of 200000 roundings differ from the reference", bf16 ? "bf16" : "fp16", (long long)bad);
  }
  EXPECT(sml_f16_from_float(65520.0f) == 0x7c00 && sml_f16_from_float(65519.0f) == 0x7bff, "fp16 overflow rule");
  EXPECT(isnan(sml_bf16_to_float(sml_bf16_from_float(NAN))) && isnan(sml_f16_to_float(sml_f16_from_float(NAN))),
         "NaN stays NaN");
}

/* Error feedback: rank 0 contributes the same gradient g every step, the
 * others zeros (so MPI's additions are exact and only rank 0's rounding
 * is at work). Over K steps the bf16 sums add up to K g within one rounding
 * of the carried residual (|sum - K g| <= 2^-8 |g|), where dropping the
 * residual would lose up to K / 2 ulps (2^-3 |g| at K = 64). */
static void test_error_feedback(const sml_comm *c) {
  sml_model m;
  sml_err err;
  const int64_t hidden[] = {8};
  if (sml_model_init(&m, "mlp", 12, 3, hidden, 1, &err) != SML_OK) {
    EXPECT(0, "%s", err.msg);
    return;
  }
  const int64_t nw = m.nweights, K = 64;
  for (int dtype = SML_GRAD_BF16; dtype <= SML_GRAD_FP16; dtype++) {
    float *grad = calloc((size_t)nw + 1, sizeof *grad), *g = malloc((size_t)nw * sizeof *g);
    double *total = calloc((size_t)nw, sizeof *total);
    sml_rng rng = sml_rng_stream(9, 0, 0);
    for (int64_t i = 0; i < nw; i++) g[i] = (float)((sml_rng_uniform(&rng) - 0.5) * 10.0);
    /* Buckets of 40 bytes: several, started in turn as the hook says. */
    sml_reducer *r = sml_reducer_init(&m, grad, 1, 1, 40, (sml_grad_dtype)dtype, c);
    for (int64_t k = 0; k < K; k++) {
      const sml_grad_hook *hook = sml_reducer_begin(r);
      for (int64_t i = 0; i < nw; i++) grad[i] = c->rank == 0 ? g[i] : 0.0f;
      grad[nw] = 1.0f; /* a flag: summed exactly, as a float */
      if (hook) hook->ready(hook->ctx, 0);
      sml_reduce_times t;
      sml_reducer_finish(r, &t);
      EXPECT(grad[nw] == (float)c->size, "flag sum %g on %d ranks", grad[nw], c->size);
      for (int64_t i = 0; i < nw; i++) total[i] += grad[i];
    }
    int64_t bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < nw; i++) {
      const double dev = fabs(total[i] - (double)K * g[i]) / fabs((double)g[i]);
      worst = fmax(worst, dev);
      bad += c->size > 1 && dev > 0x1p-8;
      bad += c->size == 1 && dev > 1e-12; /* one rank: nothing crosses a wire, nothing is rounded */
    }
    EXPECT(bad == 0, "%s, %d ranks: %lld sums drift from K g (worst %.3g of |g|)",
           sml_grad_dtype_name((sml_grad_dtype)dtype), c->size, (long long)bad, worst);
    sml_reducer_free(r);
    free(grad);
    free(g);
    free(total);
  }
}

/* The image a (dy, dx, flip) transform makes, naively: pixel (y, x) of the
 * mirrored image shifted by (dy, dx), black where that falls outside. */
static void naive_transform(const uint8_t *src, int h, int w, int ch, int dy, int dx, int flip, uint8_t *dst) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < ch; k++) {
        const int sy = y + dy, fx = x + dx;
        const int inside = sy >= 0 && sy < h && fx >= 0 && fx < w;
        const int sx = flip ? w - 1 - fx : fx;
        dst[((int64_t)y * w + x) * ch + k] = inside ? src[((int64_t)sy * w + sx) * ch + k] : 0;
      }
}

/* Which transform within the augmentation's range turned src into out
 * (the index (dy + P) * (2P + 1) + dx + P, plus (2P + 1)^2 for a flip);
 * -1 when none does. Source images with distinct pixels make it unique. */
static int find_transform(const sml_augment *a, const uint8_t *src, const uint8_t *out, int h, int w, int ch,
                          uint8_t *scratch) {
  const int span = 2 * a->crop + 1;
  for (int flip = 0; flip <= a->flip; flip++)
    for (int dy = -a->crop; dy <= a->crop; dy++)
      for (int dx = -a->crop; dx <= a->crop; dx++) {
        naive_transform(src, h, w, ch, dy, dx, flip, scratch);
        if (memcmp(scratch, out, (size_t)h * w * ch) == 0)
          return flip * span * span + (dy + a->crop) * span + dx + a->crop;
      }
  return -1;
}

/* Augmentation: every output is one of the transforms in range, chosen by
 * (seed, epoch, id) only -- not by the batch's order or company -- and the
 * choices spread over all of them. */
static void test_augment(void) {
  sml_err err = {0};
  sml_augment a;
  EXPECT(sml_augment_parse("crop2,flip", &a, &err) == SML_OK && a.crop == 2 && a.flip == 1, "crop2,flip");
  EXPECT(sml_augment_parse("flip,crop3", &a, &err) == SML_OK && a.crop == 3 && a.flip == 1, "flip,crop3");
  EXPECT(sml_augment_parse("none", &a, &err) == SML_OK && a.crop == 0 && a.flip == 0, "none");
  char spec[32];
  sml_augment_parse("flip,crop3", &a, &err);
  sml_augment_format(&a, spec, sizeof spec);
  EXPECT(strcmp(spec, "crop3,flip") == 0, "format %s", spec);
  const char *bad[] = {"",          "crop",        "crop0", "crop65", "crop-1",      "crop2x",
                       "flip,flip", "crop1,crop2", ",",     "crop2,", "flip,,crop2", "mirror"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err = (sml_err){0};
    EXPECT(sml_augment_parse(bad[i], &a, &err) != SML_OK && strstr(err.msg, "augmentation"), "'%s' refused: %s", bad[i],
           err.msg);
  }

  enum { N = 400, H = 5, W = 4, CH = 3, D = H * W * CH };
  const sml_augment aug = {.crop = 2, .flip = 1};
  const int transforms = 2 * 5 * 5;
  uint8_t *images = malloc((size_t)N * D), *out = malloc((size_t)N * D), *again = malloc((size_t)N * D);
  uint8_t scratch[D];
  const uint8_t *rows[N], *rows_reversed[N];
  int64_t ids[N], ids_reversed[N];
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < D; j++) images[(int64_t)i * D + j] = (uint8_t)(1 + (j * 5 + i) % 250); /* distinct, non-zero */
    ids[i] = 1000 + 3 * i;
    rows[i] = images + (int64_t)i * D;
    ids_reversed[N - 1 - i] = ids[i];
    rows_reversed[N - 1 - i] = rows[i];
  }
  int counts[2 * 5 * 5] = {0};
  sml_augment_images(&aug, 42, 7, ids, rows, N, H, W, CH, out);
  for (int i = 0; i < N; i++) {
    const int t = find_transform(&aug, rows[i], out + (int64_t)i * D, H, W, CH, scratch);
    EXPECT(t >= 0, "image %d: output is no crop/flip of its input", i);
    if (t >= 0) counts[t]++;
  }
  for (int t = 0; t < transforms; t++) /* 8 expected each; none missing, none dominating */
    EXPECT(counts[t] >= 1 && counts[t] <= 24, "transform %d drawn %d times of %d", t, counts[t], N);
  /* The same images in reverse order, one at a time and all together. */
  sml_augment_images(&aug, 42, 7, ids_reversed, rows_reversed, N, H, W, CH, again);
  int moved = 0;
  for (int i = 0; i < N; i++) moved += memcmp(out + (int64_t)i * D, again + (int64_t)(N - 1 - i) * D, D) != 0;
  EXPECT(moved == 0, "%d images changed when the batch was reversed", moved);
  sml_augment_images(&aug, 42, 7, ids + 17, rows + 17, 1, H, W, CH, again);
  EXPECT(memcmp(again, out + 17 * D, D) == 0, "image 17 alone differs from image 17 in the batch");
  /* Another epoch or seed draws again. */
  sml_augment_images(&aug, 42, 8, ids, rows, N, H, W, CH, again);
  int same = 0;
  for (int i = 0; i < N; i++) same += memcmp(out + (int64_t)i * D, again + (int64_t)i * D, D) == 0;
  EXPECT(same < N / 5, "%d of %d images the same in the next epoch", same, N);
  sml_augment_images(&aug, 43, 7, ids, rows, N, H, W, CH, again);
  same = 0;
  for (int i = 0; i < N; i++) same += memcmp(out + (int64_t)i * D, again + (int64_t)i * D, D) == 0;
  EXPECT(same < N / 5, "%d of %d images the same with another seed", same, N);
  /* Flip alone mirrors about half; crop alone never mirrors. */
  const sml_augment flip_only = {.crop = 0, .flip = 1}, crop_only = {.crop = 2, .flip = 0};
  sml_augment_images(&flip_only, 42, 7, ids, rows, N, H, W, CH, again);
  int flipped = 0;
  for (int i = 0; i < N; i++) {
    const int t = find_transform(&flip_only, rows[i], again + (int64_t)i * D, H, W, CH, scratch);
    EXPECT(t == 0 || t == 1, "flip only: image %d is transform %d", i, t);
    flipped += t == 1;
  }
  EXPECT(flipped > N / 2 - 60 && flipped < N / 2 + 60, "flip only: %d of %d mirrored", flipped, N);
  sml_augment_images(&crop_only, 42, 7, ids, rows, N, H, W, CH, again);
  for (int i = 0; i < N; i++) {
    const int t = find_transform(&aug, rows[i], again + (int64_t)i * D, H, W, CH, scratch);
    EXPECT(t >= 0 && t < 25, "crop only: image %d is transform %d", i, t);
  }
  free(images);
  free(out);
  free(again);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  tests_check_ranks(argv[0]);
  sml_comm world = sml_comm_world();
  test_block_range();
  test_half();
  test_error_feedback(&world);
  test_core_levels();
  test_prep_batch(&world);
  test_augment();
  test_agree(&world);
  test_lr_schedule();
  test_splits();
  test_quantity_messages();
  test_task_load_many_groups();
  int64_t total = failures;
  sml_allreduce_sum_i64(&world, &total, 1);
  if (world.rank == 0) printf("test_unit: %lld failures on %d ranks\n", (long long)total, world.size);
  sml_finalize();
  return total ? 1 : 0;
}
