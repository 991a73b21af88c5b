/* Datasets on disk (IDX, CIFAR-10 binary, shardml's HDF5 layout) and their
 * sharded, uint8 form in memory. */
#ifndef SHARDML_DATASET_H
#define SHARDML_DATASET_H

#include <stdint.h>

#include "shardml/dist.h"
#include "shardml/error.h"
#include "shardml/split.h"

#define SML_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define SML_DEFAULT_DATA_PACKAGE "dataset-fashion-mnist"
#define SML_MAX_CLASSES 256
#define SML_CLASS_NAME_LEN 48
#define SML_PATH_LEN 4096

typedef enum { SML_FORMAT_IDX, SML_FORMAT_CIFAR, SML_FORMAT_HDF5 } sml_format;
const char *sml_format_name(sml_format f);

/* One split as it lies on disk: enough to read any range of its records. */
#define SML_MAX_SPLIT_FILES 8
typedef struct {
  sml_format format;
  int64_t count; /* records in the split */
  int height, width, channels;
  int nfiles; /* IDX: 2 (images, labels); CIFAR: batches; HDF5: 1 */
  char files[SML_MAX_SPLIT_FILES][SML_PATH_LEN];
  int64_t file_count[SML_MAX_SPLIT_FILES]; /* CIFAR: records per batch file */
  char h5_group[16];                       /* HDF5: "" for the training split, "/test" */
} sml_split_source;

/* This rank's block of one split. */
typedef struct {
  uint8_t *images; /* [count, height, width, channels], row-major, HWC */
  uint8_t *labels; /* [count] */
  int64_t count;   /* records held by this rank */
  int64_t first;   /* index of the first of them within the split */
  int64_t total;   /* records in the split over all ranks */
} sml_shard;

typedef struct {
  sml_format format;
  char path[SML_PATH_LEN]; /* what --data named */
  char source[256];        /* e.g. "Fashion-MNIST (IDX)" */
  int height, width, channels;
  int num_classes;
  char class_names[SML_MAX_CLASSES][SML_CLASS_NAME_LEN];
  sml_split_source train_src, test_src; /* test_src.count == 0: no test split */
  sml_shard train, val, test;
  sml_split_rule split; /* how validation and CV folds are chosen (from the options) */
} sml_dataset;

typedef struct {
  const char *path;      /* directory or file; NULL: SML_DEFAULT_DATA_DIR */
  const char *test_path; /* optional separate test split (file or directory) */
  int64_t val_count;     /* val_count training images validate... */
  double val_fraction;   /* ...or this fraction of them (used when val_count == 0) */
  sml_split_rule split;  /* which ones (zero: stratified, in file order); also the CV folds' rule */
  int load_test;         /* read the test split too */
  int64_t limit;         /* use only the first `limit` images of the training file (0: all) */
} sml_data_options;

/* Block decomposition: rank r of p holds [first, first+count) of n; block
 * sizes differ by at most one, larger blocks first. */
void sml_block_range(int64_t n, int rank, int size, int64_t *first, int64_t *count);

/* Collective over c: finds the dataset, validates it, and reads this rank's
 * block of the training file, which it divides into training and validation
 * images by opt->split (so both shards are contiguous ranges of their
 * split's numbering: the file order with the other split's images left
 * out), and its block of the test split. Failures on any
 * rank are agreed; on error every rank returns the same status and err. */
int sml_dataset_load(sml_dataset *ds, const sml_data_options *opt, const sml_comm *c, sml_err *err);
void sml_dataset_free(sml_dataset *ds);
int64_t sml_dataset_dim(const sml_dataset *ds); /* height * width * channels */
/* Class k's name for figures and tables, or "class k" where the dataset has
 * none (an unnamed class, or a model with more classes than the data): the
 * dataset's string or buf. */
const char *sml_class_name(const sml_dataset *ds, int k, char *buf, size_t len);

/* An order-sensitive checksum of the training and validation labels that
 * does not depend on how they are sharded (a sum of hashed (index, label)
 * pairs, allreduced). Checkpoints use it to recognise their dataset. */
uint64_t sml_dataset_label_checksum(const sml_dataset *ds, const sml_comm *c);

/* Format-level pieces (src/data/). Each validates headers and sizes. */
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
/* The file that holds record `index` of the split (for error messages). */
const char *sml_split_file_of(const sml_split_source *s, int64_t index);

/* Writes train (and test if present) in shardml's HDF5 layout, atomically
 * (temporary name, then rename). Local data only: call with full shards. */
int sml_h5_write_dataset(const sml_dataset *ds, const char *out_path, sml_err *err);

#endif
