/* Edits one thing in an HDF5 file, as a corruption or a crafted file
 * would (tests only):
 *   h5poke FILE i64 NAME VALUE        root attribute NAME := one int64
 *   h5poke FILE f32 DATASET INDEX V   element INDEX of a float dataset := V
 *   h5poke FILE doubles DATASET N     DATASET := N doubles 1, 2, ..., N */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
  fprintf(stderr, "usage: h5poke FILE i64 NAME VALUE | f32 DATASET INDEX VALUE | doubles DATASET N\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 5) return usage();
  hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 1;
  int rc = 0;
  if (strcmp(argv[2], "i64") == 0) {
    const long long v = strtoll(argv[4], NULL, 0);
    if (H5Aexists(f, argv[3]) > 0) H5Adelete(f, argv[3]);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, argv[3], H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    rc = a < 0 || H5Awrite(a, H5T_NATIVE_LLONG, &v) < 0;
    H5Aclose(a);
    H5Sclose(s);
  } else if (strcmp(argv[2], "f32") == 0 && argc == 6) {
    hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    hsize_t index = (hsize_t)strtoull(argv[4], NULL, 10), one = 1, dims[8] = {0}, coord[8] = {0};
    const float v = strtof(argv[5], NULL);
    const int rank = H5Sget_simple_extent_ndims(s);
    if (rank < 1 || rank > 8) return 1;
    H5Sget_simple_extent_dims(s, dims, NULL);
    for (int i = rank - 1; i >= 0; i--) { /* the flat (row-major) index as coordinates */
      coord[i] = dims[i] ? index % dims[i] : 0;
      index = dims[i] ? index / dims[i] : 0;
    }
    H5Sselect_none(s);
    H5Sselect_elements(s, H5S_SELECT_SET, 1, coord);
    hid_t m = H5Screate_simple(1, &one, NULL);
    rc = d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, m, s, H5P_DEFAULT, &v) < 0;
    H5Sclose(m);
    H5Sclose(s);
    H5Dclose(d);
  } else if (strcmp(argv[2], "doubles") == 0) {
    const hsize_t n = (hsize_t)strtoull(argv[4], NULL, 10);
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (hsize_t i = 0; i < n; i++) v[i] = (double)(i + 1);
    if (H5Lexists(f, argv[3], H5P_DEFAULT) > 0) H5Ldelete(f, argv[3], H5P_DEFAULT);
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, argv[3], H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
    H5Dclose(d);
    H5Sclose(s);
    free(v);
  } else {
    rc = usage();
  }
  H5Fclose(f);
  return rc;
}
