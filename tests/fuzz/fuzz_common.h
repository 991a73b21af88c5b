/* Shared by the libFuzzer harnesses: the readers take paths, so each input
 * (or part of it) is written to a file of this process first. */
#ifndef SHARDML_FUZZ_COMMON_H
#define SHARDML_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shardml/dataset.h"
#include "data/formats.h"

/* Writes data to /tmp/shardml-fuzz-<pid>-<tag><suffix>; returns the path. */
static inline const char *fuzz_file(const char *tag, const char *suffix, const uint8_t *data, size_t n) {
  static char paths[4][256];
  static int next;
  char *p = paths[next++ % 4];
  snprintf(p, sizeof paths[0], "/tmp/shardml-fuzz-%d-%s%s", (int)getpid(), tag, suffix);
  FILE *f = fopen(p, "wb");
  if (!f) abort();
  if (n && fwrite(data, 1, n, f) != n) abort();
  fclose(f);
  return p;
}

/* The input split at its first 4 bytes (little endian: the length of the
 * first part, taken modulo the rest's length). */
static inline void fuzz_split(const uint8_t *data, size_t n, const uint8_t **a, size_t *na, const uint8_t **b,
                              size_t *nb) {
  if (n < 4) {
    *a = data;
    *na = n;
    *b = data + n;
    *nb = 0;
    return;
  }
  const size_t rest = n - 4, want = (size_t)(data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24);
  *na = rest ? want % (rest + 1) : 0;
  *a = data + 4;
  *b = data + 4 + *na;
  *nb = rest - *na;
}

/* Reads count records of s from first with reader into scratch buffers,
 * as a rank reads its block. */
static inline void fuzz_read(const sml_split_source *s, int64_t first, int64_t count,
                             int (*reader)(const sml_split_source *, int, const sml_read_range *, sml_err *)) {
  const int64_t dim = (int64_t)s->height * s->width * s->channels;
  uint8_t *images = malloc((size_t)(count * dim) + 1), *labels = malloc((size_t)count + 1);
  sml_read_range r = {.first = first, .count = count, .images = images, .labels = labels};
  sml_err err;
  reader(s, 1, &r, &err);
  free(images);
  free(labels);
}

#endif
