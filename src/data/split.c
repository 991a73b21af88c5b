/* Folds and hold-out splits: see shardml/split.h. */
#include "shardml/split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shardml/dataset.h"
#include "shardml/error.h"
#include "base/rng.h"

const char *sml_split_mode_name(sml_split_mode mode) {
  return mode == SML_SPLIT_CONTIGUOUS ? "contiguous" : "stratified";
}

int sml_split_mode_parse(const char *s, sml_split_mode *mode) {
  if (strcasecmp(s, "stratified") == 0) *mode = SML_SPLIT_STRATIFIED;
  else if (strcasecmp(s, "contiguous") == 0) *mode = SML_SPLIT_CONTIGUOUS;
  else return -1;
  return 0;
}

void sml_split_describe(const sml_split_rule *rule, char *out, size_t len) {
  if (rule->shuffle)
    snprintf(out, len, "%s, shuffled with seed %llu", sml_split_mode_name(rule->mode), (unsigned long long)rule->seed);
  else snprintf(out, len, "%s, in file order", sml_split_mode_name(rule->mode));
}

/* Members of each class in file order: members[start[k] .. start[k+1]). */
static void class_members(const uint8_t *labels, int64_t n, int num_classes, int64_t *start, int64_t *members) {
  memset(start, 0, (size_t)(num_classes + 1) * sizeof *start);
  for (int64_t i = 0; i < n; i++) start[labels[i] + 1]++;
  for (int k = 0; k < num_classes; k++) start[k + 1] += start[k];
  int64_t *fill = SML_ALLOC((size_t)num_classes * sizeof *fill);
  memcpy(fill, start, (size_t)num_classes * sizeof *fill);
  for (int64_t i = 0; i < n; i++) members[fill[labels[i]]++] = i;
  free(fill);
}

/* A seeded random order of values[0..n): one stream per (seed, purpose k). */
static void shuffle_ints(int *values, int64_t n, uint64_t seed, uint64_t k) {
  sml_rng rng = sml_rng_stream(seed, SML_STREAM_SPLIT, k);
  for (int64_t i = n - 1; i > 0; i--) {
    const int64_t j = (int64_t)(sml_rng_next(&rng) % (uint64_t)(i + 1));
    const int t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
}

/* Contiguous blocks (larger first) of the file order, or of a seeded
 * permutation of it; block b of `parts` holds positions [first, first+count). */
static void contiguous_parts(const sml_split_rule *rule, int64_t n, int parts, const int64_t *sizes, int *part) {
  int *order = SML_ALLOC((size_t)(n > 0 ? n : 1) * sizeof *order);
  int64_t pos = 0;
  for (int b = 0; b < parts; b++)
    for (int64_t i = 0; i < sizes[b]; i++) order[pos++] = b;
  if (rule->shuffle) shuffle_ints(order, n, rule->seed, UINT64_MAX);
  memcpy(part, order, (size_t)n * sizeof *part);
  free(order);
}

/* How many positions p < x satisfy p % folds == f. */
static int64_t dealt_below(int64_t x, int f, int folds) { return x > f ? (x - f + folds - 1) / folds : 0; }

void sml_split_folds(const sml_split_rule *rule, const uint8_t *labels, int64_t n, int num_classes, int folds,
                     int *fold) {
  if (rule->mode == SML_SPLIT_CONTIGUOUS) {
    int64_t *sizes = SML_ALLOC((size_t)folds * sizeof *sizes), first;
    for (int f = 0; f < folds; f++) sml_block_range(n, f, folds, &first, &sizes[f]);
    contiguous_parts(rule, n, folds, sizes, fold);
    free(sizes);
    return;
  }
  int64_t *start = SML_ALLOC((size_t)(num_classes + 1) * sizeof *start);
  int64_t *members = SML_ALLOC((size_t)(n > 0 ? n : 1) * sizeof *members);
  class_members(labels, n, num_classes, start, members);
  /* scikit-learn orders the classes by first appearance, not by label, when
   * it sorts them: sorted position ranges follow that order. */
  int *by_appearance = SML_ALLOC((size_t)num_classes * sizeof *by_appearance), nseen = 0;
  uint8_t *seen = SML_CALLOC((size_t)num_classes, 1);
  for (int64_t i = 0; i < n; i++)
    if (!seen[labels[i]]) {
      seen[labels[i]] = 1;
      by_appearance[nseen++] = labels[i];
    }
  int *dealt = SML_ALLOC((size_t)(n > 0 ? n : 1) * sizeof *dealt);
  int64_t sorted_start = 0;
  for (int c = 0; c < nseen; c++) {
    /* Class k holds sorted positions [sorted_start, +size); position p is
     * dealt to fold p % folds. Its members receive those folds in fold
     * order, which is StratifiedKFold's allocation. */
    const int k = by_appearance[c];
    const int64_t size = start[k + 1] - start[k];
    int64_t count = 0;
    for (int f = 0; f < folds; f++) {
      const int64_t per_fold = dealt_below(sorted_start + size, f, folds) - dealt_below(sorted_start, f, folds);
      for (int64_t i = 0; i < per_fold; i++) dealt[count++] = f;
    }
    if (rule->shuffle) shuffle_ints(dealt, count, rule->seed, (uint64_t)k);
    for (int64_t i = 0; i < count; i++) fold[members[start[k] + i]] = dealt[i];
    sorted_start += size;
  }
  free(start);
  free(members);
  free(dealt);
  free(by_appearance);
  free(seen);
}

void sml_split_holdout(const sml_split_rule *rule, const uint8_t *labels, int64_t n, int num_classes, int64_t n_val,
                       int *part) {
  if (rule->mode == SML_SPLIT_CONTIGUOUS) {
    const int64_t sizes[2] = {n - n_val, n_val};
    contiguous_parts(rule, n, 2, sizes, part);
    return;
  }
  int64_t *start = SML_ALLOC((size_t)(num_classes + 1) * sizeof *start);
  int64_t *members = SML_ALLOC((size_t)(n > 0 ? n : 1) * sizeof *members);
  int64_t *share = SML_CALLOC((size_t)num_classes, sizeof *share);
  class_members(labels, n, num_classes, start, members);
  /* Largest remainders: floor(n_val n_k / n) each, then one more for the
   * classes with the largest fractional parts (the lower class on ties). */
  int64_t given = 0;
  for (int k = 0; k < num_classes; k++) {
    share[k] = n > 0 ? n_val * (start[k + 1] - start[k]) / n : 0;
    given += share[k];
  }
  while (given < n_val) {
    int best = -1;
    int64_t best_rem = -1;
    for (int k = 0; k < num_classes; k++) {
      const int64_t size = start[k + 1] - start[k], rem = n_val * size % n;
      if (share[k] < size && rem > best_rem && share[k] == n_val * size / n) best = k, best_rem = rem;
    }
    if (best < 0) /* every remainder used: any class with room */
      for (int k = 0; k < num_classes && best < 0; k++)
        if (share[k] < start[k + 1] - start[k]) best = k;
    share[best]++;
    given++;
  }
  int *dealt = SML_ALLOC((size_t)(n > 0 ? n : 1) * sizeof *dealt);
  for (int k = 0; k < num_classes; k++) {
    const int64_t size = start[k + 1] - start[k];
    for (int64_t i = 0; i < size; i++) dealt[i] = i >= size - share[k]; /* the class's last members */
    if (rule->shuffle) shuffle_ints(dealt, size, rule->seed, (uint64_t)k);
    for (int64_t i = 0; i < size; i++) part[members[start[k] + i]] = dealt[i];
  }
  free(start);
  free(members);
  free(share);
  free(dealt);
}

int sml_split_missing_classes(const uint8_t *labels, const int *part, int64_t n, int which, int num_classes,
                              uint8_t *missing) {
  uint8_t *present = SML_CALLOC((size_t)num_classes, 1);
  memset(missing, 0, (size_t)num_classes);
  for (int64_t i = 0; i < n; i++) {
    present[labels[i]] = 1;
    if (part[i] == which) missing[labels[i]] = 1; /* seen in the part, for now */
  }
  int count = 0;
  for (int k = 0; k < num_classes; k++) {
    missing[k] = present[k] && !missing[k];
    count += missing[k];
  }
  free(present);
  return count;
}
