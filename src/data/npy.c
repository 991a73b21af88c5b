/* NumPy arrays: .npy files (format versions 1-3) and .npz archives (zip,
 * members stored or deflated, zip64 or not), as numpy.save/savez/
 * savez_compressed write them.
 *
 * A stored array is read like a raw IDX file (a seek to the rank's block);
 * a deflated member is inflated from its start, once, through the ranges in
 * order. Elements of any integer dtype, or float images, become bytes by
 * the rule of sml_values_to_bytes. Every header field is checked against
 * the file before anything is sized by it: the files are the user's. */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/formats.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1 << 20)
#define NPY_BLOCK_VALUES (1 << 20) /* values converted per block: 8 MB of doubles */

/* ---------------------------------------------------------------- zip */

static uint64_t le(const unsigned char *b, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static int read_at(FILE *f, int64_t offset, void *buf, size_t n) {
  return fseeko(f, (off_t)offset, SEEK_SET) == 0 && fread(buf, 1, n, f) == n ? 0 : -1;
}

/* A member of a .npz: where its data starts, its compressed size and
 * whether it is deflated. */
typedef struct {
  int64_t offset, compressed, size;
  int deflated;
} zip_member;

/* Finds `name` in the zip's central directory. 0, or -1 with err set
 * (err NULL: quietly). */
static int zip_find(const char *path, const char *name, zip_member *m, sml_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return err ? sml_fail(err, SML_EINPUT, "%s: cannot open: %s", path, strerror(errno)) : -1;
  struct stat st;
  const int64_t file_size = fstat(fileno(f), &st) == 0 ? (int64_t)st.st_size : 0;
  /* The end-of-central-directory record: in the last 64 KiB + 22 bytes. */
  const int64_t tail = file_size < 65557 ? file_size : 65557;
  unsigned char *buf = SML_ALLOC((size_t)tail + 1);
  int64_t eocd = -1;
  if (tail >= 22 && read_at(f, file_size - tail, buf, (size_t)tail) == 0)
    for (int64_t i = tail - 22; i >= 0 && eocd < 0; i--)
      if (le(buf + i, 4) == 0x06054b50u) eocd = file_size - tail + i;
  int64_t entries = 0, cd_offset = 0, cd_size = 0;
  int rc = -1;
  if (eocd >= 0) {
    const unsigned char *e = buf + (eocd - (file_size - tail));
    entries = (int64_t)le(e + 10, 2);
    cd_size = (int64_t)le(e + 12, 4);
    cd_offset = (int64_t)le(e + 16, 4);
    unsigned char loc[20], z64[56];
    if ((entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) && eocd >= 20 &&
        read_at(f, eocd - 20, loc, 20) == 0 && le(loc, 4) == 0x07064b50u &&
        read_at(f, (int64_t)le(loc + 8, 8), z64, 56) == 0 && le(z64, 4) == 0x06064b50u) {
      entries = (int64_t)le(z64 + 32, 8);
      cd_size = (int64_t)le(z64 + 40, 8);
      cd_offset = (int64_t)le(z64 + 48, 8);
    }
    rc = 0;
  }
  free(buf);
  if (rc != 0 || cd_offset < 0 || cd_size < 0 || cd_offset > file_size || cd_size > file_size - cd_offset) {
    fclose(f);
    return err ? sml_fail(err, SML_EINPUT, "%s: not a readable .npz (zip) archive: no central directory", path) : -1;
  }
  unsigned char *cd = SML_ALLOC((size_t)cd_size + 1);
  rc = read_at(f, cd_offset, cd, (size_t)cd_size) == 0 ? 1 : -1; /* 1: not found yet */
  const size_t name_len = strlen(name);
  for (int64_t at = 0, k = 0; rc == 1 && k < entries && at + 46 <= cd_size; k++) {
    const unsigned char *c = cd + at;
    if (le(c, 4) != 0x02014b50u) break;
    const int64_t nlen = (int64_t)le(c + 28, 2), xlen = (int64_t)le(c + 30, 2), clen = (int64_t)le(c + 32, 2);
    if (at + 46 + nlen + xlen + clen > cd_size) break;
    if ((size_t)nlen == name_len && memcmp(c + 46, name, name_len) == 0) {
      const unsigned method = (unsigned)le(c + 10, 2);
      uint64_t csize = le(c + 20, 4), usize = le(c + 24, 4), local = le(c + 42, 4);
      /* zip64 extra field: the 8-byte values of those that overflowed. */
      for (const unsigned char *x = c + 46 + nlen; x + 4 <= c + 46 + nlen + xlen;) {
        const unsigned id = (unsigned)le(x, 2), xs = (unsigned)le(x + 2, 2);
        const unsigned char *v = x + 4, *vend = x + 4 + xs;
        if (vend > c + 46 + nlen + xlen) break;
        if (id == 1) {
          if (usize == 0xffffffff && v + 8 <= vend) usize = le(v, 8), v += 8;
          if (csize == 0xffffffff && v + 8 <= vend) csize = le(v, 8), v += 8;
          if (local == 0xffffffff && v + 8 <= vend) local = le(v, 8);
        }
        x = vend;
      }
      unsigned char lh[30];
      if (method != 0 && method != 8) {
        rc = err ? sml_fail(err, SML_EINPUT,
                            "%s: member %s is compressed by method %u (numpy writes stored or deflated)", path, name,
                            method)
                 : -1;
      } else if (local > (uint64_t)file_size || read_at(f, (int64_t)local, lh, 30) != 0 || le(lh, 4) != 0x04034b50u) {
        rc = err ? sml_fail(err, SML_EINPUT, "%s: member %s: bad local header (truncated or corrupt)", path, name) : -1;
      } else {
        m->offset = (int64_t)local + 30 + (int64_t)le(lh + 26, 2) + (int64_t)le(lh + 28, 2);
        m->compressed = (int64_t)csize;
        m->size = (int64_t)usize;
        m->deflated = method == 8;
        if (m->offset > file_size || csize > (uint64_t)(file_size - m->offset) || usize > ((uint64_t)1 << 62))
          rc = err ? sml_fail(err, SML_EINPUT, "%s: member %s lies beyond the end of the file (truncated?)", path, name)
                   : -1;
        else rc = 0;
      }
    }
    at += 46 + nlen + xlen + clen;
  }
  free(cd);
  fclose(f);
  if (rc == 1) return err ? sml_fail(err, SML_EINPUT, "%s: no member %s", path, name) : -1;
  return rc;
}

int sml_npz_has(const char *path, const char *member) {
  zip_member m;
  return zip_find(path, member, &m, NULL) == 0;
}

/* ---------------------------------------------------------------- streams */

/* The bytes of one array's elements: a plain file region, or an inflated
 * zip member. */
typedef struct {
  FILE *f;
  int deflated;
  int64_t pos;        /* bytes of the array delivered so far */
  int64_t compressed; /* deflated: compressed bytes not yet fed to zlib */
  z_stream z;
  unsigned char in[1 << 16];
} stream;

static int stream_open(stream *s, const char *path, int64_t offset, int64_t deflated) {
  memset(s, 0, sizeof *s);
  s->f = fopen(path, "rb");
  if (!s->f || fseeko(s->f, (off_t)offset, SEEK_SET) != 0) return -1;
  s->deflated = deflated > 0;
  s->compressed = deflated;
  if (s->deflated && inflateInit2(&s->z, -MAX_WBITS) != Z_OK) return -1; /* raw deflate, as zip stores it */
  return 0;
}

static void stream_close(stream *s) {
  if (s->deflated) inflateEnd(&s->z);
  if (s->f) fclose(s->f);
}

/* Reads n bytes (buf NULL: skips them). 0, or -1 at a short or corrupt stream. */
static int stream_read(stream *s, void *buf, int64_t n) {
  if (!s->deflated) {
    if (!buf) return fseeko(s->f, (off_t)n, SEEK_CUR) == 0 ? (s->pos += n, 0) : -1;
    if (fread(buf, 1, (size_t)n, s->f) != (size_t)n) return -1;
    s->pos += n;
    return 0;
  }
  unsigned char scratch[1 << 16];
  while (n > 0) {
    const int64_t part =
        buf ? (n < (1 << 30) ? n : (1 << 30)) : (n < (int64_t)sizeof scratch ? n : (int64_t)sizeof scratch);
    s->z.next_out = buf ? (unsigned char *)buf : scratch;
    s->z.avail_out = (uInt)part;
    while (s->z.avail_out > 0) {
      if (s->z.avail_in == 0) {
        if (s->compressed == 0) return -1;
        const size_t want = s->compressed < (int64_t)sizeof s->in ? (size_t)s->compressed : sizeof s->in;
        if (fread(s->in, 1, want, s->f) != want) return -1;
        s->compressed -= (int64_t)want;
        s->z.next_in = s->in;
        s->z.avail_in = (uInt)want;
      }
      const int zr = inflate(&s->z, Z_NO_FLUSH);
      if (zr != Z_OK && !(zr == Z_STREAM_END && s->z.avail_out == 0)) return -1;
    }
    if (buf) buf = (unsigned char *)buf + part;
    n -= part;
    s->pos += part;
  }
  return 0;
}

/* ---------------------------------------------------------------- .npy header */

typedef struct {
  char dtype[8]; /* "<f4" */
  int ndim;
  int64_t shape[8];
  int64_t data_start; /* bytes from the array's first byte */
} npy_header;

/* Element kind ('u', 'i', 'f') and size of a dtype, or 0 if not numeric. */
static int dtype_kind(const char *dtype, int *size) {
  const char order = dtype[0], kind = dtype[1];
  *size = atoi(dtype + 2);
  if (order != '<' && order != '>' && order != '|' && order != '=') return 0;
  if ((kind == 'u' || kind == 'i') && (*size == 1 || *size == 2 || *size == 4 || *size == 8)) return kind;
  if (kind == 'f' && (*size == 4 || *size == 8)) return kind;
  return 0;
}

/* The value of 'key': in the header dict, as text up to its end. */
static const char *dict_value(const char *header, const char *key) {
  const char *k = strstr(header, key);
  if (!k) return NULL;
  k = strchr(k + strlen(key), ':');
  if (!k) return NULL;
  k++;
  while (*k == ' ') k++;
  return k;
}

static int parse_header(stream *st, const char *what, npy_header *h, sml_err *err) {
  unsigned char pre[12];
  if (stream_read(st, pre, 10) != 0 || memcmp(pre, NPY_MAGIC, 6) != 0)
    return sml_fail(err, SML_EINPUT, "%s: not a .npy array (no \\x93NUMPY magic)", what);
  int64_t len = (int64_t)le(pre + 8, 2), start = 10;
  if (pre[6] >= 2) { /* versions 2 and 3: a 4-byte header length */
    if (stream_read(st, pre + 10, 2) != 0) return sml_fail(err, SML_EINPUT, "%s: truncated .npy header", what);
    len = (int64_t)le(pre + 8, 4);
    start = 12;
  }
  if (pre[6] < 1 || pre[6] > 3 || len < 1 || len > NPY_MAX_HEADER)
    return sml_fail(err, SML_EINPUT, "%s: .npy version %d.%d with a header of %lld bytes (numpy writes 1.0-3.0)", what,
                    pre[6], pre[7], (long long)len);
  char *text = SML_ALLOC((size_t)len + 1);
  int rc = stream_read(st, text, len);
  text[rc == 0 ? len : 0] = '\0';
  if (memchr(text, '\0', (size_t)len)) text[0] = '\0';
  memset(h, 0, sizeof *h);
  h->data_start = start + len;
  const char *descr = dict_value(text, "'descr'"), *order = dict_value(text, "'fortran_order'"),
             *shape = dict_value(text, "'shape'");
  int st_ = SML_OK;
  if (rc != 0 || !descr || !order || !shape || descr[0] != '\'' || shape[0] != '(') {
    st_ = sml_fail(err, SML_EINPUT, "%s: unreadable .npy header (expected descr, fortran_order and shape)", what);
  } else if (strncmp(order, "False", 5) != 0) {
    st_ = sml_fail(err, SML_EINPUT, "%s: a Fortran-order array; save it in C order (numpy.ascontiguousarray)", what);
  } else {
    size_t n = strcspn(descr + 1, "'");
    snprintf(h->dtype, sizeof h->dtype, "%.*s", (int)(n < sizeof h->dtype ? n : 0), descr + 1);
    const char *p = shape + 1;
    while (*p && *p != ')' && st_ == SML_OK) {
      while (*p == ' ' || *p == ',') p++;
      if (*p == ')') break;
      char *end;
      errno = 0;
      const long long v = strtoll(p, &end, 10);
      if (end == p || errno || v < 0 || h->ndim == 8)
        st_ = sml_fail(err, SML_EINPUT, "%s: unreadable shape in the .npy header", what);
      else h->shape[h->ndim++] = v;
      p = end;
    }
  }
  free(text);
  return st_;
}

/* ---------------------------------------------------------------- probe */

static int open_array(stream *st, const char *path, const char *member, char *what, size_t what_len, int64_t *offset,
                      int64_t *deflated, int64_t *size, sml_err *err) {
  if (member) {
    zip_member m;
    snprintf(what, what_len, "%s: %s", path, member);
    SML_TRY(zip_find(path, member, &m, err));
    *offset = m.offset;
    *deflated = m.deflated ? m.compressed : 0;
    *size = m.size;
  } else {
    struct stat fs;
    snprintf(what, what_len, "%s", path);
    *offset = 0;
    *deflated = 0;
    *size = stat(path, &fs) == 0 ? (int64_t)fs.st_size : 0;
  }
  if (stream_open(st, path, *offset, *deflated) != 0) {
    stream_close(st);
    return sml_fail(err, SML_EINPUT, "%s: cannot open: %s", what, strerror(errno));
  }
  return SML_OK;
}

int sml_npy_probe(sml_split_source *s, const char *images_path, const char *images_member, const char *labels_path,
                  const char *labels_member, sml_err *err) {
  memset(s, 0, sizeof *s);
  s->format = SML_FORMAT_NPY;
  s->nfiles = 2;
  const char *paths[2] = {images_path, labels_path}, *members[2] = {images_member, labels_member};
  npy_header h[2];
  char what[2][SML_PATH_LEN + 64];
  for (int a = 0; a < 2; a++) {
    stream st;
    int64_t size;
    SML_TRY(open_array(&st, paths[a], members[a], what[a], sizeof what[a], &s->npy_start[a], &s->npy_deflated[a], &size,
                       err));
    int rc = parse_header(&st, what[a], &h[a], err);
    stream_close(&st);
    SML_TRY(rc);
    int elem = 0;
    const int kind = dtype_kind(h[a].dtype, &elem);
    if (!kind || (a == 1 && kind == 'f'))
      return sml_fail(err, SML_EINPUT, "%s: dtype '%s', expected %s", what[a], h[a].dtype,
                      a == 1 ? "integer labels (uint8, int64, ...)" : "integers 0-255 or floats in [0, 1]");
    if (a == 0 && (h[0].ndim < 3 || h[0].ndim > 4))
      return sml_fail(err, SML_EINPUT, "%s: shape of %d dimensions, expected images (N, H, W) or (N, H, W, C)", what[a],
                      h[0].ndim);
    if (a == 1 && !(h[1].ndim == 1 || (h[1].ndim == 2 && h[1].shape[1] == 1)))
      return sml_fail(err, SML_EINPUT, "%s: shape of %d dimensions, expected labels (N,) or (N, 1)", what[a],
                      h[1].ndim);
    /* The labels' count before anything is sized by it (the images' count
     * passed the geometry check against the file). */
    if (a == 1 && h[1].shape[0] != h[0].shape[0])
      return sml_fail(err, SML_EINPUT, "%s: %lld labels, but %s holds %lld images", what[1], (long long)h[1].shape[0],
                      what[0], (long long)h[0].shape[0]);
    const int64_t channels = a == 0 && h[0].ndim == 4 ? h[0].shape[3] : 1;
    if (a == 0)
      SML_TRY(sml_check_geometry(what[a], "shape", h[0].shape[0], h[0].shape[1], h[0].shape[2], channels,
                                 s->npy_deflated[a] ? s->npy_deflated[a] : size, err));
    /* Every element present: a stored array's size is exact, and so is the
     * uncompressed size a zip records for a deflated one. */
    const int64_t values = a == 0 ? h[0].shape[0] * h[0].shape[1] * h[0].shape[2] * channels : h[1].shape[0];
    const int64_t need = h[a].data_start + values * elem;
    if (size < need || (s->npy_deflated[a] && size != need))
      return sml_fail(err, SML_EINPUT, "%s: %lld bytes, the header announces %lld (truncated?)", what[a],
                      (long long)size, (long long)need);
    s->npy_data[a] = h[a].data_start;
    memcpy(s->npy_dtype[a], h[a].dtype, sizeof s->npy_dtype[a]); /* both 8 bytes, NUL-terminated */
    snprintf(s->files[a], SML_PATH_LEN, "%s", paths[a]);
  }
  s->count = h[0].shape[0];
  s->height = (int)h[0].shape[1];
  s->width = (int)h[0].shape[2];
  s->channels = h[0].ndim == 4 ? (int)h[0].shape[3] : 1;
  return SML_OK;
}

/* ---------------------------------------------------------------- read */

static double element(const unsigned char *p, int kind, int size, int big_endian) {
  unsigned char b[8];
  for (int i = 0; i < size; i++) b[i] = big_endian ? p[size - 1 - i] : p[i];
  const uint64_t u = le(b, size);
  if (kind == 'u') return (double)u;
  if (kind == 'i') {
    const int shift = 64 - 8 * size;
    return (double)((int64_t)(u << shift) >> shift); /* sign-extended */
  }
  if (size == 4) {
    uint32_t w = (uint32_t)u;
    float f;
    memcpy(&f, &w, sizeof f);
    return f;
  }
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* Reads records [first, first + count) of array a, `record` elements each,
 * into dst as bytes; the stream is before them (ranges come in order). */
static int read_array_range(stream *st, const sml_split_source *s, int a, int64_t first, int64_t count, int64_t record,
                            uint8_t *dst, double *values, unsigned char *raw, sml_err *err) {
  int size = 0;
  const int kind = dtype_kind(s->npy_dtype[a], &size);
  const int big = s->npy_dtype[a][0] == '>';
  const int64_t skip = s->npy_data[a] + first * record * size - st->pos;
  if (skip < 0 || stream_read(st, NULL, skip) != 0)
    return sml_fail(err, SML_EINPUT, "%s: truncated or corrupt before record %lld", s->files[a], (long long)first);
  const int64_t total = count * record;
  for (int64_t done = 0; done < total;) {
    const int64_t n = total - done < NPY_BLOCK_VALUES ? total - done : NPY_BLOCK_VALUES;
    if (kind == 'u' && size == 1) {
      if (stream_read(st, dst + done, n) != 0)
        return sml_fail(err, SML_EINPUT, "%s: truncated or corrupt in records [%lld, %lld)", s->files[a],
                        (long long)first, (long long)(first + count));
    } else {
      if (stream_read(st, raw, n * size) != 0)
        return sml_fail(err, SML_EINPUT, "%s: truncated or corrupt in records [%lld, %lld)", s->files[a],
                        (long long)first, (long long)(first + count));
      for (int64_t i = 0; i < n; i++) values[i] = element(raw + i * size, kind, size, big);
      const int64_t bad = sml_values_to_bytes(values, n, kind == 'f', a == 1, dst + done);
      if (bad >= 0)
        return sml_fail(err, SML_EINPUT, "%s: %s %lld holds %.9g, expected %s", s->files[a], a == 0 ? "image" : "label",
                        (long long)(first + (done + bad) / record), values[bad],
                        sml_values_expected(kind == 'f', a == 1));
    }
    done += n;
  }
  return SML_OK;
}

int sml_npy_read(const sml_split_source *s, int nranges, const sml_read_range *ranges, sml_err *err) {
  const int64_t dim = (int64_t)s->height * s->width * s->channels;
  double *values = SML_ALLOC(NPY_BLOCK_VALUES * sizeof(double));
  unsigned char *raw = SML_ALLOC(NPY_BLOCK_VALUES * 8);
  int st_ = SML_OK;
  for (int a = 0; a < 2 && st_ == SML_OK; a++) {
    stream *st = SML_ALLOC(sizeof *st);
    if (stream_open(st, s->files[a], s->npy_start[a], s->npy_deflated[a]) != 0) {
      st_ = sml_fail(err, SML_EINPUT, "%s: cannot open: %s", s->files[a], strerror(errno));
    } else {
      for (int i = 0; i < nranges && st_ == SML_OK; i++) {
        uint8_t *dst = a == 0 ? ranges[i].images : ranges[i].labels;
        if (dst && ranges[i].count > 0)
          st_ = read_array_range(st, s, a, ranges[i].first, ranges[i].count, a == 0 ? dim : 1, dst, values, raw, err);
      }
    }
    stream_close(st);
    free(st);
  }
  free(values);
  free(raw);
  return st_;
}

int sml_npy_largest_label(const sml_split_source *s, int *largest, sml_err *err) {
  uint8_t *labels = SML_ALLOC((size_t)s->count + 1);
  sml_read_range r = {.first = 0, .count = s->count, .images = NULL, .labels = labels};
  const int st = sml_npy_read(s, 1, &r, err);
  *largest = -1;
  for (int64_t i = 0; st == SML_OK && i < s->count; i++) *largest = labels[i] > *largest ? labels[i] : *largest;
  free(labels);
  return st;
}
