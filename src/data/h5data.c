/* shardml's HDF5 dataset layout (documented in README.md):
 *   /images        uint8 [N, H, W, C]   training split
 *   /labels        uint8 [N]
 *   /test/images   uint8 [M, H, W, C]   optional test split
 *   /test/labels   uint8 [M]
 *   attributes on /: class_names (variable-length strings), source (string),
 *                    shardml_layout (int, 1)
 * Each rank reads its block as a hyperslab with the default (sec2) driver:
 * independent reads keep a bad file on one rank from hanging a collective
 * open, and read-only opens from many processes are safe. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shardml/dataset.h"
#include "shardml/io.h"

#define SML_H5_LAYOUT_VERSION 1

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static const char *layout_hint =
    "(shardml's layout: /images uint8 [N,H,W,C], /labels uint8 [N], attribute class_names)";

static int check_uint8(hid_t dset, const char *path, const char *name, sml_err *err) {
  hid_t type = H5Dget_type(dset);
  int ok = H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1;
  H5Tclose(type);
  if (!ok) return sml_fail(err, SML_EINPUT, "%s: %s is not uint8 %s", path, name, layout_hint);
  return SML_OK;
}

/* Opens dataset `name`, checks its rank and element type, returns dims. */
static int open_checked(hid_t file, const char *path, const char *name, int want_rank,
                        hsize_t *dims, hid_t *out, sml_err *err) {
  *out = H5I_INVALID_HID;
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
    return sml_fail(err, SML_EINPUT, "%s: no dataset %s %s", path, name, layout_hint);
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0) return sml_fail(err, SML_EINPUT, "%s: cannot open dataset %s", path, name);
  hid_t space = H5Dget_space(d);
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank == want_rank) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  int st = SML_OK;
  if (rank != want_rank)
    st = sml_fail(err, SML_EINPUT, "%s: %s has rank %d, expected %d %s", path, name, rank,
                  want_rank, layout_hint);
  if (st == SML_OK) st = check_uint8(d, path, name, err);
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

int sml_h5_probe(sml_split_source *s, const char *path, const char *group, sml_err *err) {
  memset(s, 0, sizeof *s);
  s->format = SML_FORMAT_HDF5;
  hid_t f = open_file(path, err);
  if (f < 0) return SML_EINPUT;
  char iname[64], lname[64];
  snprintf(iname, sizeof iname, "%s/images", group);
  snprintf(lname, sizeof lname, "%s/labels", group);
  hsize_t idims[4] = {0}, ldims[1] = {0};
  hid_t di = H5I_INVALID_HID, dl = H5I_INVALID_HID;
  int st = open_checked(f, path, iname, 4, idims, &di, err);
  if (st == SML_OK) st = open_checked(f, path, lname, 1, ldims, &dl, err);
  if (st == SML_OK && ldims[0] != idims[0])
    st = sml_fail(err, SML_EINPUT, "%s: %s holds %llu labels but %s holds %llu images", path,
                  lname, (unsigned long long)ldims[0], iname, (unsigned long long)idims[0]);
  if (st == SML_OK && (idims[1] == 0 || idims[2] == 0 || idims[3] == 0 || idims[3] > 4))
    st = sml_fail(err, SML_EINPUT, "%s: %s has implausible image shape %llux%llux%llu", path,
                  iname, (unsigned long long)idims[1], (unsigned long long)idims[2],
                  (unsigned long long)idims[3]);
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

int sml_h5_read_class_names(sml_dataset *ds, const char *path, sml_err *err) {
  hid_t f = open_file(path, err);
  if (f < 0) return SML_EINPUT;
  int st = SML_OK;
  if (H5Aexists(f, "class_names") <= 0) {
    st = sml_fail(err, SML_EINPUT, "%s: missing attribute class_names on / %s", path, layout_hint);
  } else {
    int n = read_string_array(f, "class_names", ds->class_names, SML_MAX_CLASSES);
    if (n < 1)
      st = sml_fail(err, SML_EINPUT, "%s: class_names must be 1 to %d strings", path, SML_MAX_CLASSES);
    else
      ds->num_classes = n;
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
  int st = SML_OK;
  for (int which = 0; which < 2 && st == SML_OK; which++) {
    hid_t d = H5Dopen2(f, names[which], H5P_DEFAULT);
    hid_t fspace = H5Dget_space(d);
    for (int i = 0; i < nranges && st == SML_OK; i++) {
      uint8_t *dst = which == 0 ? ranges[i].images : ranges[i].labels;
      if (!dst || ranges[i].count == 0) continue;
      hsize_t start[4] = {(hsize_t)ranges[i].first, 0, 0, 0};
      hsize_t count[4] = {(hsize_t)ranges[i].count, (hsize_t)s->height, (hsize_t)s->width,
                          (hsize_t)s->channels};
      int rank = which == 0 ? 4 : 1;
      H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
      hid_t mspace = H5Screate_simple(rank, count, NULL);
      if (H5Dread(d, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, dst) < 0)
        st = sml_fail(err, SML_EINPUT, "%s: cannot read %s records [%lld, %lld): file corrupt?",
                      s->files[0], names[which], (long long)ranges[i].first,
                      (long long)(ranges[i].first + ranges[i].count));
      H5Sclose(mspace);
    }
    H5Sclose(fspace);
    H5Dclose(d);
  }
  H5Fclose(f);
  return st;
}

static int write_split(hid_t file, const char *group, const sml_dataset *ds, const sml_shard *sh) {
  char iname[64], lname[64];
  snprintf(iname, sizeof iname, "%s/images", group);
  snprintf(lname, sizeof lname, "%s/labels", group);
  hsize_t idims[4] = {(hsize_t)sh->count, (hsize_t)ds->height, (hsize_t)ds->width,
                      (hsize_t)ds->channels};
  hsize_t ldims[1] = {(hsize_t)sh->count};
  /* Chunked by image blocks and deflated: a rank's hyperslab touches only
   * its chunks, and pixel data compresses well. */
  hsize_t chunk[4] = {idims[0] < 256 ? (idims[0] ? idims[0] : 1) : 256, idims[1], idims[2], idims[3]};
  hsize_t lchunk[1] = {ldims[0] < 65536 ? (ldims[0] ? ldims[0] : 1) : 65536};
  int rc = 0;
  hid_t ispace = H5Screate_simple(4, idims, NULL), lspace = H5Screate_simple(1, ldims, NULL);
  hid_t ipl = H5Pcreate(H5P_DATASET_CREATE), lpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(ipl, 4, chunk);
  H5Pset_deflate(ipl, 4);
  H5Pset_chunk(lpl, 1, lchunk);
  H5Pset_deflate(lpl, 4);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t di = H5Dcreate2(file, iname, H5T_NATIVE_UINT8, ispace, lcpl, ipl, H5P_DEFAULT);
  hid_t dl = H5Dcreate2(file, lname, H5T_NATIVE_UINT8, lspace, lcpl, lpl, H5P_DEFAULT);
  if (di < 0 || dl < 0) rc = -1;
  if (rc == 0 && sh->count > 0) {
    if (H5Dwrite(di, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, sh->images) < 0) rc = -1;
    if (H5Dwrite(dl, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, sh->labels) < 0) rc = -1;
  }
  if (di >= 0) H5Dclose(di);
  if (dl >= 0) H5Dclose(dl);
  H5Pclose(lcpl);
  H5Pclose(ipl);
  H5Pclose(lpl);
  H5Sclose(ispace);
  H5Sclose(lspace);
  return rc;
}

static int write_string_attr(hid_t obj, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
  int rc = a >= 0 && H5Awrite(a, t, &value) >= 0 ? 0 : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  H5Tclose(t);
  return rc;
}

static int write_attrs(hid_t file, const sml_dataset *ds) {
  int rc = 0;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hsize_t n = (hsize_t)ds->num_classes;
  hid_t space = H5Screate_simple(1, &n, NULL);
  const char *names[SML_MAX_CLASSES];
  for (int i = 0; i < ds->num_classes; i++) names[i] = ds->class_names[i];
  hid_t a = H5Acreate2(file, "class_names", t, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, t, names) < 0) rc = -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  H5Tclose(t);
  if (write_string_attr(file, "source", ds->source) < 0) rc = -1;
  int version = SML_H5_LAYOUT_VERSION;
  hid_t s1 = H5Screate(H5S_SCALAR);
  hid_t av = H5Acreate2(file, "shardml_layout", H5T_NATIVE_INT, s1, H5P_DEFAULT, H5P_DEFAULT);
  if (av < 0 || H5Awrite(av, H5T_NATIVE_INT, &version) < 0) rc = -1;
  if (av >= 0) H5Aclose(av);
  H5Sclose(s1);
  return rc;
}

int sml_h5_write_dataset(const sml_dataset *ds, const char *out_path, sml_err *err) {
  quiet_hdf5();
  char tmp[SML_PATH_LEN + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", out_path, (int)getpid());
  hid_t fapl = (hid_t)sml_h5_fapl();
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0) return sml_fail(err, SML_ERUNTIME, "%s: cannot create", tmp);
  int rc = write_attrs(f, ds);
  if (rc == 0) rc = write_split(f, "", ds, &ds->train);
  if (rc == 0 && ds->test.total > 0) rc = write_split(f, "/test", ds, &ds->test);
  if (H5Fclose(f) < 0) rc = -1;
  if (rc == 0 && rename(tmp, out_path) != 0) rc = -1;
  if (rc != 0) {
    unlink(tmp);
    return sml_fail(err, SML_ERUNTIME, "%s: writing failed (disk full or no permission?)", out_path);
  }
  return SML_OK;
}
