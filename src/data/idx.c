/* IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw.
 *
 * Both are read through zlib's gz* functions: on a raw file they are a
 * plain buffered reader and gzseek is a real seek, so a rank reads only its
 * block; on a gzip stream gzseek decompresses and discards up to the block,
 * which is the best a stream allows. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "shardml/dataset.h"
#include "data/formats.h"

#define IDX_IMAGES_MAGIC 0x00000803u /* unsigned byte, 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801u /* unsigned byte, 1 dimension */
#define GZ_READ_CHUNK (1u << 30)

static uint32_t be32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static gzFile open_gz(const char *path, sml_err *err) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    sml_fail(err, SML_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  gzbuffer(f, 1u << 20);
  return f;
}

/* Reads a header of `words` big-endian 32-bit words. */
static int read_header(gzFile f, const char *path, uint32_t *words, int nwords, sml_err *err) {
  unsigned char buf[16];
  int want = 4 * nwords;
  if (gzread(f, buf, (unsigned)want) != want) {
    /* A small file is inflated whole on the first read: a bad checksum or
     * bad deflate data shows here, and is no short header. */
    int zerr = 0;
    const char *zmsg = gzerror(f, &zerr);
    const size_t plen = strlen(path); /* zlib's message may start with the path */
    if (strncmp(zmsg, path, plen) == 0 && strncmp(zmsg + plen, ": ", 2) == 0) zmsg += plen + 2;
    if (zerr == Z_DATA_ERROR) return sml_fail(err, SML_EINPUT, "%s: corrupt gzip data: %s", path, zmsg);
    return sml_fail(err, SML_EINPUT, "%s: truncated: the IDX header needs %d bytes", path, want);
  }
  for (int i = 0; i < nwords; i++) words[i] = be32(buf + 4 * i);
  return SML_OK;
}

/* For a raw file the size is known up front, so every rank (not only the
 * one whose block is at the end) sees a truncated or padded file. */
static int check_raw_size(gzFile f, const char *path, int64_t expected, const char *what, sml_err *err) {
  if (!gzdirect(f)) return SML_OK;
  struct stat st;
  if (stat(path, &st) != 0) return sml_fail(err, SML_EINPUT, "%s: cannot stat", path);
  if ((int64_t)st.st_size < expected)
    return sml_fail(err, SML_EINPUT, "%s: truncated: %lld bytes, but the header announces %s needing %lld bytes", path,
                    (long long)st.st_size, what, (long long)expected);
  if ((int64_t)st.st_size > expected)
    return sml_fail(err, SML_EINPUT, "%s: %lld bytes, more than the %lld bytes the header announces (%s)", path,
                    (long long)st.st_size, (long long)expected, what);
  return SML_OK;
}

int sml_idx_probe(sml_split_source *s, const char *images_path, const char *labels_path, sml_err *err) {
  memset(s, 0, sizeof *s);
  s->format = SML_FORMAT_IDX;
  uint32_t ih[4] = {0}, lh[2] = {0};
  char what[128];

  gzFile f = open_gz(images_path, err);
  if (!f) return SML_EINPUT;
  int st = read_header(f, images_path, ih, 1, err);
  if (st == SML_OK && ih[0] != IDX_IMAGES_MAGIC)
    st = sml_fail(err, SML_EINPUT, "%s: bad magic number 0x%08x, expected 0x%08x (IDX unsigned-byte images)",
                  images_path, ih[0], IDX_IMAGES_MAGIC);
  if (st == SML_OK) st = read_header(f, images_path, ih + 1, 3, err);
  if (st == SML_OK && ih[1] == 0) st = sml_fail(err, SML_EINPUT, "%s: the IDX header announces no images", images_path);
  if (st == SML_OK) { /* before any size is computed from the header */
    struct stat fs;
    const int64_t size = stat(images_path, &fs) == 0 ? (int64_t)fs.st_size : 0;
    st = sml_check_geometry(images_path, "IDX header", ih[1], ih[2], ih[3], 1, size, err);
  }
  if (st == SML_OK) {
    snprintf(what, sizeof what, "%u images of %ux%u", ih[1], ih[2], ih[3]);
    st = check_raw_size(f, images_path, 16 + (int64_t)ih[1] * ih[2] * ih[3], what, err);
  }
  gzclose(f);
  if (st != SML_OK) return st;

  f = open_gz(labels_path, err);
  if (!f) return SML_EINPUT;
  st = read_header(f, labels_path, lh, 1, err);
  if (st == SML_OK && lh[0] != IDX_LABELS_MAGIC)
    st = sml_fail(err, SML_EINPUT, "%s: bad magic number 0x%08x, expected 0x%08x (IDX unsigned-byte labels)",
                  labels_path, lh[0], IDX_LABELS_MAGIC);
  if (st == SML_OK) st = read_header(f, labels_path, lh + 1, 1, err);
  if (st == SML_OK && lh[1] != ih[1])
    st = sml_fail(err, SML_EINPUT, "%s: %u labels, but %s holds %u images", labels_path, lh[1], images_path, ih[1]);
  if (st == SML_OK) {
    snprintf(what, sizeof what, "%u labels", lh[1]);
    st = check_raw_size(f, labels_path, 8 + (int64_t)lh[1], what, err);
  }
  gzclose(f);
  if (st != SML_OK) return st;

  s->count = ih[1];
  s->height = (int)ih[2];
  s->width = (int)ih[3];
  s->channels = 1;
  s->nfiles = 2;
  snprintf(s->files[0], SML_PATH_LEN, "%s", images_path);
  snprintf(s->files[1], SML_PATH_LEN, "%s", labels_path);
  return SML_OK;
}

static int read_exact(gzFile f, const char *path, uint8_t *dst, int64_t bytes, int64_t offset, sml_err *err) {
  if (gzseek(f, (z_off_t)offset, SEEK_SET) != (z_off_t)offset)
    return sml_fail(err, SML_EINPUT, "%s: truncated: cannot reach byte %lld", path, (long long)offset);
  int64_t done = 0;
  while (done < bytes) {
    unsigned part = bytes - done < GZ_READ_CHUNK ? (unsigned)(bytes - done) : GZ_READ_CHUNK;
    int got = gzread(f, dst + done, part);
    if (got <= 0) {
      int zerr = 0;
      const char *zmsg = gzerror(f, &zerr);
      return sml_fail(err, SML_EINPUT, "%s: truncated or corrupt: expected %lld bytes at offset %lld%s%s", path,
                      (long long)bytes, (long long)offset, zerr ? ": " : "", zerr ? zmsg : "");
    }
    done += got;
  }
  return SML_OK;
}

int sml_idx_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err) {
  const int64_t dim = (int64_t)s->height * s->width * s->channels;
  int st = SML_OK;
  gzFile f = open_gz(s->files[0], err);
  if (!f) return SML_EINPUT;
  for (int i = 0; i < nranges && st == SML_OK; i++)
    if (ranges[i].images && ranges[i].count > 0)
      st = read_exact(f, s->files[0], ranges[i].images, ranges[i].count * dim, 16 + ranges[i].first * dim, err);
  gzclose(f);
  if (st != SML_OK) return st;

  f = open_gz(s->files[1], err);
  if (!f) return SML_EINPUT;
  for (int i = 0; i < nranges && st == SML_OK; i++)
    if (ranges[i].labels && ranges[i].count > 0)
      st = read_exact(f, s->files[1], ranges[i].labels, ranges[i].count, 8 + ranges[i].first, err);
  gzclose(f);
  return st;
}
