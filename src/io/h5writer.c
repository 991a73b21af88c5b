/* HDF5 writer for models, checkpoints and converted datasets. Errors are
 * remembered and reported once at commit, which keeps call sites linear.
 *
 * The file is built in memory (HDF5's core driver, no backing store) and
 * written to disk by shardml itself at commit, through the same temporary
 * name, fsync and rename as every other file: a full disk or an I/O error
 * is then one failed write(2) of ours, never a half-closed HDF5 file (which
 * HDF5 would try to close again at MPI_Finalize, and crash). Metadata uses
 * the 1.8 file format, whose object headers, superblock and indexes carry
 * checksums, and every dataset a Fletcher32 checksum, so that corruption
 * is an error on read; HDF5 1.8 and later read these files. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"

int64_t sml_h5_fapl(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, 0, 1);
  return fapl;
}

const char *sml_h5_version(void) {
  static char version[32];
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  snprintf(version, sizeof version, "%u.%u.%u", major, minor, release);
  return version;
}

int sml_h5_is_parallel(void) {
#ifdef H5_HAVE_PARALLEL
  return 1;
#else
  return 0;
#endif
}

/* The core driver's buffer, through HDF5's file-image callbacks, so that
 * the image left when the file closes (superblock final, checksums right)
 * is kept and written by shardml; H5Fget_file_image on an open file gives
 * a superblock whose checksum HDF5 1.10 then rejects. */
struct sml_h5_image {
  void *buf;    /* what the driver holds */
  size_t size;  /* its allocation */
  void *closed; /* the buffer released at close: the finished file */
};
static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
  (void)op;
  sml_h5_image *im = udata;
  im->buf = malloc(size ? size : 1);
  im->size = size;
  return im->buf;
}
static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata) {
  (void)op;
  (void)udata;
  return memcpy(dest, src, size);
}
static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
  (void)op;
  sml_h5_image *im = udata;
  void *p = realloc(ptr, size ? size : 1);
  if (p) {
    im->buf = p;
    im->size = size;
  }
  return p;
}
static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
  sml_h5_image *im = udata;
  if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr == im->buf) im->closed = ptr; /* keep it */
  else free(ptr);
  if (ptr == im->buf) im->buf = NULL;
  return 0;
}
static void *udata_copy(void *udata) { return udata; } /* one writer owns it */
static herr_t udata_free(void *udata) {
  (void)udata;
  return 0;
}

/* End of file recorded in a version 2 or 3 superblock (offset 28, little
 * endian): the file's true length within the driver's larger buffer. */
static int64_t superblock_eof(const unsigned char *b, size_t size) {
  if (size < 48 || memcmp(b, "\x89HDF\r\n\x1a\n", 8) != 0 || (b[8] != 2 && b[8] != 3) || b[9] != 8) return -1;
  uint64_t eof = 0;
  for (int i = 7; i >= 0; i--) eof = eof << 8 | b[28 + i];
  return eof <= size ? (int64_t)eof : -1;
}

int sml_h5w_open(sml_h5_writer *w, const char *path, sml_err *err) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(w->path, sizeof w->path, "%s", path);
  sml_temp_name(w->tmp, sizeof w->tmp, path);
  w->failed = 0;
  w->image = calloc(1, sizeof *w->image);
  if (!w->image) return sml_fail(err, SML_ERUNTIME, "%s: out of memory", w->tmp);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, (size_t)1 << 20, 0); /* in memory; written at commit */
  H5FD_file_image_callbacks_t cb = {image_malloc, image_memcpy, image_realloc, image_free,
                                    udata_copy,   udata_free,   w->image};
  H5Pset_file_image_callbacks(fapl, &cb);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
  hid_t f = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0) {
    free(w->image);
    w->image = NULL;
    return sml_fail(err, SML_ERUNTIME, "%s: cannot create an HDF5 file in memory", w->tmp);
  }
  w->file = f;
  return SML_OK;
}

int64_t sml_h5w_dcpl(int ndim, const unsigned long long *dims, int64_t elem_bytes, int64_t max_chunk_rows,
                     int deflate_level) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t chunk[8], rest = (hsize_t)elem_bytes;
  int empty = 0;
  for (int i = 0; i < ndim; i++) {
    chunk[i] = dims[i];
    empty |= dims[i] == 0;
    if (i > 0) rest *= dims[i];
  }
  if (empty) return dcpl; /* contiguous: nothing to checksum */
  /* Chunks of whole rows, below HDF5's 4 GB limit (64 MB here). */
  hsize_t rows = ((hsize_t)64 << 20) / (rest ? rest : 1);
  if (rows < 1) rows = 1;
  if (max_chunk_rows > 0 && rows > (hsize_t)max_chunk_rows) rows = (hsize_t)max_chunk_rows;
  if (chunk[0] > rows) chunk[0] = rows;
  H5Pset_chunk(dcpl, ndim, chunk);
  if (deflate_level > 0) H5Pset_deflate(dcpl, (unsigned)deflate_level);
  H5Pset_fletcher32(dcpl); /* last: it covers the bytes as stored, checked first on read */
  return dcpl;
}

/* A dataset of file type ftype from memory of type mtype; groups on the
 * path are created as needed. */
static void write_dataset(sml_h5_writer *w, const char *name, int ndim, const int64_t *shape, hid_t ftype, hid_t mtype,
                          const void *data) {
  hsize_t dims[8], count = 1;
  for (int i = 0; i < ndim; i++) count *= (dims[i] = (hsize_t)shape[i]);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = H5Screate_simple(ndim, dims, NULL);
  hid_t dcpl = (hid_t)sml_h5w_dcpl(ndim, dims, (int64_t)H5Tget_size(ftype), 0, 0);
  hid_t d = H5Dcreate2((hid_t)w->file, name, ftype, space, lcpl, dcpl, H5P_DEFAULT);
  if (d < 0 || (count > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)) w->failed = 1;
  if (d >= 0) H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Pclose(lcpl);
}

void sml_h5w_tensor(sml_h5_writer *w, const char *name, int ndim, const int64_t *shape, const float *data) {
  write_dataset(w, name, ndim, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}

static void write_attr(sml_h5_writer *w, const char *name, hid_t type, hid_t space, const void *buf) {
  if (H5Aexists((hid_t)w->file, name) > 0) H5Adelete((hid_t)w->file, name);
  hid_t a = H5Acreate2((hid_t)w->file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, type, buf) < 0) w->failed = 1;
  if (a >= 0) H5Aclose(a);
}

static hid_t string_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

void sml_h5w_attr_string(sml_h5_writer *w, const char *name, const char *value) {
  hid_t t = string_type(), s = H5Screate(H5S_SCALAR);
  write_attr(w, name, t, s, &value);
  H5Sclose(s);
  H5Tclose(t);
}

void sml_h5w_attr_strings(sml_h5_writer *w, const char *name, const char *const *values, int n) {
  hsize_t dim = (hsize_t)n;
  hid_t t = string_type(), s = H5Screate_simple(1, &dim, NULL);
  write_attr(w, name, t, s, values);
  H5Sclose(s);
  H5Tclose(t);
}

void sml_h5w_attr_double(sml_h5_writer *w, const char *name, double value) {
  hid_t s = H5Screate(H5S_SCALAR);
  write_attr(w, name, H5T_NATIVE_DOUBLE, s, &value);
  H5Sclose(s);
}

void sml_h5w_attr_i64s(sml_h5_writer *w, const char *name, const int64_t *values, int n) {
  hsize_t dim = (hsize_t)n;
  hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
  write_attr(w, name, H5T_NATIVE_INT64, s, values);
  H5Sclose(s);
}

int sml_h5w_commit(sml_h5_writer *w, sml_err *err) {
  /* Closing the in-memory file finishes its image (no disk I/O in HDF5,
   * so nothing there can fail half-way); image_free hands it over. */
  if (H5Fclose((hid_t)w->file) < 0) w->failed = 1;
  sml_h5_image *im = w->image;
  w->image = NULL;
  void *image = im->closed;
  const int64_t size = image ? superblock_eof(image, im->size) : -1;
  free(im->buf); /* only if the driver did not release it */
  free(im);
  if (w->failed || size <= 0) {
    free(image);
    return sml_fail(err, SML_ERUNTIME, "%s: cannot build the HDF5 file in memory", w->path);
  }
  /* Ours from here: temporary name, every byte written, fsync, rename. */
  sml_atomic_file a;
  int st = sml_atomic_open(&a, w->path, err);
  if (st == SML_OK) {
    if (fwrite(image, 1, (size_t)size, a.f) != (size_t)size) { /* ferror is set; commit reports it */
    }
    st = sml_atomic_commit(&a, err);
  }
  free(image);
  return st;
}

void sml_h5w_doubles(sml_h5_writer *w, const char *name, const double *data, int64_t n) {
  write_dataset(w, name, 1, &n, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data);
}
