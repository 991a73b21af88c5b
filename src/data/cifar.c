/* CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes, the
 * pixels channel-planar (1024 R, 1024 G, 1024 B) at 32x32. shardml keeps
 * images interleaved (HWC) in memory, so records are transposed on load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shardml/dataset.h"
#include "data/formats.h"

#define CIFAR_SIDE 32
#define CIFAR_PLANE (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + 3 * CIFAR_PLANE)
#define CIFAR_CHUNK 1024 /* records per read */

int sml_cifar_probe(sml_split_source *s, char files[][SML_PATH_LEN], int nfiles, sml_err *err) {
  memset(s, 0, sizeof *s);
  s->format = SML_FORMAT_CIFAR;
  if (nfiles > SML_MAX_SPLIT_FILES)
    return sml_fail(err, SML_EINPUT, "%s: too many CIFAR batch files (at most %d)", files[0], SML_MAX_SPLIT_FILES);
  for (int i = 0; i < nfiles; i++) {
    struct stat st;
    if (stat(files[i], &st) != 0) return sml_fail(err, SML_EINPUT, "%s: cannot open: %s", files[i], strerror(errno));
    if (st.st_size == 0 || st.st_size % CIFAR_RECORD != 0)
      return sml_fail(err, SML_EINPUT,
                      "%s: size %lld is not a positive multiple of %d bytes "
                      "(CIFAR-10 record: 1 label byte + 3072 pixel bytes)",
                      files[i], (long long)st.st_size, CIFAR_RECORD);
    snprintf(s->files[i], SML_PATH_LEN, "%s", files[i]);
    s->file_count[i] = st.st_size / CIFAR_RECORD;
    s->count += s->file_count[i];
  }
  s->nfiles = nfiles;
  s->height = s->width = CIFAR_SIDE;
  s->channels = 3;
  return SML_OK;
}

/* Reads records [first, first+count) of one batch file. */
static int read_file_records(const char *path, int64_t first, int64_t count, uint8_t *images, uint8_t *labels,
                             sml_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return sml_fail(err, SML_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  uint8_t *chunk = SML_ALLOC((size_t)CIFAR_CHUNK * CIFAR_RECORD);
  int st = SML_OK;
  if (fseeko(f, (off_t)(first * CIFAR_RECORD), SEEK_SET) != 0)
    st = sml_fail(err, SML_EINPUT, "%s: cannot seek to record %lld", path, (long long)first);
  for (int64_t done = 0; st == SML_OK && done < count;) {
    int64_t n = count - done < CIFAR_CHUNK ? count - done : CIFAR_CHUNK;
    if (fread(chunk, CIFAR_RECORD, (size_t)n, f) != (size_t)n) {
      st = sml_fail(err, SML_EINPUT, "%s: truncated: cannot read record %lld", path, (long long)(first + done));
      break;
    }
    for (int64_t r = 0; r < n; r++) {
      const uint8_t *rec = chunk + r * CIFAR_RECORD;
      if (labels) labels[done + r] = rec[0];
      if (images) {
        uint8_t *img = images + (done + r) * 3 * CIFAR_PLANE;
        for (int p = 0; p < CIFAR_PLANE; p++)
          for (int ch = 0; ch < 3; ch++) img[3 * p + ch] = rec[1 + ch * CIFAR_PLANE + p];
      }
    }
    done += n;
  }
  free(chunk);
  fclose(f);
  return st;
}

int sml_cifar_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err) {
  const int64_t dim = 3 * CIFAR_PLANE;
  for (int i = 0; i < nranges; i++) {
    const sml_read_range *r = &ranges[i];
    int64_t file_first = 0; /* split index of the current file's record 0 */
    for (int fi = 0; fi < s->nfiles; fi++) {
      int64_t lo = r->first > file_first ? r->first : file_first;
      int64_t hi_file = file_first + s->file_count[fi];
      int64_t hi = r->first + r->count < hi_file ? r->first + r->count : hi_file;
      if (lo < hi) {
        int64_t off = lo - r->first;
        SML_TRY(read_file_records(s->files[fi], lo - file_first, hi - lo, r->images ? r->images + off * dim : NULL,
                                  r->labels ? r->labels + off : NULL, err));
      }
      file_first = hi_file;
    }
  }
  return SML_OK;
}
