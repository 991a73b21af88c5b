/* Reading models and checkpoints. */
#include <errno.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "io/io.h"

int sml_h5r_open(sml_h5_reader *r, const char *path, sml_err *err) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(r->path, sizeof r->path, "%s", path);
  struct stat st; /* a FIFO would block the open, and every rank with it */
  if (stat(path, &st) != 0) return sml_fail(err, SML_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) return sml_fail(err, SML_EINPUT, "%s: not a regular file", path);
  hid_t fapl = (hid_t)sml_h5_fapl();
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) return sml_fail(err, SML_EINPUT, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
  r->file = f;
  return SML_OK;
}

void sml_h5r_close(sml_h5_reader *r) { H5Fclose((hid_t)r->file); }

int sml_h5r_has(const sml_h5_reader *r, const char *name) {
  return H5Lexists((hid_t)r->file, name, H5P_DEFAULT) > 0 || H5Aexists((hid_t)r->file, name) > 0;
}

int sml_h5r_has_attr(const sml_h5_reader *r, const char *name) { return H5Aexists((hid_t)r->file, name) > 0; }

static int read_dataset(const sml_h5_reader *r, const char *name, hid_t memtype, void *out, int64_t max, int64_t *n,
                        int exact, sml_err *err) {
  if (H5Lexists((hid_t)r->file, name, H5P_DEFAULT) <= 0)
    return sml_fail(err, SML_EINPUT, "%s: no dataset %s", r->path, name);
  hid_t d = H5Dopen2((hid_t)r->file, name, H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  hssize_t count = H5Sget_simple_extent_npoints(s);
  int st = SML_OK;
  if (exact ? count != max : count > max)
    st = sml_fail(err, SML_EINPUT, "%s: %s has %lld values, expected %s%lld", r->path, name, (long long)count,
                  exact ? "" : "at most ", (long long)max);
  else if (count > 0 && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    st = sml_fail(err, SML_EINPUT, "%s: corrupt: cannot read %s (a checksum fails, or the file is truncated)", r->path,
                  name);
  if (n) *n = count;
  H5Sclose(s);
  H5Dclose(d);
  return st;
}

int sml_h5r_tensor(const sml_h5_reader *r, const char *name, float *out, int64_t n, sml_err *err) {
  return read_dataset(r, name, H5T_NATIVE_FLOAT, out, n, NULL, 1, err);
}

int sml_h5r_doubles(const sml_h5_reader *r, const char *name, double *out, int64_t max, int64_t *n, sml_err *err) {
  return read_dataset(r, name, H5T_NATIVE_DOUBLE, out, max, n, 0, err);
}

static hid_t open_attr(const sml_h5_reader *r, const char *name, sml_err *err) {
  if (H5Aexists((hid_t)r->file, name) <= 0) {
    sml_fail(err, SML_EINPUT, "%s: missing attribute %s (not a shardml model or checkpoint?)", r->path, name);
    return H5I_INVALID_HID;
  }
  return H5Aopen((hid_t)r->file, name, H5P_DEFAULT);
}

/* Elements in attribute a: HDF5 reads them all, so a crafted file with more
 * than the caller's room would write past it. */
static hssize_t attr_count(hid_t a) {
  hid_t s = H5Aget_space(a);
  const hssize_t count = s < 0 ? -1 : H5Sget_simple_extent_npoints(s);
  if (s >= 0) H5Sclose(s);
  return count;
}

int sml_h5r_attr_double(const sml_h5_reader *r, const char *name, double *out, sml_err *err) {
  hid_t a = open_attr(r, name, err);
  if (a < 0) return SML_EINPUT;
  int rc = attr_count(a) == 1 ? H5Aread(a, H5T_NATIVE_DOUBLE, out) : -1;
  H5Aclose(a);
  return rc < 0 ? sml_fail(err, SML_EINPUT, "%s: attribute %s: expected one number", r->path, name) : SML_OK;
}

int sml_h5r_attr_i64s(const sml_h5_reader *r, const char *name, int64_t *out, int max, int *n, sml_err *err) {
  hid_t a = open_attr(r, name, err);
  if (a < 0) return SML_EINPUT;
  const hssize_t count = attr_count(a);
  int rc = -1;
  if (count >= 1 && count <= max) rc = H5Aread(a, H5T_NATIVE_INT64, out);
  H5Aclose(a);
  if (rc < 0) return sml_fail(err, SML_EINPUT, "%s: attribute %s: expected 1 to %d integers", r->path, name, max);
  if (n) *n = (int)count;
  return SML_OK;
}

int sml_h5r_attr_string(const sml_h5_reader *r, const char *name, char *out, size_t len, sml_err *err) {
  hid_t a = open_attr(r, name, err);
  if (a < 0) return SML_EINPUT;
  hid_t ftype = H5Aget_type(a);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_cset(t, H5Tget_cset(ftype));
  H5Tset_size(t, H5T_VARIABLE);
  char *value = NULL;
  int rc = H5Tis_variable_str(ftype) > 0 && attr_count(a) == 1 ? H5Aread(a, t, &value) : -1;
  if (rc >= 0 && value) {
    snprintf(out, len, "%s", value);
    H5free_memory(value);
  }
  H5Tclose(t);
  H5Tclose(ftype);
  H5Aclose(a);
  return rc < 0 ? sml_fail(err, SML_EINPUT, "%s: attribute %s is not one string", r->path, name) : SML_OK;
}
