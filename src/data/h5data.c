/* shardml's HDF5 dataset layout (documented in docs/reference.md):
 *   /images        uint8 [N, H, W, C]   training split
 *   /labels        uint8 [N]
 *   /test/images   uint8 [M, H, W, C]   optional test split
 *   /test/labels   uint8 [M]
 *   attributes on /: class_names (variable-length strings), source (string),
 *                    shardml_layout (int, 1)
 * and what h5py users write: images [N, H, W] (one channel) of any integer
 * type with values 0-255, or floats in [0, 1] (scaled by 255 and rounded,
 * as ToTensor and Keras' /255 had scaled them); labels of any integer type;
 * no class_names (the classes are then 0 to the largest label, named by
 * number). Such arrays are converted block by block as they are read.
 * Each rank reads its block as a hyperslab with the default (sec2) driver:
 * independent reads keep a bad file on one rank from hanging a collective
 * open, and read-only opens from many processes are safe. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shardml/dataset.h"
#include "data/formats.h"
#include "io/io.h"

#define SML_H5_LAYOUT_VERSION 1

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static const char *layout_hint =
    "(shardml reads /images [N,H,W] or [N,H,W,C] of integers 0-255 or floats in [0,1], /labels [N] of integers)";

/* How a dataset's elements become bytes: read as they are (uint8), or
 * through doubles and checked (any other integer; floats, images only). */
typedef enum { ELEMENTS_U8, ELEMENTS_INTEGER, ELEMENTS_FLOAT } element_kind;

static element_kind element_kind_of(hid_t dset) {
  hid_t type = H5Dget_type(dset);
  const H5T_class_t cls = H5Tget_class(type);
  element_kind k = cls == H5T_FLOAT ? ELEMENTS_FLOAT : ELEMENTS_INTEGER;
  /* The sign too: int8 -1 read as uint8 would be class 255, never an error. */
  if (cls == H5T_INTEGER && H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE) k = ELEMENTS_U8;
  H5Tclose(type);
  return k;
}

static int check_type(hid_t dset, const char *path, const char *name, int is_labels, sml_err *err) {
  hid_t type = H5Dget_type(dset);
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  H5Tclose(type);
  if (cls == H5T_INTEGER && size <= 8) return SML_OK;
  if (cls == H5T_FLOAT && !is_labels && size <= 8) return SML_OK;
  return sml_fail(err, SML_EINPUT, "%s: %s holds %s, expected %s %s", path, name,
                  cls == H5T_FLOAT     ? "floats"
                  : cls == H5T_STRING  ? "strings"
                  : cls == H5T_INTEGER ? "integers wider than 64 bits"
                                       : "neither integers nor floats",
                  is_labels ? "integers" : "integers 0-255 or floats in [0, 1]", layout_hint);
}

/* Opens dataset `name`, checks its rank (min_rank to max_rank) and element
 * type, returns its rank and dims. */
static int open_checked(hid_t file, const char *path, const char *name, int min_rank, int max_rank, hsize_t *dims,
                        int *rank_out, hid_t *out, sml_err *err) {
  *out = H5I_INVALID_HID;
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
    return sml_fail(err, SML_EINPUT, "%s: no dataset %s %s", path, name, layout_hint);
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0) return sml_fail(err, SML_EINPUT, "%s: cannot open dataset %s", path, name);
  hid_t space = H5Dget_space(d);
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank >= min_rank && rank <= max_rank) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  int st = SML_OK;
  if (rank < min_rank || rank > max_rank)
    st = min_rank == max_rank
             ? sml_fail(err, SML_EINPUT, "%s: %s has rank %d, expected %d %s", path, name, rank, min_rank, layout_hint)
             : sml_fail(err, SML_EINPUT, "%s: %s has rank %d, expected %d to %d %s", path, name, rank, min_rank,
                        max_rank, layout_hint);
  *rank_out = rank;
  if (st == SML_OK) st = check_type(d, path, name, max_rank == 1, err);
  if (st != SML_OK) {
    H5Dclose(d);
    return st;
  }
  *out = d;
  return SML_OK;
}

static hid_t open_file(const char *path, sml_err *err) {
  quiet_hdf5();
  hid_t fapl = (hid_t)sml_h5_fapl();
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) sml_fail(err, SML_EINPUT, "%s: cannot open as HDF5", path);
  return f;
}

/* Unchunked storage (contiguous or compact) must hold every byte the shape
 * declares, and contiguous storage must lie inside the file: HDF5 reads a
 * contiguous dataset never written as fill values (zeros, silently) and a
 * compact one whose message is shorter than its shape past its buffer.
 * Chunked storage is checked chunk by chunk by HDF5 (and compressed sizes
 * say nothing about the shape). */
static int check_chunks(hid_t d, hid_t dcpl, const char *path, const char *name, sml_err *err);

static int check_storage(hid_t d, const char *path, const char *name, hsize_t bytes, sml_err *err) {
  if (bytes == 0) return SML_OK; /* nothing stored, nothing to read: not 'beyond the end of the file' */
  hid_t dcpl = H5Dget_create_plist(d);
  const H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
  if (layout == H5D_CHUNKED) {
    const int st = check_chunks(d, dcpl, path, name, err);
    H5Pclose(dcpl);
    return st;
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT) return SML_OK;
  const hsize_t stored = H5Dget_storage_size(d);
  if (stored < bytes)
    return sml_fail(err, SML_EINPUT, "%s: %s stores %llu bytes, its shape needs %llu (never written, or corrupt)", path,
                    name, (unsigned long long)stored, (unsigned long long)bytes);
  if (layout == H5D_CONTIGUOUS) {
    struct stat fs;
    const haddr_t offset = H5Dget_offset(d);
    if (stat(path, &fs) == 0 && (offset == HADDR_UNDEF || offset + bytes > (haddr_t)fs.st_size))
      return sml_fail(err, SML_EINPUT, "%s: %s lies beyond the end of the file (truncated or corrupt)", path, name);
  }
  return SML_OK;
}

/* Chunked storage: every chunk must be stored and lie inside the file, and
 * without filters hold exactly its shape's bytes. HDF5 1.10 trusts the
 * chunk index: a recorded size below the shape's makes it copy heap bytes
 * into the images (a corrupt or crafted file), and a chunk never written
 * reads as zeros. Compressed chunks decompress to their shape or fail. */
static int check_chunks(hid_t d, hid_t dcpl, const char *path, const char *name, sml_err *err) {
  hid_t space = H5Dget_space(d), type = H5Dget_type(d);
  hsize_t dims[4] = {0}, chunk[4] = {0}, at[4] = {0};
  const int rank = H5Sget_simple_extent_ndims(space);
  H5Sget_simple_extent_dims(space, dims, NULL);
  const int nfilters = H5Pget_nfilters(dcpl);
  hsize_t expect = H5Tget_size(type);
  H5Sclose(space);
  H5Tclose(type);
  if (rank < 1 || rank > 4 || H5Pget_chunk(dcpl, rank, chunk) != rank)
    return sml_fail(err, SML_EINPUT, "%s: %s: unreadable chunk layout (corrupt)", path, name);
  for (int k = 0; k < rank; k++) {
    if (chunk[k] == 0) return sml_fail(err, SML_EINPUT, "%s: %s: a chunk dimension of 0 (corrupt)", path, name);
    expect *= chunk[k];
  }
  struct stat fs;
  const haddr_t file_size = stat(path, &fs) == 0 ? (haddr_t)fs.st_size : HADDR_UNDEF;
  for (;;) { /* every chunk, by its first element's coordinates */
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(d, at, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF)
      return sml_fail(err, SML_EINPUT,
                      "%s: %s: the chunk at record %llu was never written (or the chunk index is "
                      "corrupt)",
                      path, name, (unsigned long long)at[0]);
    if (file_size != HADDR_UNDEF && (addr > file_size || size > file_size - addr))
      return sml_fail(err, SML_EINPUT,
                      "%s: %s: the chunk at record %llu lies beyond the end of the file (truncated or "
                      "corrupt)",
                      path, name, (unsigned long long)at[0]);
    if (nfilters == 0 && size != expect)
      return sml_fail(err, SML_EINPUT,
                      "%s: %s: the chunk at record %llu stores %llu bytes, its shape needs %llu "
                      "(corrupt chunk index)",
                      path, name, (unsigned long long)at[0], (unsigned long long)size, (unsigned long long)expect);
    int k = rank - 1;
    while (k >= 0 && (at[k] += chunk[k]) >= dims[k]) at[k--] = 0;
    if (k < 0) return SML_OK;
  }
}

static hsize_t element_size(hid_t dset) {
  hid_t type = H5Dget_type(dset);
  const hsize_t size = H5Tget_size(type);
  H5Tclose(type);
  return size;
}

static int probe_impl(sml_split_source *s, const char *path, const char *group, sml_err *err) {
  memset(s, 0, sizeof *s);
  s->format = SML_FORMAT_HDF5;
  hid_t f = open_file(path, err);
  if (f < 0) return SML_EINPUT;
  char iname[64], lname[64];
  snprintf(iname, sizeof iname, "%s/images", group);
  snprintf(lname, sizeof lname, "%s/labels", group);
  hsize_t idims[4] = {0, 0, 0, 1}, ldims[1] = {0};
  hid_t di = H5I_INVALID_HID, dl = H5I_INVALID_HID;
  int irank = 0, lrank = 0;
  int st = open_checked(f, path, iname, 3, 4, idims, &irank, &di, err);
  if (st == SML_OK) st = open_checked(f, path, lname, 1, 1, ldims, &lrank, &dl, err);
  if (st == SML_OK && ldims[0] != idims[0])
    st = sml_fail(err, SML_EINPUT, "%s: %s holds %llu labels but %s holds %llu images", path, lname,
                  (unsigned long long)ldims[0], iname, (unsigned long long)idims[0]);
  if (st == SML_OK) { /* the declared shape, against what the file can hold (compressed or not) */
    struct stat fs;
    const int64_t size = stat(path, &fs) == 0 ? (int64_t)fs.st_size : 0;
    st = sml_check_geometry(path, iname, (int64_t)idims[0], (int64_t)idims[1], (int64_t)idims[2], (int64_t)idims[3],
                            size, err);
  }
  if (st == SML_OK)
    st = check_storage(di, path, iname, idims[0] * idims[1] * idims[2] * idims[3] * element_size(di), err);
  if (st == SML_OK) st = check_storage(dl, path, lname, ldims[0] * element_size(dl), err);
  if (di >= 0) H5Dclose(di);
  if (dl >= 0) H5Dclose(dl);
  H5Fclose(f);
  if (st != SML_OK) return st;
  s->count = (int64_t)idims[0];
  s->height = (int)idims[1];
  s->width = (int)idims[2];
  s->channels = (int)idims[3];
  s->nfiles = 1;
  snprintf(s->files[0], SML_PATH_LEN, "%s", path);
  snprintf(s->h5_group, sizeof s->h5_group, "%s", group);
  return SML_OK;
}

static int read_string_attr(hid_t obj, const char *name, char *out, size_t outlen) {
  out[0] = '\0';
  if (H5Aexists(obj, name) <= 0) return -1;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t ftype = H5Aget_type(a);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_cset(t, H5Tget_cset(ftype));
  int is_vlen = H5Tis_variable_str(ftype) > 0;
  H5Tclose(ftype);
  if (!is_vlen) {
    H5Tclose(t);
    H5Aclose(a);
    return -1;
  }
  H5Tset_size(t, H5T_VARIABLE);
  char *value = NULL;
  int rc = H5Aread(a, t, &value);
  if (rc >= 0 && value) {
    snprintf(out, outlen, "%s", value);
    H5free_memory(value);
  }
  H5Tclose(t);
  H5Aclose(a);
  return rc < 0 ? -1 : 0;
}

/* Reads a 1-D string attribute (variable- or fixed-length, ASCII or UTF-8,
 * as h5py and C writers produce) into out[n][len]. Returns the count or -1. */
static int read_string_array(hid_t obj, const char *name, char (*out)[SML_CLASS_NAME_LEN], int max) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t ftype = H5Aget_type(a), space = H5Aget_space(a);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  int count = -1;
  if (H5Tget_class(ftype) == H5T_STRING && n >= 1 && n <= max) {
    hid_t mtype = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    if (H5Tis_variable_str(ftype) > 0) {
      H5Tset_size(mtype, H5T_VARIABLE);
      char **names = SML_CALLOC((size_t)n, sizeof *names);
      if (H5Aread(a, mtype, names) >= 0) {
        count = (int)n;
        for (hssize_t i = 0; i < n; i++)
          snprintf(out[i], SML_CLASS_NAME_LEN, "%.*s", SML_CLASS_NAME_LEN - 1, names[i] ? names[i] : "");
        H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, names);
      }
      free(names);
    } else {
      size_t len = H5Tget_size(ftype);
      H5Tset_size(mtype, len + 1);
      H5Tset_strpad(mtype, H5T_STR_NULLTERM);
      char *buf = SML_CALLOC((size_t)n, len + 1);
      if (H5Aread(a, mtype, buf) >= 0) {
        count = (int)n;
        for (hssize_t i = 0; i < n; i++)
          snprintf(out[i], SML_CLASS_NAME_LEN, "%.*s", SML_CLASS_NAME_LEN - 1, buf + (size_t)i * (len + 1));
      }
      free(buf);
    }
    H5Tclose(mtype);
  }
  H5Sclose(space);
  H5Tclose(ftype);
  H5Aclose(a);
  return count;
}

/* The rehearsal of a dataset file (src/io/h5vet.c): the probe, the class
 * names, and the first and last records, which is where corrupt storage
 * messages and vlen attributes make HDF5 crash or loop. */
static int rehearse_dataset(const char *path, void *arg, sml_err *err) {
  const char *group = arg;
  sml_split_source s;
  SML_TRY(probe_impl(&s, path, group, err));
  if (!group[0]) {
    sml_dataset ds;
    memset(&ds, 0, sizeof ds);
    SML_TRY(sml_h5_read_class_names(&ds, path, err));
  }
  const int64_t dim = (int64_t)s.height * s.width * s.channels, n = s.count < 16 ? s.count : 16;
  uint8_t *images = malloc((size_t)(2 * n * dim) + 1), *labels = malloc((size_t)(2 * n) + 1);
  if (!images || !labels) {
    free(images);
    free(labels);
    return SML_OK;
  }
  sml_read_range r[2] = {{.first = 0, .count = n, .images = images, .labels = labels},
                         {.first = s.count - n, .count = n, .images = images + n * dim, .labels = labels + n}};
  const int st = sml_h5_read(&s, s.count > 2 * n ? 2 : 1, r, err);
  free(images);
  free(labels);
  return st;
}

int sml_h5_probe(sml_split_source *s, const char *path, const char *group, sml_err *err) {
  SML_TRY(sml_h5_vet(path, "dataset", rehearse_dataset, (void *)group, err));
  return probe_impl(s, path, group, err);
}

/* Records [first, first + count) of dataset d (rank 1, 3 or 4, elements
 * of `record` values each) into dst as bytes: uint8 straight in; other
 * types through doubles, a block at a time, checked (integers 0-255; floats
 * in [0, 1], scaled by 255 and rounded). */
static int read_records(hid_t d, const char *path, const char *name, int is_labels, int64_t first, int64_t count,
                        int64_t record, uint8_t *dst, sml_err *err) {
  hid_t fspace = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(fspace);
  hsize_t dims[4] = {0};
  H5Sget_simple_extent_dims(fspace, dims, NULL);
  const element_kind kind = element_kind_of(d);
  const int64_t block = kind == ELEMENTS_U8 ? count : (int64_t)(1 << 20) / record + 1; /* about 8 MB of doubles */
  double *values =
      kind == ELEMENTS_U8 ? NULL : SML_ALLOC((size_t)((block < count ? block : count) * record + 1) * sizeof(double));
  int st = SML_OK;
  for (int64_t at = first; at < first + count && st == SML_OK; at += block) {
    const int64_t n = first + count - at < block ? first + count - at : block;
    hsize_t start[4] = {(hsize_t)at, 0, 0, 0}, shape[4] = {(hsize_t)n, dims[1], dims[2], dims[3]};
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, shape, NULL);
    hid_t mspace = H5Screate_simple(rank, shape, NULL);
    uint8_t *out = dst + (at - first) * record;
    if (H5Dread(d, kind == ELEMENTS_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT,
                kind == ELEMENTS_U8 ? (void *)out : (void *)values) < 0)
      st = sml_fail(err, SML_EINPUT, "%s: cannot read %s records [%lld, %lld): file corrupt?", path, name,
                    (long long)at, (long long)(at + n));
    H5Sclose(mspace);
    const int64_t bad = st == SML_OK && kind != ELEMENTS_U8
                            ? sml_values_to_bytes(values, n * record, kind == ELEMENTS_FLOAT, is_labels, out)
                            : -1;
    if (bad >= 0)
      st =
          sml_fail(err, SML_EINPUT, "%s: %s record %lld holds %.9g, expected %s", path, name,
                   (long long)(at + bad / record), values[bad], sml_values_expected(kind == ELEMENTS_FLOAT, is_labels));
  }
  free(values);
  H5Sclose(fspace);
  return st;
}

/* Without class_names: the classes are 0 to the largest label of either
 * split, each named by its number. */
static int classes_from_labels(hid_t f, const char *path, sml_dataset *ds, sml_err *err) {
  int largest = -1, st = SML_OK;
  for (int split = 0; split < 2 && st == SML_OK; split++) {
    const char *name = split ? "/test/labels" : "/labels";
    if (split && H5Lexists(f, "/test", H5P_DEFAULT) <= 0) break;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) break; /* the probe says what is missing */
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) break;
    hid_t space = H5Dget_space(d);
    hsize_t n = 0;
    if (H5Sget_simple_extent_ndims(space) == 1) H5Sget_simple_extent_dims(space, &n, NULL);
    H5Sclose(space);
    uint8_t *labels = SML_ALLOC((size_t)n + 1);
    st = read_records(d, path, name, 1, 0, (int64_t)n, 1, labels, err);
    for (hsize_t i = 0; st == SML_OK && i < n; i++) largest = labels[i] > largest ? labels[i] : largest;
    free(labels);
    H5Dclose(d);
  }
  if (st != SML_OK) return st;
  if (largest < 0) return sml_fail(err, SML_EINPUT, "%s: no labels to count the classes by %s", path, layout_hint);
  sml_classes_by_number(ds, largest);
  return SML_OK;
}

int sml_h5_read_class_names(sml_dataset *ds, const char *path, sml_err *err) {
  hid_t f = open_file(path, err);
  if (f < 0) return SML_EINPUT;
  int st = SML_OK;
  if (H5Aexists(f, "class_names") <= 0) {
    st = classes_from_labels(f, path, ds, err);
  } else {
    int n = read_string_array(f, "class_names", ds->class_names, SML_MAX_CLASSES);
    if (n < 1) st = sml_fail(err, SML_EINPUT, "%s: class_names must be 1 to %d strings", path, SML_MAX_CLASSES);
    else ds->num_classes = n;
  }
  char source[sizeof ds->source];
  if (st == SML_OK && read_string_attr(f, "source", source, sizeof source) == 0)
    snprintf(ds->source, sizeof ds->source, "%s", source);
  H5Fclose(f);
  return st;
}

int sml_h5_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err) {
  hid_t f = open_file(s->files[0], err);
  if (f < 0) return SML_EINPUT;
  char names[2][64];
  snprintf(names[0], sizeof names[0], "%s/images", s->h5_group);
  snprintf(names[1], sizeof names[1], "%s/labels", s->h5_group);
  const int64_t image_bytes = (int64_t)s->height * s->width * s->channels;
  int st = SML_OK;
  for (int which = 0; which < 2 && st == SML_OK; which++) {
    hid_t d = H5Dopen2(f, names[which], H5P_DEFAULT);
    for (int i = 0; i < nranges && st == SML_OK; i++) {
      uint8_t *dst = which == 0 ? ranges[i].images : ranges[i].labels;
      if (!dst || ranges[i].count == 0) continue;
      st = read_records(d, s->files[0], names[which], which == 1, ranges[i].first, ranges[i].count,
                        which == 0 ? image_bytes : 1, dst, err);
    }
    H5Dclose(d);
  }
  H5Fclose(f);
  return st;
}

/* One uint8 dataset, chunked by blocks of `block` records along the first
 * dimension and deflated: a rank's hyperslab touches only its chunks, and
 * pixel data compresses well. Failures are remembered in the writer. */
static void write_u8(sml_h5_writer *w, const char *name, int rank, const hsize_t *dims, hsize_t block,
                     const uint8_t *data) {
  hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = (hid_t)sml_h5w_dcpl(rank, dims, 1, (int64_t)block, 4);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t d = H5Dcreate2((hid_t)w->file, name, H5T_NATIVE_UINT8, space, lcpl, dcpl, H5P_DEFAULT);
  if (d < 0 || (dims[0] > 0 && H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)) w->failed = 1;
  if (d >= 0) H5Dclose(d);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
}

static void write_split(sml_h5_writer *w, const char *group, const sml_dataset *ds, const sml_shard *sh) {
  char name[64];
  hsize_t idims[4] = {(hsize_t)sh->count, (hsize_t)ds->height, (hsize_t)ds->width, (hsize_t)ds->channels};
  snprintf(name, sizeof name, "%s/images", group);
  write_u8(w, name, 4, idims, 256, sh->images);
  snprintf(name, sizeof name, "%s/labels", group);
  write_u8(w, name, 1, idims, 65536, sh->labels);
}

int sml_h5_write_dataset(const sml_dataset *ds, const char *out_path, sml_err *err) {
  sml_h5_writer w;
  SML_TRY(sml_h5w_open(&w, out_path, err));
  const char *names[SML_MAX_CLASSES];
  for (int i = 0; i < ds->num_classes; i++) names[i] = ds->class_names[i];
  sml_h5w_attr_strings(&w, "class_names", names, ds->num_classes);
  sml_h5w_attr_string(&w, "source", ds->source);
  const int64_t version = SML_H5_LAYOUT_VERSION;
  sml_h5w_attr_i64s(&w, "shardml_layout", &version, 1);
  write_split(&w, "", ds, &ds->train);
  if (ds->test.total > 0) write_split(&w, "/test", ds, &ds->test);
  return sml_h5w_commit(&w, err);
}
