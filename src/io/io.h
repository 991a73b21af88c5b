/* src/io/: files: atomic writes, locks, and shardml's own HDF5 writer and reader. */
/* Output files: every file is written under a temporary name in the same
 * directory and renamed only when complete, so an interrupted run never
 * leaves a half file under the final name. */
#ifndef SHARDML_IO_H
#define SHARDML_IO_H

#include <stdint.h>
#include <stdio.h>

#include "shardml/error.h"

typedef struct {
  FILE *f;
  char path[4096];
  char tmp[4160];
} sml_atomic_file;

/* Opens path.tmp.<host>.<pid> for writing. */
int sml_atomic_open(sml_atomic_file *a, const char *path, sml_err *err);
/* "path: cannot create: reason" for errno e: SML_EINPUT where the user can
 * fix it (permissions, a missing directory, a read-only filesystem),
 * SML_ERUNTIME otherwise (a full disk, an I/O error). */
int sml_create_error(const char *path, int e, sml_err *err);
/* Creates and removes path's temporary file: an output that cannot be
 * written is refused before the work (SML_EINPUT where the user can fix
 * it), under the user's name for it; a directory in its place likewise. */
int sml_output_check(const char *path, sml_err *err);
/* Flushes, fsyncs, closes and renames onto the final name. On any earlier
 * write error the temporary is removed and the final name is untouched. */
int sml_atomic_commit(sml_atomic_file *a, sml_err *err);
/* One CSV field (RFC 4180): quoted, its quotes doubled, when it holds a
 * comma, a quote or a line break ("T-shirt/top" as is, "a, b" quoted). */
void sml_csv_field(FILE *f, const char *text);
/* The temporary name for a file written by a library (HDF5, libpng). */
void sml_temp_name(char *out, size_t len, const char *path);
/* Removes the temporary files in dir left by dead writers on this host
 * (killed mid-write), says so on stderr (callers: rank 0), returns how many. */
int sml_remove_stale_temps(const char *dir);
int sml_rename_into_place(const char *tmp, const char *path, sml_err *err);

/* Creates a directory (and parents) if missing. */
int sml_mkdirs(const char *dir, sml_err *err);

/* One process at a time for a resource (a search journal, a checkpoint
 * directory): a POSIX record lock on a lock file, released by
 * sml_lock_release or by the kernel when the process dies (never stale).
 * slot < 0 takes the whole file; slot k >= 0 only its k-th slot, so that
 * holders of different slots run side by side (a job array's slices) while
 * the whole file's holder excludes them all and they it. A holder records
 * "host H, pid P" in its range; a refused process gets its holder's record.
 * A holder that is just exiting is waited for up to 2 s. */
typedef struct {
  int fd;
} sml_lock;
enum { SML_LOCK_HELD = 0, SML_LOCK_BUSY = 1, SML_LOCK_UNAVAILABLE = -1 /* errno says why */ };
int sml_lock_take(sml_lock *l, const char *path, int slot, char *holder, size_t holder_len);
/* sml_lock_take as a command wants it: busy is SML_EINPUT "SUBJECT: BUSY
 * (holder); wait for it or use another INSTEAD", a lock file that cannot
 * be created a create error, and a filesystem without locks a warning. */
int sml_lock_exclusive(sml_lock *l, const char *path, int slot, const char *subject, const char *busy,
                       const char *instead, sml_err *err);
void sml_lock_release(sml_lock *l);

/* File-access properties for shardml's HDF5 files (hid_t; close with
 * H5Pclose): no HDF5 file locking. shardml never has two writers of one
 * file (one rank writes a temporary, then renames it), and parallel
 * filesystems without flock (some Lustre and NFS mounts) make HDF5's
 * locking fail every open ("unable to lock file"). */
int64_t sml_h5_fapl(void);
/* The HDF5 library's version ("1.10.8"), and whether it is the parallel
 * (MPI-IO) build. */
const char *sml_h5_version(void);
int sml_h5_is_parallel(void);

/* A small HDF5 writer for shardml's own files (models, checkpoints): float
 * tensors as named datasets plus attributes on /, written to a temporary
 * name by one process and renamed on close. */
typedef struct sml_h5_image sml_h5_image; /* the in-memory file's buffer (h5writer.c) */
typedef struct {
  int64_t file; /* hid_t */
  int failed;
  sml_h5_image *image;
  char path[4096];
  char tmp[4160];
} sml_h5_writer;

int sml_h5w_open(sml_h5_writer *w, const char *path, sml_err *err);
void sml_h5w_tensor(sml_h5_writer *w, const char *name, int ndim, const int64_t *shape, const float *data);
void sml_h5w_attr_string(sml_h5_writer *w, const char *name, const char *value);
void sml_h5w_attr_double(sml_h5_writer *w, const char *name, double value);
void sml_h5w_attr_i64s(sml_h5_writer *w, const char *name, const int64_t *values, int n);
void sml_h5w_attr_strings(sml_h5_writer *w, const char *name, const char *const *values, int n);
/* Closes and renames into place; fails (removing the temporary) if any write failed. */
int sml_h5w_commit(sml_h5_writer *w, sml_err *err);
/* Dataset creation properties for ndim dims (hsize_t) of elem_bytes each:
 * chunks of whole rows (at most max_chunk_rows when > 0), deflate at the
 * given level (0: none), a Fletcher32 checksum last; contiguous when
 * empty. An hid_t; the caller closes it. */
int64_t sml_h5w_dcpl(int ndim, const unsigned long long *dims, int64_t elem_bytes, int64_t max_chunk_rows,
                     int deflate_level);

/* Reading shardml's own HDF5 files back. Every call reports a clear error
 * naming the file and the object. */
typedef struct {
  int64_t file; /* hid_t */
  char path[4096];
} sml_h5_reader;

/* Rehearses a read of an untrusted HDF5 file in a child process
 * (src/io/h5vet.c): SML_OK if rehearse(path, arg) succeeded there within
 * the time limit, else its error, or a clear one when HDF5 crashed or hung
 * on the file. Does nothing inside the child or with SHARDML_HDF5_VET=0. */
typedef int (*sml_h5_vet_fn)(const char *path, void *arg, sml_err *err);
int sml_h5_vet(const char *path, const char *what, sml_h5_vet_fn rehearse, void *arg, sml_err *err);
double sml_h5_vet_timeout(void);
int sml_h5r_open(sml_h5_reader *r, const char *path, sml_err *err);
void sml_h5r_close(sml_h5_reader *r);
int sml_h5r_has(const sml_h5_reader *r, const char *name);
/* Only a root attribute of that name (a group may share the name). */
int sml_h5r_has_attr(const sml_h5_reader *r, const char *name);
/* Reads a float tensor whose element count must be n. */
int sml_h5r_tensor(const sml_h5_reader *r, const char *name, float *out, int64_t n, sml_err *err);
int sml_h5r_attr_double(const sml_h5_reader *r, const char *name, double *out, sml_err *err);
/* Reads up to max int64 values; *n receives the count. */
int sml_h5r_attr_i64s(const sml_h5_reader *r, const char *name, int64_t *out, int max, int *n, sml_err *err);
int sml_h5r_attr_string(const sml_h5_reader *r, const char *name, char *out, size_t len, sml_err *err);
/* Reads a float64 array dataset of up to max values. */
int sml_h5r_doubles(const sml_h5_reader *r, const char *name, double *out, int64_t max, int64_t *n, sml_err *err);
/* Writer counterpart for metric histories. */
void sml_h5w_doubles(sml_h5_writer *w, const char *name, const double *data, int64_t n);

#endif
