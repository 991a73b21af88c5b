/* Finding a dataset from the path a user named, validating it, and reading this rank's
 * blocks. Every rank probes the headers itself (they are small), so no
 * struct needs broadcasting, and every failure goes through sml_agree. */
#include "shardml/dataset.h"
#include "data/formats.h"
#include "base/hash.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *cifar_names[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                      "dog",      "frog",       "horse", "ship", "truck"};

const char *sml_format_name(sml_format f) {
  switch (f) {
    case SML_FORMAT_IDX:
      return "IDX";
    case SML_FORMAT_CIFAR:
      return "CIFAR-10 binary";
    case SML_FORMAT_HDF5:
      return "HDF5";
    case SML_FORMAT_NPY:
      return "NumPy";
  }
  return "unknown";
}

void sml_block_range(int64_t n, int rank, int size, int64_t *first, int64_t *count) {
  int64_t base = n / size, extra = n % size;
  *count = base + (rank < extra ? 1 : 0);
  *first = rank * base + (rank < extra ? rank : extra);
}

int64_t sml_dataset_dim(const sml_dataset *ds) { return (int64_t)ds->height * ds->width * ds->channels; }

const char *sml_class_name(const sml_dataset *ds, int k, char *buf, size_t len) {
  if (k >= 0 && k < ds->num_classes && ds->class_names[k][0]) return ds->class_names[k];
  snprintf(buf, len, "class %d", k);
  return buf;
}

/* ---------------------------------------------------------------- finding */

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name or dir/name.gz, whichever exists. */
static int find_maybe_gz(const char *dir, const char *name, char *out) {
  snprintf(out, SML_PATH_LEN, "%s/%s", dir, name);
  if (is_file(out)) return 1;
  snprintf(out, SML_PATH_LEN, "%s/%s.gz", dir, name);
  return is_file(out);
}

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static void set_names(sml_dataset *ds, const char **names, int n) {
  ds->num_classes = n;
  for (int i = 0; i < n; i++) snprintf(ds->class_names[i], SML_CLASS_NAME_LEN, "%s", names[i]);
}

static void set_idx_identity(sml_dataset *ds, const char *path) {
  char lower[SML_PATH_LEN];
  size_t i = 0;
  for (; path[i] && i < sizeof lower - 1; i++) lower[i] = (char)tolower((unsigned char)path[i]);
  lower[i] = '\0';
  if (strstr(lower, "fashion")) {
    set_names(ds, fashion_names, 10);
    snprintf(ds->source, sizeof ds->source, "Fashion-MNIST (IDX)");
  } else {
    static const char *digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    set_names(ds, digits, 10);
    snprintf(ds->source, sizeof ds->source, "MNIST-format IDX");
  }
}

/* A CIFAR directory may carry batches.meta.txt with one class name a line. */
static void set_cifar_identity(sml_dataset *ds, const char *dir) {
  set_names(ds, cifar_names, 10);
  snprintf(ds->source, sizeof ds->source, "CIFAR-10 (binary)");
  char meta[SML_PATH_LEN];
  snprintf(meta, sizeof meta, "%s/batches.meta.txt", dir);
  FILE *f = fopen(meta, "r");
  if (!f) return;
  char line[256];
  int n = 0;
  while (n < 10 && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0]) snprintf(ds->class_names[n++], SML_CLASS_NAME_LEN, "%.*s", SML_CLASS_NAME_LEN - 1, line);
  }
  fclose(f);
}

/* The labels file that goes with an IDX images file: "...images-idx3..." ->
 * "...labels-idx1...". */
static int idx_labels_for(const char *images, char *labels) {
  const char *hit = strstr(images, "images-idx3");
  if (!hit) return 0;
  size_t pre = (size_t)(hit - images);
  snprintf(labels, SML_PATH_LEN, "%.*slabels-idx1%s", (int)pre, images, hit + strlen("images-idx3"));
  return is_file(labels);
}

static int file_magic(const char *path, unsigned char *magic, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t got = fread(magic, 1, n, f);
  fclose(f);
  return got == n ? 0 : -1;
}

/* The names a .npz's arrays go by: Keras' (train, then test), and the
 * alternative. */
static const char *const npz_names[2][4] = {
    {"x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"},
    {"train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"}};

/* The labels .npy that goes with an images .npy: x_NAME.npy -> y_NAME.npy,
 * or "images" -> "labels" in the file name. */
static int npy_labels_for(const char *images, char *labels) {
  const char *base = strrchr(images, '/');
  base = base ? base + 1 : images;
  const size_t dir = (size_t)(base - images);
  if (base[0] == 'x' && base[1] == '_') {
    snprintf(labels, SML_PATH_LEN, "%.*sy_%s", (int)dir, images, base + 2);
    return is_file(labels);
  }
  const char *hit = strstr(base, "images");
  if (!hit) return 0;
  snprintf(labels, SML_PATH_LEN, "%.*slabels%s", (int)(hit - images), images, hit + strlen("images"));
  return is_file(labels);
}

/* Resolves one dataset file (training or test data) into its primary split. */
static int probe_file(sml_dataset *ds, sml_split_source *split, const char *path, sml_err *err) {
  /* Only regular files: a FIFO or a device would block the first read (and
   * every rank with it) or never end. */
  if (!is_file(path)) {
    struct stat st;
    if (stat(path, &st) == 0)
      return sml_fail(err, SML_EINPUT, "%s: not a regular file (a pipe, device or socket cannot be read in shards)",
                      path);
  }
  unsigned char magic[8] = {0};
  if (file_magic(path, magic, sizeof magic) != 0 && !has_suffix(path, ".bin"))
    return sml_fail(err, SML_EINPUT, "%s: too short to be a dataset file", path);
  if (memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0) {
    SML_TRY(sml_h5_probe(split, path, "", err));
    ds->format = SML_FORMAT_HDF5;
    snprintf(ds->source, sizeof ds->source, "shardml HDF5");
    return sml_h5_read_class_names(ds, path, err);
  }
  if (memcmp(magic, "\x93NUMPY", 6) == 0) {
    char labels[SML_PATH_LEN];
    if (!npy_labels_for(path, labels))
      return sml_fail(err, SML_EINPUT,
                      "%s: cannot find the matching labels file (expected x_NAME.npy beside y_NAME.npy, or "
                      "images in the name where labels.npy has labels)",
                      path);
    ds->format = SML_FORMAT_NPY;
    snprintf(ds->source, sizeof ds->source, "NumPy .npy");
    return sml_npy_probe(split, path, NULL, labels, NULL, err);
  }
  if (memcmp(magic, "PK\x03\x04", 4) == 0 || memcmp(magic, "PK\x05\x06", 4) == 0) {
    ds->format = SML_FORMAT_NPY;
    snprintf(ds->source, sizeof ds->source, "NumPy .npz");
    for (int names = 0; names < 2; names++)
      if (sml_npz_has(path, npz_names[names][0]))
        return sml_npy_probe(split, path, npz_names[names][0], path, npz_names[names][1], err);
    return sml_fail(err, SML_EINPUT,
                    "%s: a .npz without x_train/y_train (Keras' names) or train_images/train_labels arrays", path);
  }
  if (has_suffix(path, ".bin")) {
    char files[1][SML_PATH_LEN];
    snprintf(files[0], SML_PATH_LEN, "%s", path);
    ds->format = SML_FORMAT_CIFAR;
    set_cifar_identity(ds, ".");
    return sml_cifar_probe(split, files, 1, err);
  }
  if ((magic[0] == 0x1f && magic[1] == 0x8b) || (magic[0] == 0 && magic[1] == 0)) {
    char labels[SML_PATH_LEN];
    if (!idx_labels_for(path, labels))
      return sml_fail(err, SML_EINPUT,
                      "%s: cannot find the matching labels file (expected the name with "
                      "'images-idx3' replaced by 'labels-idx1')",
                      path);
    ds->format = SML_FORMAT_IDX;
    set_idx_identity(ds, path);
    return sml_idx_probe(split, path, labels, err);
  }
  return sml_fail(err, SML_EINPUT, "%s: unknown format (expected IDX [.gz], CIFAR-10 .bin, HDF5, .npy or .npz)", path);
}

/* Finds a single .h5/.hdf5 file in dir, if there is exactly one. */
static int find_single_h5(const char *dir, char *out) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (has_suffix(e->d_name, ".h5") || has_suffix(e->d_name, ".hdf5")) {
      if (found++ == 0) snprintf(out, SML_PATH_LEN, "%s/%s", dir, e->d_name);
    }
  }
  closedir(d);
  return found == 1;
}

static int probe_dir(sml_dataset *ds, const char *dir, sml_err *err) {
  char img[SML_PATH_LEN], lab[SML_PATH_LEN];
  if (find_maybe_gz(dir, "train-images-idx3-ubyte", img)) {
    if (!find_maybe_gz(dir, "train-labels-idx1-ubyte", lab))
      return sml_fail(err, SML_EINPUT, "%s: has train-images-idx3-ubyte but no train-labels-idx1-ubyte[.gz]", dir);
    ds->format = SML_FORMAT_IDX;
    set_idx_identity(ds, dir);
    SML_TRY(sml_idx_probe(&ds->train_src, img, lab, err));
    if (find_maybe_gz(dir, "t10k-images-idx3-ubyte", img)) {
      if (!find_maybe_gz(dir, "t10k-labels-idx1-ubyte", lab))
        return sml_fail(err, SML_EINPUT, "%s: has t10k-images-idx3-ubyte but no t10k-labels-idx1-ubyte[.gz]", dir);
      SML_TRY(sml_idx_probe(&ds->test_src, img, lab, err));
    }
    return SML_OK;
  }
  char batches[SML_MAX_SPLIT_FILES][SML_PATH_LEN];
  int nb = 0;
  for (int i = 1; i <= 5; i++) {
    snprintf(batches[nb], SML_PATH_LEN, "%s/data_batch_%d.bin", dir, i);
    if (!is_file(batches[nb])) break;
    nb++;
  }
  if (nb > 0) {
    ds->format = SML_FORMAT_CIFAR;
    set_cifar_identity(ds, dir);
    SML_TRY(sml_cifar_probe(&ds->train_src, batches, nb, err));
    snprintf(batches[0], SML_PATH_LEN, "%s/test_batch.bin", dir);
    if (is_file(batches[0])) SML_TRY(sml_cifar_probe(&ds->test_src, batches, 1, err));
    return SML_OK;
  }
  snprintf(img, sizeof img, "%s/x_train.npy", dir);
  if (is_file(img)) {
    SML_TRY(probe_file(ds, &ds->train_src, img, err));
    snprintf(img, sizeof img, "%s/x_test.npy", dir);
    if (is_file(img)) {
      if (!npy_labels_for(img, lab)) return sml_fail(err, SML_EINPUT, "%s: has x_test.npy but no y_test.npy", dir);
      SML_TRY(sml_npy_probe(&ds->test_src, img, NULL, lab, NULL, err));
    }
    return SML_OK;
  }
  char h5[SML_PATH_LEN];
  if (find_single_h5(dir, h5)) return probe_file(ds, &ds->train_src, h5, err);
  return sml_fail(err, SML_EINPUT,
                  "%s: no dataset found (looked for IDX train-images-idx3-ubyte[.gz], CIFAR-10 "
                  "data_batch_1.bin, x_train.npy, or a single .h5 file)",
                  dir);
}

/* Primary source: the training split and, when the source has one, the test split. */
static int probe_sources(sml_dataset *ds, const sml_data_options *opt, sml_err *err) {
  const char *path = opt->path ? opt->path : SML_DEFAULT_DATA_DIR;
  snprintf(ds->path, sizeof ds->path, "%s", path);
  struct stat st;
  if (stat(path, &st) != 0) {
    if (!opt->path)
      return sml_fail(err, SML_EINPUT,
                      "%s: default dataset not found; install it with 'apt-get install %s' "
                      "(jobs/setup-debian.sh does), or name another dataset",
                      path, SML_DEFAULT_DATA_PACKAGE);
    return sml_fail(err, SML_EINPUT, "%s: %s", path, strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    SML_TRY(probe_dir(ds, path, err));
  } else {
    SML_TRY(probe_file(ds, &ds->train_src, path, err));
    if (ds->format == SML_FORMAT_HDF5) {
      /* shardml's HDF5 file may hold its test split under /test. */
      sml_err ignore;
      if (sml_h5_probe(&ds->test_src, path, "/test", &ignore) != SML_OK) memset(&ds->test_src, 0, sizeof ds->test_src);
    }
    for (int names = 0; names < 2 && ds->format == SML_FORMAT_NPY && has_suffix(path, ".npz"); names++)
      if (sml_npz_has(path, npz_names[names][0]) && sml_npz_has(path, npz_names[names][2])) { /* its test split */
        SML_TRY(sml_npy_probe(&ds->test_src, path, npz_names[names][2], path, npz_names[names][3], err));
        break;
      }
  }
  if (opt->test_path) {
    sml_dataset other;
    memset(&other, 0, sizeof other);
    if (is_dir(opt->test_path))
      return sml_fail_quantity(err, SML_EINPUT, "test split", " %s: expected a file, not a directory", opt->test_path);
    SML_TRY(probe_file(&other, &ds->test_src, opt->test_path, err));
  }
  if (ds->format == SML_FORMAT_NPY) { /* numpy arrays carry no class names: 0 to the largest label */
    int train_max = -1, test_max = -1;
    SML_TRY(sml_npy_largest_label(&ds->train_src, &train_max, err));
    if (ds->test_src.count > 0 && ds->test_src.format == SML_FORMAT_NPY)
      SML_TRY(sml_npy_largest_label(&ds->test_src, &test_max, err));
    sml_classes_by_number(ds, train_max > test_max ? train_max : test_max);
  }
  ds->height = ds->train_src.height;
  ds->width = ds->train_src.width;
  ds->channels = ds->train_src.channels;
  if (ds->train_src.count == 0)
    return sml_fail(err, SML_EINPUT, "%s: the training split holds no images", ds->train_src.files[0]);
  if (ds->test_src.count > 0 &&
      (ds->test_src.height != ds->height || ds->test_src.width != ds->width || ds->test_src.channels != ds->channels))
    return sml_fail(err, SML_EINPUT, "%s: test images are %dx%dx%d but training images are %dx%dx%d",
                    ds->test_src.files[0], ds->test_src.height, ds->test_src.width, ds->test_src.channels, ds->height,
                    ds->width, ds->channels);
  return SML_OK;
}

/* ---------------------------------------------------------------- loading */

static void shard_alloc(sml_shard *sh, int64_t total, int64_t first, int64_t count, int64_t dim) {
  sh->total = total;
  sh->first = first;
  sh->count = count;
  sh->images = SML_ALLOC((size_t)(count * dim));
  sh->labels = SML_ALLOC((size_t)count);
}

static int check_labels(const sml_dataset *ds, const sml_split_source *src, const sml_shard *sh, int64_t split_offset,
                        sml_err *err) {
  for (int64_t i = 0; i < sh->count; i++) {
    if (sh->labels[i] >= ds->num_classes) {
      int64_t index = split_offset + sh->first + i;
      return sml_fail(err, SML_EINPUT, "%s: label %d of image %lld is out of range (%d classes)",
                      sml_split_file_of(src, index), sh->labels[i], (long long)index, ds->num_classes);
    }
  }
  return SML_OK;
}

static int validation_count(const sml_data_options *opt, int64_t n, int64_t *out, sml_err *err) {
  *out = 0;
  if (opt->val_count < 0)
    return sml_fail_quantity(err, SML_EINPUT, "validation size", " %lld: must not be negative",
                             (long long)opt->val_count);
  if (opt->val_fraction < 0 || opt->val_fraction >= 1)
    return sml_fail_quantity(err, SML_EINPUT, "validation size", " %g: a fraction must be in [0, 1)",
                             opt->val_fraction);
  int64_t v = opt->val_count > 0 ? opt->val_count : (int64_t)(opt->val_fraction * (double)n);
  if (v >= n)
    return sml_fail_quantity(err, SML_EINPUT, "validation size",
                             " %lld: leaves no training images (the training split has %lld)", (long long)v,
                             (long long)n);
  *out = v;
  return SML_OK;
}

static void shard_free(sml_shard *sh);

/* The training file's block [first, first + count) on this rank is read
 * whole and divided into training and validation images by the hold-out
 * rule, which needs every label of the file (one byte each: allgathered).
 * Within each split the images keep their file order, so this rank's part
 * of each is a contiguous range of that split's numbering. */
static void split_validation(sml_dataset *ds, const sml_data_options *opt, int64_t n_file, int64_t n_val,
                             const sml_shard *block, const sml_comm *c) {
  const int64_t dim = sml_dataset_dim(ds);
  uint8_t *labels = SML_ALLOC((size_t)n_file);
  int *part = SML_ALLOC((size_t)n_file * sizeof *part);
  sml_allgatherv_bytes(c, block->labels, block->count, labels);
  sml_split_holdout(&opt->split, labels, n_file, ds->num_classes, n_val, part);
  int64_t val_before = 0, val_in_block = 0;
  for (int64_t i = 0; i < block->first; i++) val_before += part[i];
  for (int64_t i = 0; i < block->count; i++) val_in_block += part[block->first + i];
  shard_alloc(&ds->train, n_file - n_val, block->first - val_before, block->count - val_in_block, dim);
  shard_alloc(&ds->val, n_val, val_before, val_in_block, dim);
  ds->train.count = ds->val.count = 0;
  for (int64_t i = 0; i < block->count; i++) {
    sml_shard *dst = part[block->first + i] ? &ds->val : &ds->train;
    memcpy(dst->images + dst->count * dim, block->images + i * dim, (size_t)dim);
    dst->labels[dst->count++] = block->labels[i];
  }
  uint8_t missing[SML_MAX_CLASSES];
  char split[96];
  sml_split_describe(&opt->split, split, sizeof split);
  for (int which = 1; which >= 0; which--) {
    const int lacking = sml_split_missing_classes(labels, part, n_file, which, ds->num_classes, missing);
    if (lacking > 0) {
      int k = 0;
      while (!missing[k]) k++;
      sml_log(c, "warning: the %s split (%s) lacks %d class(es) of the training file, e.g. %d (%s)",
              which ? "validation" : "training", split, lacking, k, ds->class_names[k]);
    }
  }
  free(labels);
  free(part);
}

/* This rank's block of the training file and its test shard: local work
 * only (no collective), so that a failure on one rank cannot leave the
 * others waiting in one. */
static int load_local(sml_dataset *ds, const sml_data_options *opt, const sml_comm *c, sml_shard *block, int64_t *n_val,
                      sml_err *err) {
  SML_TRY(probe_sources(ds, opt, err));
  if (opt->limit < 0)
    return sml_fail_quantity(err, SML_EINPUT, "subset", " %lld: must not be negative", (long long)opt->limit);
  /* More than the file holds is a mistake (a typo, the wrong file), not a
   * request for all of it: silently training on less than asked would hide it. */
  if (opt->limit > ds->train_src.count)
    return sml_fail_quantity(err, SML_EINPUT, "subset", " %lld: the training split of %s holds only %lld images",
                             (long long)opt->limit, ds->path, (long long)ds->train_src.count);
  const int64_t n_file = opt->limit > 0 ? opt->limit : ds->train_src.count;
  SML_TRY(validation_count(opt, n_file, n_val, err));
  const int64_t dim = sml_dataset_dim(ds);

  int64_t first, count;
  sml_block_range(n_file, c->rank, c->size, &first, &count);
  shard_alloc(block, n_file, first, count, dim);
  sml_read_range range = {block->first, block->count, block->images, block->labels};
  SML_TRY(sml_split_read(&ds->train_src, 1, &range, err));
  SML_TRY(check_labels(ds, &ds->train_src, block, 0, err));

  int64_t n_test = opt->load_test ? ds->test_src.count : 0;
  sml_block_range(n_test, c->rank, c->size, &first, &count);
  shard_alloc(&ds->test, n_test, first, count, dim);
  if (n_test > 0) {
    sml_read_range r = {ds->test.first, ds->test.count, ds->test.images, ds->test.labels};
    SML_TRY(sml_split_read(&ds->test_src, 1, &r, err));
    SML_TRY(check_labels(ds, &ds->test_src, &ds->test, 0, err));
  }
  return SML_OK;
}

int sml_dataset_load(sml_dataset *ds, const sml_data_options *opt, const sml_comm *c, sml_err *err) {
  memset(ds, 0, sizeof *ds);
  sml_shard block = {0};
  int64_t n_val = 0;
  ds->split = opt->split;
  int st = sml_agree(c, load_local(ds, opt, c, &block, &n_val, err), err);
  if (st == SML_OK && n_val > 0) {
    split_validation(ds, opt, block.total, n_val, &block, c); /* collective */
    shard_free(&block);
  } else if (st == SML_OK) {
    ds->train = block; /* no validation: the block is the training shard */
    shard_alloc(&ds->val, 0, 0, 0, sml_dataset_dim(ds));
  } else {
    shard_free(&block);
    sml_dataset_free(ds);
  }
  return st;
}

static void shard_free(sml_shard *sh) {
  free(sh->images);
  free(sh->labels);
  memset(sh, 0, sizeof *sh);
}

void sml_dataset_free(sml_dataset *ds) {
  shard_free(&ds->train);
  shard_free(&ds->val);
  shard_free(&ds->test);
}

uint64_t sml_dataset_label_checksum(const sml_dataset *ds, const sml_comm *c) {
  uint64_t sum[1] = {0};
  for (int64_t i = 0; i < ds->train.count; i++)
    sum[0] += sml_mix64((uint64_t)(ds->train.first + i) * 0x100u + ds->train.labels[i]);
  for (int64_t i = 0; i < ds->val.count; i++)
    sum[0] += sml_mix64((uint64_t)(ds->train.total + ds->val.first + i) * 0x100u + ds->val.labels[i] + 0x5a5a);
  sml_allreduce_sum_u64(c, sum, 1);
  return sum[0];
}
