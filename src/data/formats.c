/* What the format readers share (see data/formats.h): the geometry check
 * every header goes through, and reading a split whichever format holds it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "data/formats.h"

int sml_split_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err) {
  switch (s->format) {
    case SML_FORMAT_IDX:
      return sml_idx_read(s, nranges, ranges, err);
    case SML_FORMAT_CIFAR:
      return sml_cifar_read(s, nranges, ranges, err);
    case SML_FORMAT_HDF5:
      return sml_h5_read(s, nranges, ranges, err);
    case SML_FORMAT_NPY:
      return sml_npy_read(s, nranges, ranges, err);
  }
  return sml_fail(err, SML_ERUNTIME, "unknown dataset format");
}

const char *sml_split_file_of(const sml_split_source *s, int64_t index) {
  if (s->format == SML_FORMAT_IDX || s->format == SML_FORMAT_NPY) return s->files[1]; /* labels live there */
  if (s->format == SML_FORMAT_CIFAR) {
    for (int i = 0; i < s->nfiles; i++) {
      if (index < s->file_count[i]) return s->files[i];
      index -= s->file_count[i];
    }
  }
  return s->files[0];
}

int sml_check_geometry(const char *path, const char *what, int64_t count, int64_t height, int64_t width,
                       int64_t channels, int64_t file_size, sml_err *err) {
  const int64_t capacity = file_size * SML_GZIP_MAX_RATIO;
  if (count < 0) return sml_fail(err, SML_EINPUT, "%s: %s: image count %lld", path, what, (long long)count);
  if (height < 1 || height > SML_MAX_SIDE)
    return sml_fail(err, SML_EINPUT, "%s: %s: height %lld, expected 1 to %d", path, what, (long long)height,
                    SML_MAX_SIDE);
  if (width < 1 || width > SML_MAX_SIDE)
    return sml_fail(err, SML_EINPUT, "%s: %s: width %lld, expected 1 to %d", path, what, (long long)width,
                    SML_MAX_SIDE);
  if (channels < 1 || channels > 4)
    return sml_fail(err, SML_EINPUT, "%s: %s: %lld channels, expected 1 to 4", path, what, (long long)channels);
  const int64_t dim = height * width * channels; /* < 2^34: no overflow */
  int64_t bytes;
  if (__builtin_mul_overflow(count, dim, &bytes) || bytes > capacity)
    return sml_fail(err, SML_EINPUT,
                    "%s: %s: %lld images of %lldx%lldx%lld bytes, more than a file of %lld bytes can hold", path, what,
                    (long long)count, (long long)height, (long long)width, (long long)channels, (long long)file_size);
  return SML_OK;
}

int64_t sml_values_to_bytes(const double *values, int64_t n, int is_float, int is_labels, uint8_t *out) {
  for (int64_t i = 0; i < n; i++) {
    const double v = values[i];
    if (is_float && !is_labels && v >= 0 && v <= 1) out[i] = (uint8_t)lrint(v * 255);
    else if (!is_float && v >= 0 && v <= 255) out[i] = (uint8_t)v;
    else return i;
  }
  return -1;
}

const char *sml_values_expected(int is_float, int is_labels) {
  return is_labels ? "a class number 0-255" : is_float ? "floats in [0, 1]" : "integers 0-255";
}

void sml_classes_by_number(sml_dataset *ds, int largest_label) {
  ds->num_classes = largest_label + 1;
  for (int k = 0; k < ds->num_classes; k++) snprintf(ds->class_names[k], SML_CLASS_NAME_LEN, "%d", k);
}
