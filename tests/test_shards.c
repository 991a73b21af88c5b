/* MPI test: for each dataset given on the command line, the union of the
 * rank shards (gathered in rank order) equals the split read by a naive,
 * independent reader; block sizes differ by at most one; the validation
 * split is the tail of the training file; and the mean image equals a naive
 * double-precision mean and the single-rank mean to 1e-6. */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "shardml/dataset.h"
#include "shardml/prep.h"
#include "shardml/split.h"

#include "expect.h"

typedef struct {
  int64_t n, dim;
  uint8_t *images, *labels;
} ref_split;

static uint8_t *slurp_gz(const char *path, size_t *n) {
  gzFile f = gzopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 20, len = 0;
  uint8_t *buf = malloc(cap);
  int got;
  while ((got = gzread(f, buf + len, (unsigned)(cap - len))) > 0) {
    len += (size_t)got;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  gzclose(f);
  *n = len;
  return buf;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static int ref_idx(const char *dir, const char *prefix, ref_split *r) {
  char ip[4200], lp[4200];
  snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte", dir, prefix);
  if (!exists(ip)) strcat(ip, ".gz");
  snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte", dir, prefix);
  if (!exists(lp)) strcat(lp, ".gz");
  if (!exists(ip)) return -1;
  size_t ni, nl;
  uint8_t *img = slurp_gz(ip, &ni), *lab = slurp_gz(lp, &nl);
  r->n = (int64_t)img[4] << 24 | img[5] << 16 | img[6] << 8 | img[7];
  r->dim = ((int64_t)img[10] << 8 | img[11]) * ((int64_t)img[14] << 8 | img[15]);
  r->images = malloc((size_t)(r->n * r->dim));
  r->labels = malloc((size_t)r->n);
  memcpy(r->images, img + 16, (size_t)(r->n * r->dim));
  memcpy(r->labels, lab + 8, (size_t)r->n);
  free(img);
  free(lab);
  return 0;
}

static int ref_cifar(const char *dir, int test, ref_split *r) {
  r->n = 0;
  r->dim = 3072;
  r->images = NULL;
  r->labels = NULL;
  for (int b = 1; b <= 5; b++) {
    char p[4200];
    if (test) snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    else snprintf(p, sizeof p, "%s/data_batch_%d.bin", dir, b);
    FILE *f = fopen(p, "rb");
    if (!f) break;
    uint8_t rec[3073];
    while (fread(rec, 1, 3073, f) == 3073) {
      r->images = realloc(r->images, (size_t)(r->n + 1) * 3072);
      r->labels = realloc(r->labels, (size_t)(r->n + 1));
      r->labels[r->n] = rec[0];
      for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
          for (int ch = 0; ch < 3; ch++)
            r->images[r->n * 3072 + (y * 32 + x) * 3 + ch] = rec[1 + ch * 1024 + y * 32 + x];
      r->n++;
    }
    fclose(f);
    if (test) break;
  }
  return 0;
}

static int ref_h5(const char *path, const char *group, ref_split *r) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  char name[64];
  snprintf(name, sizeof name, "%s/images", group);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hsize_t dims[4];
  hid_t sp = H5Dget_space(d);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  r->n = (int64_t)dims[0];
  r->dim = (int64_t)(dims[1] * dims[2] * dims[3]);
  r->images = malloc((size_t)(r->n * r->dim));
  r->labels = malloc((size_t)r->n);
  H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->images);
  H5Dclose(d);
  snprintf(name, sizeof name, "%s/labels", group);
  d = H5Dopen2(f, name, H5P_DEFAULT);
  H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->labels);
  H5Dclose(d);
  H5Fclose(f);
  return 0;
}

static void ref_load(const char *path, int test, ref_split *r) {
  char p[4200];
  snprintf(p, sizeof p, "%s/data_batch_1.bin", path);
  if (strstr(path, ".h5")) ref_h5(path, test ? "/test" : "", r);
  else if (exists(p)) ref_cifar(path, test, r);
  else ref_idx(path, test ? "t10k" : "train", r);
}

/* Gathers a shard on rank 0 and checks it against the n reference records
 * rows[0..n) (NULL: 0..n-1), in order; with `balanced`, shard sizes must
 * differ by at most one. */
static void check_union(const sml_comm *c, const char *what, const sml_shard *sh, int64_t dim, const ref_split *ref,
                        const int64_t *rows, int64_t n, int balanced) {
  int64_t *counts = calloc((size_t)c->size, sizeof *counts), *firsts = calloc((size_t)c->size, sizeof *firsts);
  sml_gather_i64(c, sh->count, counts, 0);
  sml_gather_i64(c, sh->first, firsts, 0);
  int64_t *bytes = calloc((size_t)c->size, sizeof *bytes);
  for (int r = 0; r < c->size; r++) bytes[r] = counts[r] * dim;
  uint8_t *all_images = c->rank == 0 ? malloc((size_t)(n * dim) + 1) : NULL;
  uint8_t *all_labels = c->rank == 0 ? malloc((size_t)n + 1) : NULL;
  sml_gatherv_bytes(c, sh->images, sh->count * dim, all_images, bytes, 0);
  sml_gatherv_bytes(c, sh->labels, sh->count, all_labels, counts, 0);
  if (c->rank == 0) {
    int64_t sum = 0, mn = INT64_MAX, mx = 0;
    for (int r = 0; r < c->size; r++) {
      EXPECT(firsts[r] == sum, "%s: rank %d starts at %lld, expected %lld", what, r, (long long)firsts[r],
             (long long)sum);
      sum += counts[r];
      if (counts[r] < mn) mn = counts[r];
      if (counts[r] > mx) mx = counts[r];
    }
    EXPECT(sum == n, "%s: shards hold %lld records, expected %lld", what, (long long)sum, (long long)n);
    if (balanced) EXPECT(mx - mn <= 1, "%s: shard sizes range from %lld to %lld", what, (long long)mn, (long long)mx);
    int64_t wrong = 0;
    for (int64_t i = 0; sum == n && i < n; i++) {
      const int64_t row = rows ? rows[i] : i;
      wrong +=
          memcmp(all_images + i * dim, ref->images + row * dim, (size_t)dim) != 0 || all_labels[i] != ref->labels[row];
    }
    EXPECT(wrong == 0, "%s: %lld gathered records differ from the file's", what, (long long)wrong);
  }
  free(all_images);
  free(all_labels);
  free(counts);
  free(firsts);
  free(bytes);
}

/* The file's records in part `which` of a hold-out split, in order. */
static int64_t holdout_rows(const ref_split *ref, int num_classes, const sml_split_rule *rule, int64_t n_val, int which,
                            int64_t *rows) {
  int *part = malloc((size_t)ref->n * sizeof *part);
  sml_split_holdout(rule, ref->labels, ref->n, num_classes, n_val, part);
  int64_t n = 0;
  for (int64_t i = 0; i < ref->n; i++)
    if (part[i] == which) rows[n++] = i;
  free(part);
  return n;
}

static void check_dataset(const sml_comm *c, const char *path) {
  ref_split train = {0}, test = {0};
  ref_load(path, 0, &train);
  ref_load(path, 1, &test);

  sml_err err;
  sml_data_options opt = {.path = path, .load_test = 1};
  sml_dataset ds;
  int st = sml_dataset_load(&ds, &opt, c, &err);
  EXPECT(st == SML_OK, "%s: load failed: %s", path, err.msg);
  if (st != SML_OK) return;
  const int64_t dim = sml_dataset_dim(&ds);
  EXPECT(dim == train.dim, "%s: dim %lld, expected %lld", path, (long long)dim, (long long)train.dim);
  check_union(c, "train", &ds.train, dim, &train, NULL, train.n, 1);
  check_union(c, "test", &ds.test, dim, &test, NULL, test.n, 1);
  const int num_classes = ds.num_classes;

  /* Mean image: distributed vs naive double, and vs one rank alone. */
  sml_prep prep;
  sml_prep_init(&prep, &ds.train, dim, c);
  if (c->rank == 0) {
    double maxdiff = 0;
    for (int64_t j = 0; j < dim; j++) {
      double s = 0;
      for (int64_t i = 0; i < train.n; i++) s += train.images[i * dim + j] / 255.0;
      double d = fabs(s / (double)train.n - prep.mean[j]);
      if (d > maxdiff) maxdiff = d;
    }
    EXPECT(maxdiff <= 1e-6, "%s: mean differs from the naive mean by %g", path, maxdiff);
    sml_comm self = sml_comm_self();
    sml_dataset one;
    if (sml_dataset_load(&one, &opt, &self, &err) == SML_OK) {
      sml_prep prep1;
      sml_prep_init(&prep1, &one.train, dim, &self);
      double d1 = 0;
      for (int64_t j = 0; j < dim; j++) d1 = fmax(d1, fabs((double)prep1.mean[j] - prep.mean[j]));
      EXPECT(d1 <= 1e-6, "%s: %d-rank mean differs from the 1-rank mean by %g", path, c->size, d1);
      printf("%s: %d ranks, mean |diff| vs 1 rank %g, vs naive %g\n", path, c->size, d1, maxdiff);
      sml_prep_free(&prep1);
      sml_dataset_free(&one);
    }
  }
  sml_prep_free(&prep);
  sml_dataset_free(&ds);

  /* Validation splits of 5 records: contiguous (the last 5) and stratified
   * (in file order and shuffled); each rank reads its block of the file and
   * divides it, so the union of the shards is the rule's split, in order. */
  int64_t *rows = malloc((size_t)train.n * sizeof *rows);
  const sml_split_rule rules[3] = {
      {SML_SPLIT_CONTIGUOUS, 0, 0}, {SML_SPLIT_STRATIFIED, 0, 0}, {SML_SPLIT_STRATIFIED, 1, 9}};
  for (int k = 0; k < 3; k++) {
    char what[96], split[64];
    sml_split_describe(&rules[k], split, sizeof split);
    opt.val_count = 5;
    opt.split = rules[k];
    st = sml_dataset_load(&ds, &opt, c, &err);
    EXPECT(st == SML_OK, "%s: load with --val 5 (%s) failed: %s", path, split, err.msg);
    if (st != SML_OK) continue;
    int64_t n = holdout_rows(&train, num_classes, &rules[k], 5, 0, rows);
    snprintf(what, sizeof what, "train minus val (%s)", split);
    check_union(c, what, &ds.train, dim, &train, rows, n, 0);
    n = holdout_rows(&train, num_classes, &rules[k], 5, 1, rows);
    snprintf(what, sizeof what, "val (%s)", split);
    check_union(c, what, &ds.val, dim, &train, rows, n, 0);
    if (k == 0) EXPECT(rows[0] == train.n - 5, "contiguous: the last 5 validate");
    sml_dataset_free(&ds);
  }
  free(rows);
  free(train.images);
  free(train.labels);
  free(test.images);
  free(test.labels);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  tests_check_ranks(argv[0]);
  sml_comm world = sml_comm_world();
  for (int i = 1; i < argc; i++) check_dataset(&world, argv[i]);
  int64_t total = failures;
  sml_allreduce_sum_i64(&world, &total, 1);
  if (world.rank == 0)
    printf("%s: %lld failures over %d datasets on %d ranks\n", argv[0], (long long)total, argc - 1, world.size);
  sml_finalize();
  return total ? 1 : 0;
}
