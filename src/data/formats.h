/* The dataset formats' readers, inside the library: dataset.c finds the
 * files and calls them; each reader validates headers and sizes itself.
 * (The fuzz harnesses call them directly.) */
#ifndef SHARDML_FORMATS_H
#define SHARDML_FORMATS_H

#include <stdint.h>

#include "shardml/dataset.h"

/* A file's declared geometry, checked before anything is sized by it:
 * heights and widths in [1, 65535], 1 to 4 channels, and count images of
 * height x width x channels bytes within what a file of file_size bytes can
 * hold even compressed (zlib's largest ratio, 1032:1; exact sizes are the
 * readers' own checks). Overflow-free; SML_EINPUT naming the field. */
#define SML_MAX_SIDE 65535
#define SML_GZIP_MAX_RATIO 1032
int sml_check_geometry(const char *path, const char *what, int64_t count, int64_t height, int64_t width,
                       int64_t channels, int64_t file_size, sml_err *err);
int sml_idx_probe(sml_split_source *s, const char *images_path, const char *labels_path, sml_err *err);
int sml_cifar_probe(sml_split_source *s, char files[][SML_PATH_LEN], int nfiles, sml_err *err);
int sml_h5_probe(sml_split_source *s, const char *path, const char *group, sml_err *err);
int sml_h5_read_class_names(sml_dataset *ds, const char *path, sml_err *err);

/* Pixels and labels stored as other than uint8 (HDF5 and NumPy arrays of
 * any integer type, or float images) become bytes by one rule: integers
 * 0-255 as they are; float pixels in [0, 1] (as ToTensor and Keras' /255
 * leave them) scaled by 255 and rounded; labels integers 0-255. Returns
 * -1, or the index of the first value outside that rule. */
int64_t sml_values_to_bytes(const double *values, int64_t n, int is_float, int is_labels, uint8_t *out);
/* What the rule expects, for the error message naming such a value. */
const char *sml_values_expected(int is_float, int is_labels);
/* Classes of a file without names (NumPy arrays, HDF5 without class_names):
 * 0 to the largest label, each named by its number. */
void sml_classes_by_number(sml_dataset *ds, int largest_label);

/* NumPy: a .npy pair, or members of a .npz archive (stored or deflated).
 * member NULL: the path is a .npy file. Elements of any integer type, or
 * float images, as sml_values_to_bytes says; C order only. */
int sml_npy_probe(sml_split_source *s, const char *images_path, const char *images_member, const char *labels_path,
                  const char *labels_member, sml_err *err);
/* Whether the .npz archive at path holds member (e.g. "x_test.npy"). */
int sml_npz_has(const char *path, const char *member);
/* The largest label of the split (every label read and checked), or -1. */
int sml_npy_largest_label(const sml_split_source *s, int *largest, sml_err *err);

/* A range of records to read and where to put them (HWC images, labels). */
typedef struct {
  int64_t first, count;
  uint8_t *images; /* [count, H, W, C] */
  uint8_t *labels; /* [count] */
} sml_read_range;

/* Reads ranges of a split in one pass over its files; ranges must be in
 * ascending order and must not overlap (a gzip stream is read only once). */
int sml_split_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err);
int sml_idx_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err);
int sml_cifar_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err);
int sml_h5_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err);
int sml_npy_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err);
/* The file that holds record `index` of the split (for error messages). */
const char *sml_split_file_of(const sml_split_source *s, int64_t index);

#endif
