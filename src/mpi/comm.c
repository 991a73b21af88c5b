/* MPI context and typed collectives. Large buffers are sent in chunks so
 * that counts above INT_MAX (MPI's int counts) stay correct. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "shardml/comm.h"
#include "base/fault.h"

#include "kernels/kernels.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SML_MPI_CHUNK ((int64_t)1 << 30)

sml_comm sml_comm_of(MPI_Comm comm) {
  sml_comm c = {.comm = comm, .rank = 0, .size = 1};
  MPI_Comm_rank(comm, &c.rank);
  MPI_Comm_size(comm, &c.size);
  return c;
}
sml_comm sml_comm_world(void) { return sml_comm_of(MPI_COMM_WORLD); }
sml_comm sml_comm_self(void) { return sml_comm_of(MPI_COMM_SELF); }

sml_comm sml_comm_split(const sml_comm *c, int color, int key) {
  MPI_Comm comm;
  MPI_Comm_split(c->comm, color, key, &comm);
  return sml_comm_of(comm);
}

void sml_comm_free(sml_comm *c) {
  if (c->comm != MPI_COMM_NULL && c->comm != MPI_COMM_WORLD && c->comm != MPI_COMM_SELF) MPI_Comm_free(&c->comm);
}

/* Without OMP_NUM_THREADS, OpenMP starts one thread per CPU this process
 * may run on. Unbound ranks sharing a node would then oversubscribe it, and
 * spinning OpenMP barriers make that many times slower, so the CPUs are
 * shared out among the node's ranks instead. */
static void default_threads(void) {
  if (getenv("OMP_NUM_THREADS")) return;
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 1;
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  cpu_set_t set;
  if (local <= 1 || sched_getaffinity(0, sizeof set, &set) != 0) return;
  const int mine = CPU_COUNT(&set);
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (mine < online) return; /* bound by the launcher: its mask already divides the node */
  int share = (int)(online / local);
  omp_set_num_threads(share > 0 ? share : 1);
}

/* Sums of 16-bit floats: MPI has no such type, so a user operation on
 * uint16 adds pairs in float and rounds back (commutative, so MPI may pick
 * any algorithm; every rank still receives the same result bits). */
static MPI_Op half_sum_op[2] = {MPI_OP_NULL, MPI_OP_NULL};
static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type) {
  (void)type;
  sml_kernels_active()->half_add(inout, in, *len, 1);
}
static void f16_sum(void *in, void *inout, int *len, MPI_Datatype *type) {
  (void)type;
  sml_kernels_active()->half_add(inout, in, *len, 0);
}

/* Open MPI's TCP transport sends a message above its eager limit (64 KiB)
 * by rendezvous: the sender waits for the receiver's answer, and each
 * exchange moves only while both ranks are inside MPI. An overlapped
 * gradient bucket (0.25 MB by default) then crawls between the backward
 * pass's tests and arrives at its end. Sent eagerly, it is on the wire at
 * once: over a shaped 10 Gb/s link (tests/bench/network.sh, 2 ranks, AMD
 * EPYC Zen 3) overlap hid 73-88 % of the wait instead of 45-63 %, and the
 * blocking sum was no slower. The limit covers the default bucket and no
 * more: a receiver buffers eager messages it has not asked for yet (a
 * gather's root, one per rank), so a larger limit costs memory at scale.
 * An OMPI_MCA_ variable set by the user (or mpirun's --mca) wins. */
#define SML_TCP_EAGER_LIMIT "btl_tcp_eager_limit"
#define SML_TCP_EAGER_BYTES "266240" /* 256 KiB + 4 KiB of headers */
#ifdef OPEN_MPI
static int tcp_eager_ours;

static void mpi_library_defaults(void) {
  if (!getenv("OMPI_MCA_" SML_TCP_EAGER_LIMIT)) {
    setenv("OMPI_MCA_" SML_TCP_EAGER_LIMIT, SML_TCP_EAGER_BYTES, 1);
    tcp_eager_ours = 1;
  }
}

/* A control variable's value as MPI_T reads it (-1 when the library has
 * no such variable, or not as an integer). */
static long long cvar_integer(const char *name) {
  int provided, index, count, verbosity, bind, scope;
  long long value = -1;
  MPI_Datatype type;
  MPI_T_cvar_handle handle;
  if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return -1;
  if (MPI_T_cvar_get_index(name, &index) == MPI_SUCCESS &&
      MPI_T_cvar_get_info(index, NULL, NULL, &verbosity, &type, NULL, NULL, NULL, &bind, &scope) == MPI_SUCCESS &&
      bind == MPI_T_BIND_NO_OBJECT && MPI_T_cvar_handle_alloc(index, NULL, &handle, &count) == MPI_SUCCESS) {
    union {
      int i;
      unsigned u;
      long l;
      unsigned long ul;
      long long ll;
      unsigned long long ull;
    } v = {0};
    if (count == 1 && MPI_T_cvar_read(handle, &v) == MPI_SUCCESS) {
      if (type == MPI_INT) value = v.i;
      else if (type == MPI_UNSIGNED) value = v.u;
      else if (type == MPI_LONG) value = v.l;
      else if (type == MPI_UNSIGNED_LONG) value = (long long)v.ul;
      else if (type == MPI_LONG_LONG) value = v.ll;
      else if (type == MPI_UNSIGNED_LONG_LONG) value = (long long)v.ull;
    }
    MPI_T_cvar_handle_free(&handle);
  }
  MPI_T_finalize();
  return value;
}
#else
static void mpi_library_defaults(void) {} /* none measured for other libraries */
#endif

const char *sml_mpi_tuning(void) {
  static char text[128];
  text[0] = '\0';
#ifdef OPEN_MPI
  const long long eager = cvar_integer(SML_TCP_EAGER_LIMIT);
  if (eager >= 0)
    snprintf(text, sizeof text, "%s %lld (%s)", SML_TCP_EAGER_LIMIT, eager,
             tcp_eager_ours ? "shardml's default" : "yours");
#endif
  return text;
}

void sml_init(int *argc, char ***argv) {
  int provided = 0;
  mpi_library_defaults();
  /* Only the main thread calls MPI; OpenMP regions never do. */
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Op_create(bf16_sum, 1, &half_sum_op[SML_HALF_BF16]);
  MPI_Op_create(f16_sum, 1, &half_sum_op[SML_HALF_F16]);
  default_threads();
}

void sml_finalize(void) {
  for (int k = 0; k < 2; k++)
    if (half_sum_op[k] != MPI_OP_NULL) MPI_Op_free(&half_sum_op[k]);
  MPI_Finalize();
}

#if defined(__SANITIZE_ADDRESS__)
#define SML_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SML_SANITIZED 1
#endif
#endif

/* Two failures of MPI libraries turn finished jobs into failed or endless
 * ones, both while MPI_Finalize tears the transports down, after every
 * output is written and every rank has agreed the exit status:
 * - Open MPI 4.1.4's TCP transport sometimes crashes there (SIGSEGV in
 *   mca_btl_tcp_finalize, seen in the two-node SLURM test);
 * - UCX's TCP transport (MPICH's ch4:ucx, Debian's UCX 1.13) sometimes
 *   never finishes: one rank flushes an endpoint forever while its peer,
 *   already done, waits in the launcher's final barrier (openucx/ucx#8738;
 *   seen under load over tests/net/link.sh's link, 2026-12-07). The job
 *   would then hold its nodes until the scheduler's time limit, and a stop
 *   signal would only set shardml's flag, which nobody reads any more.
 * So during MPI_Finalize a crash (not in sanitizer builds, whose reports
 * must show), a stop signal (SIGTERM, SIGUSR1: nothing is left to
 * checkpoint) or SHARDML_FINALIZE_TIMEOUT seconds without it returning end
 * the process with the agreed status and one warning line per rank. The
 * lines are made before the handlers are installed: a handler may only
 * write and exit. The crash and the hang would only cancel the jobs that
 * wait for this one with afterok. */
#define SML_FINALIZE_TIMEOUT_DEFAULT 120
static long finalize_timeout_s = SML_FINALIZE_TIMEOUT_DEFAULT;
enum { SHUTDOWN_CRASH, SHUTDOWN_SIGNAL, SHUTDOWN_HUNG, SHUTDOWN_KINDS };
static char shutdown_warning[SHUTDOWN_KINDS][200];
static size_t shutdown_warning_len[SHUTDOWN_KINDS];
static volatile sig_atomic_t shutdown_status;

static void shutdown_exit(int kind) {
  ssize_t written = write(STDERR_FILENO, shutdown_warning[kind], shutdown_warning_len[kind]);
  (void)written;
  _exit(shutdown_status);
}

static void on_shutdown_signal(int sig) {
  shutdown_exit(sig == SIGTERM || sig == SIGUSR1 ? SHUTDOWN_SIGNAL : SHUTDOWN_CRASH);
}

static void *shutdown_watchdog(void *arg) {
  (void)arg;
  struct timespec left = {.tv_sec = finalize_timeout_s, .tv_nsec = 0};
  while (nanosleep(&left, &left) != 0) continue; /* interrupted: sleep the rest */
  shutdown_exit(SHUTDOWN_HUNG);
  return NULL;
}

int sml_finalize_settings(sml_err *err) {
  const char *text = getenv("SHARDML_FINALIZE_TIMEOUT");
  if (!text) return SML_OK;
  char *end;
  errno = 0;
  const long v = strtol(text, &end, 10);
  if (end == text || *end || errno || v < 0 || v > 86400)
    return sml_fail(err, SML_EINPUT,
                    "SHARDML_FINALIZE_TIMEOUT=%s: expected whole seconds from 0 (wait for ever) to 86400", text);
  finalize_timeout_s = v;
  return SML_OK;
}

static void shutdown_line(int kind, int rank, int status, const char *what) {
  const int n =
      snprintf(shutdown_warning[kind], sizeof shutdown_warning[kind],
               "shardml: warning: rank %d: %s, after the work was done; exit status %d kept\n", rank, what, status);
  shutdown_warning_len[kind] = n > 0 && (size_t)n < sizeof shutdown_warning[kind] ? (size_t)n : 0;
}

void sml_finalize_status(int status) {
  const int crash = sml_fault_injected("crash-in-finalize"), hang = sml_fault_injected("hang-in-finalize");
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char hung[96];
  snprintf(hung, sizeof hung, "the MPI library did not finish shutting down within %ld s", finalize_timeout_s);
  shutdown_line(SHUTDOWN_CRASH, rank, status, "the MPI library crashed while shutting down");
  shutdown_line(SHUTDOWN_SIGNAL, rank, status, "stopped by a signal while the MPI library shut down");
  shutdown_line(SHUTDOWN_HUNG, rank, status, hung);
  shutdown_status = status;
  fflush(NULL); /* what the handlers' _exit would otherwise drop */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_shutdown_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
#ifndef SML_SANITIZED
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
#endif
  pthread_t watchdog;
  if (finalize_timeout_s > 0 && pthread_create(&watchdog, NULL, shutdown_watchdog, NULL) == 0) pthread_detach(watchdog);
  if (hang) { /* for the tests: as if MPI_Finalize never returned (nor told the launcher) */
    fprintf(stderr, "shardml: fault: rank %d (pid %ld) hangs in MPI_Finalize\n", rank, (long)getpid());
    fflush(stderr);
    for (;;) pause();
  }
  sml_finalize();
  if (crash) raise(SIGSEGV); /* ... or crashed after it */
}

int sml_agree(const sml_comm *c, int status, sml_err *err) {
  int worst = status;
  MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, c->comm);
  if (worst == SML_OK) return SML_OK;
  /* The lowest failing rank speaks for everyone: deterministic, and the
   * message names the file/option that rank saw. */
  int speaker = status != SML_OK ? c->rank : INT_MAX;
  int first = INT_MAX;
  MPI_Allreduce(&speaker, &first, 1, MPI_INT, MPI_MIN, c->comm);
  sml_err local;
  if (err == NULL) err = &local;
  if (c->rank != first) err->msg[0] = err->quantity[0] = '\0';
  err->msg[SML_ERR_LEN - 1] = '\0';
  err->quantity[SML_QUANTITY_LEN - 1] = '\0';
  MPI_Bcast(err, (int)sizeof *err, MPI_BYTE, first, c->comm);
  return worst;
}

static void allreduce_chunked(const sml_comm *c, void *buf, int64_t n, size_t elem, MPI_Datatype type, MPI_Op op) {
  char *p = buf;
  for (int64_t done = 0; done < n; done += SML_MPI_CHUNK) {
    int64_t part = n - done < SML_MPI_CHUNK ? n - done : SML_MPI_CHUNK;
    MPI_Allreduce(MPI_IN_PLACE, p + done * (int64_t)elem, (int)part, type, op, c->comm);
  }
}

void sml_allreduce_sum_u64(const sml_comm *c, uint64_t *buf, int64_t n) {
  allreduce_chunked(c, buf, n, sizeof *buf, MPI_UINT64_T, MPI_SUM);
}
void sml_allreduce_sum_i64(const sml_comm *c, int64_t *buf, int64_t n) {
  allreduce_chunked(c, buf, n, sizeof *buf, MPI_INT64_T, MPI_SUM);
}
void sml_allreduce_sum_f64(const sml_comm *c, double *buf, int64_t n) {
  allreduce_chunked(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM);
}
void sml_allreduce_sum_f32(const sml_comm *c, float *buf, int64_t n) {
  allreduce_chunked(c, buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM);
}

static void iallreduce(const sml_comm *c, void *buf, int64_t n, MPI_Datatype type, MPI_Op op, sml_request *req) {
  SML_ASSERT(n < SML_MPI_CHUNK);
  MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, type, op, c->comm, req);
}

void sml_iallreduce_sum_f32(const sml_comm *c, float *buf, int64_t n, sml_request *req) {
  iallreduce(c, buf, n, MPI_FLOAT, MPI_SUM, req);
}
void sml_iallreduce_sum_i64(const sml_comm *c, int64_t *buf, int64_t n, sml_request *req) {
  iallreduce(c, buf, n, MPI_INT64_T, MPI_SUM, req);
}
void sml_iallreduce_max_f64(const sml_comm *c, double *buf, int64_t n, sml_request *req) {
  iallreduce(c, buf, n, MPI_DOUBLE, MPI_MAX, req);
}

void sml_allreduce_sum_half(const sml_comm *c, uint16_t *buf, int64_t n, sml_half_kind kind) {
  SML_ASSERT(half_sum_op[kind] != MPI_OP_NULL);
  allreduce_chunked(c, buf, n, sizeof *buf, MPI_UINT16_T, half_sum_op[kind]);
}

void sml_iallreduce_sum_half(const sml_comm *c, uint16_t *buf, int64_t n, sml_half_kind kind, sml_request *req) {
  SML_ASSERT(half_sum_op[kind] != MPI_OP_NULL);
  iallreduce(c, buf, n, MPI_UINT16_T, half_sum_op[kind], req);
}

/* One request at a time with a status of our own: MPICH's headers declare
 * the status arrays' sizes, and GCC then rejects MPI_STATUSES_IGNORE. */
int sml_requests_test(sml_request *reqs, int n) {
  int done = 1;
  for (int i = 0; i < n; i++) {
    int flag = 0;
    MPI_Status status;
    MPI_Test(&reqs[i], &flag, &status);
    done &= flag != 0;
  }
  return done;
}

void sml_requests_wait(sml_request *reqs, int n) {
  for (int i = 0; i < n; i++) {
    MPI_Status status;
    MPI_Wait(&reqs[i], &status);
  }
}

void sml_allreduce_max_f64(const sml_comm *c, double *buf, int64_t n) {
  allreduce_chunked(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_MAX);
}

void sml_alltoallv_bytes(const sml_comm *c, const void *send, const int64_t *send_counts, void *recv,
                         const int64_t *recv_counts) {
  int *counts = SML_ALLOC((size_t)(4 * c->size) * sizeof *counts);
  int *scount = counts, *sdispl = counts + c->size, *rcount = counts + 2 * c->size, *rdispl = counts + 3 * c->size;
  int64_t so = 0, ro = 0;
  for (int r = 0; r < c->size; r++) {
    SML_ASSERT(send_counts[r] < INT_MAX && recv_counts[r] < INT_MAX && so < INT_MAX && ro < INT_MAX);
    scount[r] = (int)send_counts[r];
    rcount[r] = (int)recv_counts[r];
    sdispl[r] = (int)so;
    rdispl[r] = (int)ro;
    so += send_counts[r];
    ro += recv_counts[r];
  }
  MPI_Alltoallv(send, scount, sdispl, MPI_BYTE, recv, rcount, rdispl, MPI_BYTE, c->comm);
  free(counts);
}

int64_t sml_allreduce_min_i64(const sml_comm *c, int64_t value) {
  int64_t least = value;
  MPI_Allreduce(&value, &least, 1, MPI_INT64_T, MPI_MIN, c->comm);
  return least;
}

void sml_bcast_bytes(const sml_comm *c, void *buf, int64_t bytes, int root) {
  char *p = buf;
  for (int64_t done = 0; done < bytes; done += SML_MPI_CHUNK) {
    int64_t part = bytes - done < SML_MPI_CHUNK ? bytes - done : SML_MPI_CHUNK;
    MPI_Bcast(p + done, (int)part, MPI_BYTE, root, c->comm);
  }
}

void sml_gather_i64(const sml_comm *c, int64_t value, int64_t *out, int root) {
  MPI_Gather(&value, 1, MPI_INT64_T, out, 1, MPI_INT64_T, root, c->comm);
}

void sml_allgather_i64(const sml_comm *c, int64_t value, int64_t *out) {
  MPI_Allgather(&value, 1, MPI_INT64_T, out, 1, MPI_INT64_T, c->comm);
}

void sml_gather_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, int root) {
  int64_t *counts = c->rank == root ? SML_ALLOC((size_t)c->size * sizeof *counts) : NULL;
  if (counts)
    for (int r = 0; r < c->size; r++) counts[r] = bytes;
  sml_gatherv_bytes(c, in, bytes, out, counts, root);
  free(counts);
}

/* Point-to-point so that blocks above 2 GiB need no MPI-4 large counts. */
void sml_gatherv_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, const int64_t *counts, int root) {
  const int tag = 7301;
  if (c->rank != root) {
    const char *p = in;
    for (int64_t done = 0; done < bytes; done += SML_MPI_CHUNK) {
      int64_t part = bytes - done < SML_MPI_CHUNK ? bytes - done : SML_MPI_CHUNK;
      MPI_Send(p + done, (int)part, MPI_BYTE, root, tag, c->comm);
    }
    return;
  }
  char *dst = out;
  for (int r = 0; r < c->size; r++) {
    if (r == root) {
      if (counts[r] > 0) memcpy(dst, in, (size_t)counts[r]);
    } else {
      for (int64_t done = 0; done < counts[r]; done += SML_MPI_CHUNK) {
        int64_t part = counts[r] - done < SML_MPI_CHUNK ? counts[r] - done : SML_MPI_CHUNK;
        MPI_Recv(dst + done, (int)part, MPI_BYTE, r, tag, c->comm, MPI_STATUS_IGNORE);
      }
    }
    dst += counts[r];
  }
}

void sml_scatter_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out, int root) {
  const int tag = 7302;
  if (c->rank != root) {
    char *p = out;
    for (int64_t done = 0; done < bytes; done += SML_MPI_CHUNK) {
      int64_t part = bytes - done < SML_MPI_CHUNK ? bytes - done : SML_MPI_CHUNK;
      MPI_Recv(p + done, (int)part, MPI_BYTE, root, tag, c->comm, MPI_STATUS_IGNORE);
    }
    return;
  }
  const char *src = in;
  for (int r = 0; r < c->size; r++, src += bytes) {
    if (r == root) {
      if (bytes > 0) memcpy(out, src, (size_t)bytes);
      continue;
    }
    for (int64_t done = 0; done < bytes; done += SML_MPI_CHUNK) {
      int64_t part = bytes - done < SML_MPI_CHUNK ? bytes - done : SML_MPI_CHUNK;
      MPI_Send(src + done, (int)part, MPI_BYTE, r, tag, c->comm);
    }
  }
}

void sml_allgatherv_bytes(const sml_comm *c, const void *in, int64_t bytes, void *out) {
  int64_t *counts = SML_ALLOC((size_t)c->size * sizeof *counts), total = 0;
  sml_allgather_i64(c, bytes, counts);
  for (int r = 0; r < c->size; r++) total += counts[r];
  sml_gatherv_bytes(c, in, bytes, out, counts, 0);
  sml_bcast_bytes(c, out, total, 0);
  free(counts);
}

void sml_allgatherv_rows_f32(const sml_comm *c, float *rows, int64_t row_len, const int64_t *first,
                             const int64_t *count) {
  int *nrows = SML_ALLOC((size_t)(2 * c->size) * sizeof *nrows), *displ = nrows + c->size;
  for (int r = 0; r < c->size; r++) {
    SML_ASSERT(first[r] >= 0 && count[r] >= 0 && first[r] + count[r] < INT_MAX);
    nrows[r] = (int)count[r];
    displ[r] = (int)first[r];
  }
  /* Counts in rows: a datatype of a row's columns [done, done + part) whose
   * extent is the whole row (one column chunk, the whole row, unless a row
   * holds more than SML_MPI_CHUNK floats). */
  for (int64_t done = 0; done < row_len; done += SML_MPI_CHUNK) {
    const int64_t part = row_len - done < SML_MPI_CHUNK ? row_len - done : SML_MPI_CHUNK;
    MPI_Datatype columns, row;
    MPI_Type_contiguous((int)part, MPI_FLOAT, &columns);
    MPI_Type_create_resized(columns, 0, (MPI_Aint)(row_len * (int64_t)sizeof *rows), &row);
    MPI_Type_commit(&row);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows + done, nrows, displ, row, c->comm);
    MPI_Type_free(&row);
    MPI_Type_free(&columns);
  }
  free(nrows);
}

void sml_reduce_max_u8(const sml_comm *c, uint8_t *buf, int64_t n, int root) {
  for (int64_t done = 0; done < n; done += SML_MPI_CHUNK) {
    int64_t part = n - done < SML_MPI_CHUNK ? n - done : SML_MPI_CHUNK;
    MPI_Reduce(c->rank == root ? MPI_IN_PLACE : buf + done, buf + done, (int)part, MPI_UINT8_T, MPI_MAX, root, c->comm);
  }
}

void sml_barrier(const sml_comm *c) { MPI_Barrier(c->comm); }

double sml_now(void) { return MPI_Wtime(); }

/* A live progress line is on rank 0's terminal, to be erased before the
 * next log line. */
static int progress_shown = 0;

void sml_log(const sml_comm *c, const char *fmt, ...) {
  if (c->rank != 0) return;
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%sshardml: %s\n", progress_shown ? "\r\033[K" : "", line);
  progress_shown = 0;
  fflush(stderr);
}

int sml_progress_enabled(const sml_comm *c) {
  static int enabled = -1;
  if (enabled < 0) {
    const char *force = getenv(SML_PROGRESS_ENV);
    enabled = force && *force ? strcmp(force, "0") != 0 : isatty(STDERR_FILENO);
  }
  return c->rank == 0 && enabled;
}

void sml_progress(const sml_comm *c, const char *fmt, ...) {
  if (!sml_progress_enabled(c)) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\rshardml: %.70s\033[K", line); /* one terminal line: 79 columns at most */
  progress_shown = 1;
  fflush(stderr);
}

int sml_threads(void) { return omp_get_max_threads(); }

void sml_task_counter_create(sml_task_counter *tc, const sml_comm *c) {
  MPI_Aint size = c->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0;
  MPI_Win_allocate(size, sizeof(int64_t), MPI_INFO_NULL, c->comm, &tc->base, &tc->win);
  if (c->rank == 0) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, tc->win);
    *tc->base = 0;
    MPI_Win_unlock(0, tc->win);
  }
  MPI_Barrier(c->comm);
}

static int64_t counter_op(sml_task_counter *tc, int64_t add, MPI_Op op) {
  int64_t before = 0;
  MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, tc->win);
  MPI_Fetch_and_op(&add, &before, MPI_INT64_T, 0, 0, op, tc->win);
  MPI_Win_unlock(0, tc->win);
  return before;
}

int64_t sml_task_counter_next(sml_task_counter *tc) { return counter_op(tc, 1, MPI_SUM); }
int64_t sml_task_counter_peek(sml_task_counter *tc) { return counter_op(tc, 0, MPI_NO_OP); }
void sml_task_counter_close(sml_task_counter *tc, int64_t end) { (void)counter_op(tc, end, MPI_SUM); }

void sml_task_counter_free(sml_task_counter *tc) { MPI_Win_free(&tc->win); }

const char *sml_mpi_library(void) {
  static char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  version[strcspn(version, "\n")] = '\0'; /* MPICH's string goes on for many lines */
  size_t n = strlen(version);
  while (n > 0 && (version[n - 1] == ' ' || version[n - 1] == '\t' || version[n - 1] == ',')) version[--n] = '\0';
  return version;
}

const char *sml_mpi_standard(void) {
  static char version[16];
  int major = 0, minor = 0;
  MPI_Get_version(&major, &minor);
  snprintf(version, sizeof version, "%d.%d", major, minor);
  return version;
}
