/* HDF5 writer for models and checkpoints. Errors are remembered and
 * reported once at commit, which keeps call sites linear. */
#include <hdf5.h>
#include <stdio.h>
#include <unistd.h>

#include "shardml/io.h"

int64_t sml_h5_fapl(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, 0, 1);
  return fapl;
}

int sml_h5w_open(sml_h5_writer *w, const char *path, sml_err *err) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(w->path, sizeof w->path, "%s", path);
  sml_temp_name(w->tmp, sizeof w->tmp, path);
  w->failed = 0;
  hid_t fapl = (hid_t)sml_h5_fapl();
  hid_t f = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0) return sml_fail(err, SML_ERUNTIME, "%s: cannot create", w->tmp);
  w->file = f;
  return SML_OK;
}

/* A dataset of file type ftype from memory of type mtype; groups on the
 * path are created as needed. */
static void write_dataset(sml_h5_writer *w, const char *name, int ndim, const int64_t *shape, hid_t ftype,
                          hid_t mtype, const void *data) {
  hsize_t dims[8], count = 1;
  for (int i = 0; i < ndim; i++) count *= (dims[i] = (hsize_t)shape[i]);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = H5Screate_simple(ndim, dims, NULL);
  hid_t d = H5Dcreate2((hid_t)w->file, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (d < 0 || (count > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)) w->failed = 1;
  if (d >= 0) H5Dclose(d);
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
  if (H5Fclose((hid_t)w->file) < 0) w->failed = 1;
  if (w->failed) {
    unlink(w->tmp);
    return sml_fail(err, SML_ERUNTIME, "%s: writing failed (disk full or no permission?)", w->path);
  }
  return sml_rename_into_place(w->tmp, w->path, err);
}

void sml_h5w_doubles(sml_h5_writer *w, const char *name, const double *data, int64_t n) {
  write_dataset(w, name, 1, &n, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data);
}
