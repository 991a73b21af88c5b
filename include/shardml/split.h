/* How samples are split into cross-validation folds and into training and
 * validation parts: stratified by default (every part has every class in
 * proportion, as scikit-learn's StratifiedKFold), optionally shuffled with a
 * seed, or contiguous blocks (KFold; the last N samples validate), the
 * behaviour of shardml before stratification.
 *
 * Every function here is a pure function of the global indices and the
 * labels (small: one byte per sample, allgathered once), so every rank and
 * every group computes the same split whatever the layout, and each rank
 * still reads only its own shard of the images. */
#ifndef SHARDML_SPLIT_H
#define SHARDML_SPLIT_H

#include "shardml/api.h"

#include <stddef.h>
#include <stdint.h>

SHARDML_BEGIN_DECLS

typedef enum { SML_SPLIT_STRATIFIED = 0, SML_SPLIT_CONTIGUOUS = 1 } sml_split_mode;

typedef struct {
  sml_split_mode mode;
  int shuffle;   /* members dealt to parts in a seeded random order */
  uint64_t seed; /* for shuffle */
} sml_split_rule;

SHARDML_API const char *sml_split_mode_name(sml_split_mode mode);
/* "stratified" or "contiguous" (any case); -1 if neither. */
SHARDML_API int sml_split_mode_parse(const char *s, sml_split_mode *mode);
/* "stratified, shuffled with seed 3" / "contiguous, in file order", for logs. */
SHARDML_API void sml_split_describe(const sml_split_rule *rule, char *out, size_t len);

/* fold[i] in [0, folds) for each of n samples (labels < num_classes).
 * Stratified without shuffle: exactly StratifiedKFold(folds).split's test
 * folds: sort the labels (classes in order of first appearance, as
 * scikit-learn encodes them), deal the sorted positions round-robin to the
 * folds, and give each class's members, in file order, the folds that class
 * was dealt. Contiguous: KFold blocks, larger first (with shuffle: blocks of
 * a seeded permutation). */
SHARDML_API void sml_split_folds(const sml_split_rule *rule, const uint8_t *labels, int64_t n, int num_classes,
                                 int folds, int *fold);

/* part[i] = 1 (validation) for n_val of the n samples, 0 for the others. Stratified:
 * n_val is shared among the classes in proportion to their sizes (largest
 * remainders first, the lower class on ties), and a class's share is its
 * last members in file order (with shuffle: seeded random members).
 * Contiguous: the last n_val samples (with shuffle: seeded random ones). */
SHARDML_API void sml_split_holdout(const sml_split_rule *rule, const uint8_t *labels, int64_t n, int num_classes,
                                   int64_t n_val, int *part);

/* The classes present among the n samples but absent from the part
 * part[i] == which (one flag per class in missing[num_classes]); returns
 * how many. For the warning a split that lacks a class deserves. */
SHARDML_API int sml_split_missing_classes(const uint8_t *labels, const int *part, int64_t n, int which, int num_classes,
                                          uint8_t *missing);

SHARDML_END_DECLS

#endif
