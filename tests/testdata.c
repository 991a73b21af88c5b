/* Writes the small datasets the tests use, good and bad, into one directory:
 *   idx_raw/ idx_gz/   IDX, 37 train + 11 test images of 5x6 (H != W catches transposes)
 *   cifar/             CIFAR-10 binary: data_batch_1 (20), data_batch_2 (17), test_batch (9)
 *   good.h5            shardml HDF5 layout, 23 train + 7 test images of 4x3x2, 3 classes
 *   sorted.h5          300 training images of 8x8 per class, stored class by class (as users who
 *                      build their own HDF5 files often do), 3 classes told apart by brightness,
 *                      and 30 test images; contiguous folds of it hold one class each
 *   bad_*              one defect each (see the names below)
 * Pixels come from a fixed LCG, so every run writes the same bytes. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static uint32_t lcg_state = 12345;
static uint8_t next_byte(void) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return (uint8_t)(lcg_state >> 24);
}

static void die(const char *what) {
  fprintf(stderr, "testdata: %s\n", what);
  exit(1);
}

static void be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Writes bytes to path, gzip-compressed if gz; only the first `keep` bytes
 * (to make truncated files). */
static void write_bytes(const char *path, const uint8_t *data, size_t n, int gz, size_t keep) {
  if (keep < n) n = keep;
  if (gz) {
    gzFile f = gzopen(path, "wb");
    if (!f || gzwrite(f, data, (unsigned)n) != (int)n) die(path);
    gzclose(f);
  } else {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) die(path);
    fclose(f);
  }
}

typedef struct {
  uint32_t images_magic, labels_magic;
  uint32_t n_images, n_labels; /* header counts */
  int bad_label_at;            /* -1: none */
  size_t truncate_images;      /* bytes kept, SIZE_MAX: all */
  int gz;
} idx_spec;

static void write_idx(const char *dir, const char *prefix, uint32_t n, uint32_t h, uint32_t w, idx_spec s) {
  char path[1024];
  size_t isize = 16 + (size_t)n * h * w, lsize = 8 + (size_t)s.n_labels;
  uint8_t *img = malloc(isize), *lab = malloc(lsize);
  be32(img, s.images_magic);
  be32(img + 4, s.n_images);
  be32(img + 8, h);
  be32(img + 12, w);
  for (size_t i = 16; i < isize; i++) img[i] = next_byte();
  be32(lab, s.labels_magic);
  be32(lab + 4, s.n_labels);
  for (uint32_t i = 0; i < s.n_labels; i++) lab[8 + i] = (uint8_t)(next_byte() % 10);
  if (s.bad_label_at >= 0) lab[8 + s.bad_label_at] = 12;
  const char *ext = s.gz ? ".gz" : "";
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, prefix, ext);
  write_bytes(path, img, isize, s.gz, s.truncate_images);
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, prefix, ext);
  write_bytes(path, lab, lsize, s.gz, SIZE_MAX);
  free(img);
  free(lab);
}

static idx_spec idx_ok(uint32_t n, int gz) {
  idx_spec s = {0x803, 0x801, n, n, -1, SIZE_MAX, gz};
  return s;
}

static void mkdir_in(char *out, const char *root, const char *name) {
  snprintf(out, 1024, "%s/%s", root, name);
  mkdir(out, 0755);
}

static void write_cifar(const char *path, int records, size_t extra_bytes) {
  size_t n = (size_t)records * 3073 + extra_bytes;
  uint8_t *buf = malloc(n);
  for (size_t i = 0; i < n; i++) buf[i] = next_byte();
  for (int r = 0; r < records; r++) buf[(size_t)r * 3073] %= 10;
  write_bytes(path, buf, n, 0, SIZE_MAX);
  free(buf);
}

static void h5_class_names(hid_t f);

static void h5_write_u8(hid_t f, const char *name, int rank, const hsize_t *dims) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= dims[i];
  uint8_t *buf = malloc(n);
  for (size_t i = 0; i < n; i++) buf[i] = rank == 1 ? (uint8_t)(next_byte() % 3) : next_byte();
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, name, H5T_NATIVE_UINT8, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (d < 0 || H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) die(name);
  H5Dclose(d);
  H5Sclose(sp);
  H5Pclose(lcpl);
  free(buf);
}

/* A dataset declared but never written (chunked, so nothing is allocated):
 * shapes no file could hold. */
static void h5_declare_u8(hid_t f, const char *name, int rank, const hsize_t *dims) {
  hsize_t chunk[4];
  for (int i = 0; i < rank; i++) chunk[i] = dims[i] < 16 ? dims[i] : 16;
  hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, rank, chunk);
  hid_t d = H5Dcreate2(f, name, H5T_NATIVE_UINT8, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0) die(name);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
}

/* A compact /images whose dataspace says 200 images while its raw data
 * holds 2 (as a corrupt or crafted file would): written consistently with
 * the oldest object-header format (no checksums), then the dimension patched
 * in the file's bytes. HDF5 itself would read past its buffer. */
static void write_compact_lie(const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[4] = {2, 4, 3, 2}, ldims[1] = {200};
  hid_t sp = H5Screate_simple(4, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_layout(dcpl, H5D_COMPACT);
  uint8_t pixels[48];
  for (int i = 0; i < 48; i++) pixels[i] = (uint8_t)i;
  hid_t d = H5Dcreate2(f, "/images", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0 || H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels) < 0) die(path);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  h5_write_u8(f, "/labels", 1, ldims);
  h5_class_names(f);
  H5Fclose(f);
  FILE *fp = fopen(path, "r+b");
  if (!fp) die(path);
  uint8_t buf[1 << 16];
  const size_t n = fread(buf, 1, sizeof buf, fp);
  const uint64_t want[4] = {2, 4, 3, 2};
  int patched = 0;
  for (size_t i = 0; i + 32 <= n; i++) {
    int hit = 1;
    for (int k = 0; k < 4 && hit; k++) {
      uint64_t v = 0;
      for (int b = 7; b >= 0; b--) v = v << 8 | buf[i + 8 * (size_t)k + (size_t)b];
      hit = v == want[k];
    }
    if (hit) {
      buf[i] = 200;
      patched++;
    }
  }
  if (!patched) die("compact_lie: dataspace not found");
  fseek(fp, 0, SEEK_SET);
  if (fwrite(buf, 1, n, fp) != n) die(path);
  fclose(fp);
}

/* Class k is bright around 60 + 70 k, plus noise: easy once a model has
 * seen every class, impossible for a fold that has not. */
static void write_sorted(const char *path) {
  enum { PER_CLASS = 300, TEST = 30, SIDE = 8 };
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  for (int split = 0; split < 2; split++) {
    const hsize_t n = split ? TEST : 3 * PER_CLASS, dims[4] = {n, SIDE, SIDE, 1};
    uint8_t *img = malloc(n * SIDE * SIDE), *lab = malloc(n);
    for (hsize_t i = 0; i < n; i++) {
      lab[i] = (uint8_t)(split ? i % 3 : i / PER_CLASS);
      for (int j = 0; j < SIDE * SIDE; j++)
        img[i * SIDE * SIDE + j] = (uint8_t)(60 + 70 * lab[i] + next_byte() % 51 - 25);
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(4, dims, NULL), sl = H5Screate_simple(1, dims, NULL);
    hid_t di = H5Dcreate2(f, split ? "/test/images" : "/images", H5T_NATIVE_UINT8, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dl = H5Dcreate2(f, split ? "/test/labels" : "/labels", H5T_NATIVE_UINT8, sl, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (di < 0 || dl < 0 || H5Dwrite(di, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, img) < 0 ||
        H5Dwrite(dl, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) < 0)
      die(path);
    H5Dclose(di);
    H5Dclose(dl);
    H5Sclose(sp);
    H5Sclose(sl);
    H5Pclose(lcpl);
    free(img);
    free(lab);
  }
  h5_class_names(f);
  H5Fclose(f);
}

static void h5_class_names(hid_t f) {
  const char *names[3] = {"circle", "square", "triangle"};
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  hsize_t n = 3;
  hid_t sp = H5Screate_simple(1, &n, NULL);
  hid_t a = H5Acreate2(f, "class_names", t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, names);
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

/* /labels as signed int8 holding -1 (one byte, like uint8, but not it). */
static void write_signed_labels(const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[4] = {3, 2, 2, 1}, ldims[1] = {3};
  h5_write_u8(f, "/images", 4, dims);
  const int8_t labels[3] = {0, -1, 1};
  hid_t sp = H5Screate_simple(1, ldims, NULL);
  hid_t d = H5Dcreate2(f, "/labels", H5T_STD_I8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d < 0 || H5Dwrite(d, H5T_NATIVE_SCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) < 0) die(path);
  H5Dclose(d);
  H5Sclose(sp);
  h5_class_names(f);
  H5Fclose(f);
}

/* An unfiltered chunked /images whose second chunk's index records 1 byte
 * where the chunk's shape needs 108 (a direct chunk write of a short
 * buffer, as a corrupt index would say): HDF5 1.10 copies 108 bytes from a
 * 1-byte buffer, heap bytes into the images. */
static void write_short_chunk(const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[4] = {6, 6, 6, 1}, chunk[4] = {3, 6, 6, 1}, ldims[1] = {6};
  hid_t sp = H5Screate_simple(4, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 4, chunk);
  hid_t d = H5Dcreate2(f, "/images", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  uint8_t pixels[108] = {0};
  const hsize_t first[4] = {0, 0, 0, 0}, second[4] = {3, 0, 0, 0};
  if (d < 0 || H5Dwrite_chunk(d, H5P_DEFAULT, 0, first, sizeof pixels, pixels) < 0 ||
      H5Dwrite_chunk(d, H5P_DEFAULT, 0, second, 1, pixels) < 0)
    die(path);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  h5_write_u8(f, "/labels", 1, ldims);
  h5_class_names(f);
  H5Fclose(f);
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: sml_testdata OUTDIR");
  const char *root = argv[1];
  mkdir(root, 0755);
  char d[1024], p[1100];

  mkdir_in(d, root, "idx_raw");
  write_idx(d, "train", 37, 5, 6, idx_ok(37, 0));
  write_idx(d, "t10k", 11, 5, 6, idx_ok(11, 0));
  lcg_state = 12345; /* same bytes, compressed */
  mkdir_in(d, root, "idx_gz");
  write_idx(d, "train", 37, 5, 6, idx_ok(37, 1));
  write_idx(d, "t10k", 11, 5, 6, idx_ok(11, 1));

  mkdir_in(d, root, "cifar");
  snprintf(p, sizeof p, "%s/data_batch_1.bin", d);
  write_cifar(p, 20, 0);
  snprintf(p, sizeof p, "%s/data_batch_2.bin", d);
  write_cifar(p, 17, 0);
  snprintf(p, sizeof p, "%s/test_batch.bin", d);
  write_cifar(p, 9, 0);

  snprintf(p, sizeof p, "%s/good.h5", root);
  hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t tr[4] = {23, 4, 3, 2}, trl[1] = {23}, te[4] = {7, 4, 3, 2}, tel[1] = {7};
  h5_write_u8(f, "/images", 4, tr);
  h5_write_u8(f, "/labels", 1, trl);
  h5_write_u8(f, "/test/images", 4, te);
  h5_write_u8(f, "/test/labels", 1, tel);
  h5_class_names(f);
  H5Fclose(f);
  snprintf(p, sizeof p, "%s/sorted.h5", root);
  write_sorted(p);

  /* Defects. */
  idx_spec s;
  mkdir_in(d, root, "bad_magic");
  s = idx_ok(37, 0);
  s.images_magic = 0x804;
  write_idx(d, "train", 37, 5, 6, s);
  mkdir_in(d, root, "bad_truncated_raw");
  s = idx_ok(37, 0);
  s.truncate_images = 16 + 30 * 5 * 6 + 7;
  write_idx(d, "train", 37, 5, 6, s);
  mkdir_in(d, root, "bad_truncated_gz");
  s = idx_ok(37, 1);
  s.truncate_images = 16 + 30 * 5 * 6 + 7;
  write_idx(d, "train", 37, 5, 6, s);
  mkdir_in(d, root, "bad_truncated_labels");
  s = idx_ok(37, 0);
  s.n_labels = 30;
  write_idx(d, "train", 37, 5, 6, s);
  /* header says 37 labels but only 30 stored: rewrite the header count */
  snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", d);
  {
    FILE *lf = fopen(p, "r+b");
    uint8_t b[4];
    be32(b, 37);
    fseek(lf, 4, SEEK_SET);
    fwrite(b, 1, 4, lf);
    fclose(lf);
  }
  mkdir_in(d, root, "bad_count");
  s = idx_ok(37, 0);
  s.n_labels = 36;
  write_idx(d, "train", 37, 5, 6, s);
  mkdir_in(d, root, "bad_label");
  s = idx_ok(37, 0);
  s.bad_label_at = 35;
  write_idx(d, "train", 37, 5, 6, s);
  mkdir_in(d, root, "bad_cifar_size");
  snprintf(p, sizeof p, "%s/data_batch_1.bin", d);
  write_cifar(p, 3, 5);
  mkdir_in(d, root, "empty");

  snprintf(p, sizeof p, "%s/bad_no_images.h5", root);
  f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  h5_write_u8(f, "/labels", 1, trl);
  h5_class_names(f);
  H5Fclose(f);
  /* Headers announcing more than any file holds (sizes that overflow when
   * multiplied), raw and gzip. */
  for (int gz = 0; gz < 2; gz++) {
    mkdir_in(d, root, gz ? "bad_huge_idx_gz" : "bad_huge_idx");
    uint8_t hdr[116] = {0};
    be32(hdr, 0x803);
    be32(hdr + 4, 0xFFFFFFFFu);
    be32(hdr + 8, 65535);
    be32(hdr + 12, 65535);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", d, gz ? ".gz" : "");
    write_bytes(p, hdr, sizeof hdr, gz, SIZE_MAX);
    be32(hdr, 0x801);
    be32(hdr + 4, 0xFFFFFFFFu);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte%s", d, gz ? ".gz" : "");
    write_bytes(p, hdr, 8, gz, SIZE_MAX);
  }
  snprintf(p, sizeof p, "%s/bad_huge_count.h5", root);
  f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t huge[4] = {(hsize_t)1 << 40, 28, 28, 1}, huge_labels[1] = {(hsize_t)1 << 40};
  h5_declare_u8(f, "/images", 4, huge);
  h5_declare_u8(f, "/labels", 1, huge_labels);
  h5_class_names(f);
  H5Fclose(f);
  snprintf(p, sizeof p, "%s/bad_tall.h5", root);
  f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t tall[4] = {10, ((hsize_t)1 << 31) + 1, 1, 1}, tall_labels[1] = {10};
  h5_declare_u8(f, "/images", 4, tall);
  h5_declare_u8(f, "/labels", 1, tall_labels);
  h5_class_names(f);
  H5Fclose(f);
  /* /images declared (contiguous) but never written: HDF5 would read zeros. */
  snprintf(p, sizeof p, "%s/bad_unwritten.h5", root);
  f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  {
    const hsize_t dims[4] = {23, 4, 3, 2};
    hid_t sp = H5Screate_simple(4, dims, NULL);
    hid_t unwritten = H5Dcreate2(f, "/images", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (unwritten < 0) die("bad_unwritten.h5");
    H5Dclose(unwritten);
    H5Sclose(sp);
  }
  h5_write_u8(f, "/labels", 1, trl);
  h5_class_names(f);
  H5Fclose(f);
  snprintf(p, sizeof p, "%s/bad_compact_lie.h5", root);
  write_compact_lie(p);
  snprintf(p, sizeof p, "%s/bad_signed_labels.h5", root);
  write_signed_labels(p);
  snprintf(p, sizeof p, "%s/bad_short_chunk.h5", root);
  write_short_chunk(p);
  snprintf(p, sizeof p, "%s/bad_rank.h5", root);
  f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t r2[2] = {23, 12}; /* flattened images: no height and width */
  h5_write_u8(f, "/images", 2, r2);
  h5_write_u8(f, "/labels", 1, trl);
  h5_class_names(f);
  H5Fclose(f);
  return 0;
}
