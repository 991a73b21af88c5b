/* src/data/: datasets: the formats, sharding over ranks, splits and folds, preprocessing. */
/* Datasets on disk (IDX, CIFAR-10 binary, shardml's HDF5 layout) and their
 * sharded, uint8 form in memory. */
#ifndef SHARDML_DATASET_H
#define SHARDML_DATASET_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/comm.h"
#include "shardml/error.h"
#include "shardml/split.h"

SHARDML_BEGIN_DECLS

#define SML_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define SML_DEFAULT_DATA_PACKAGE "dataset-fashion-mnist"
#define SML_MAX_CLASSES 256
#define SML_CLASS_NAME_LEN 48
#define SML_PATH_LEN 4096

typedef enum { SML_FORMAT_IDX, SML_FORMAT_CIFAR, SML_FORMAT_HDF5, SML_FORMAT_NPY } sml_format;
SHARDML_API const char *sml_format_name(sml_format f);

/* One split as it lies on disk: enough to read any range of its records. */
#define SML_MAX_SPLIT_FILES 8
typedef struct {
  sml_format format;
  int64_t count; /* records in the split */
  int height, width, channels;
  int nfiles; /* IDX, NPY: 2 (images, labels); CIFAR: batches; HDF5: 1 */
  char files[SML_MAX_SPLIT_FILES][SML_PATH_LEN];
  int64_t file_count[SML_MAX_SPLIT_FILES]; /* CIFAR: records per batch file */
  char h5_group[16];                       /* HDF5: "" for the training split, "/test" */
  /* NPY (a .npy pair, or members of a .npz): per file (images, labels),
   * where the array's bytes start in it, where its elements start among
   * those bytes (after the .npy header), its compressed size if it is a
   * deflated .npz member (0: stored as is), and its dtype ("<f4"). */
  int64_t npy_start[2], npy_data[2], npy_deflated[2];
  char npy_dtype[2][8];
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
  char path[SML_PATH_LEN]; /* the path the caller named */
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
SHARDML_API void sml_block_range(int64_t n, int rank, int size, int64_t *first, int64_t *count);

/* Collective over c: finds the dataset, validates it, and reads this rank's
 * block of the training file, which it divides into training and validation
 * images by opt->split (so both shards are contiguous ranges of their
 * split's numbering: the file order with the other split's images left
 * out), and its block of the test split. Failures on any
 * rank are agreed; on error every rank returns the same status and err. */
SHARDML_API int sml_dataset_load(sml_dataset *ds, const sml_data_options *opt, const sml_comm *c, sml_err *err);
SHARDML_API void sml_dataset_free(sml_dataset *ds);
SHARDML_API int64_t sml_dataset_dim(const sml_dataset *ds); /* height * width * channels */
/* Class k's name for figures and tables, or "class k" where the dataset has
 * none (an unnamed class, or a model with more classes than the data): the
 * dataset's string or buf. */
SHARDML_API const char *sml_class_name(const sml_dataset *ds, int k, char *buf, size_t len);

/* An order-sensitive checksum of the training and validation labels that
 * does not depend on how they are sharded (a sum of hashed (index, label)
 * pairs, allreduced). Checkpoints use it to recognise their dataset. */
SHARDML_API uint64_t sml_dataset_label_checksum(const sml_dataset *ds, const sml_comm *c);

/* Writes train (and test if present) in shardml's HDF5 layout, atomically
 * (temporary name, then rename). Local data only: call with full shards. */
SHARDML_API int sml_h5_write_dataset(const sml_dataset *ds, const char *out_path, sml_err *err);

SHARDML_END_DECLS

#endif
