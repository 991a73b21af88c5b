/* Dynamic task scheduling over groups of ranks, with a journal. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shardml/tasks.h"
#include "shardml/checkpoint.h"
#include "base/hash.h"
#include "io/io.h"
#include "shardml/signals.h"

uint64_t sml_signature(const char *text) { return sml_fnv1a(SML_FNV1A_INIT, text, strlen(text)); }

/* One finished (configuration, fold) into its cell of the table. */
static void table_store(sml_cv_table *t, const sml_task_result *r) {
  const size_t cell = (size_t)r->config * t->nfolds + r->fold;
  t->score[cell] = r->score;
  t->fit_time[cell] = r->fit_time;
  t->score_time[cell] = r->score_time;
  t->train_score[cell] = r->train_score;
}

/* The journal: a header line, then per finished task its result lines and
 * a "done" line, all in one write(2) on a file opened O_APPEND, so that
 * concurrent group leaders never interleave and a task killed half-way
 * leaves no "done" line (it is then redone). */
static int journal_append(const char *path, int task, const sml_task_result *r, int n, int train_scores, sml_err *err) {
  size_t cap = (size_t)(n + 2) * 192, len = 0;
  char *buf = SML_ALLOC(cap);
  for (int i = 0; i < n; i++) {
    len +=
        (size_t)snprintf(buf + len, cap - len, "result task=%d config=%d fold=%d score=%.17g fit=%.6f score_time=%.6f",
                         task, r[i].config, r[i].fold, r[i].score, r[i].fit_time, r[i].score_time);
    if (train_scores) len += (size_t)snprintf(buf + len, cap - len, " train=%.17g", r[i].train_score);
    len += (size_t)snprintf(buf + len, cap - len, "\n");
  }
  len += (size_t)snprintf(buf + len, cap - len, "done task=%d\n", task);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  int st = SML_OK;
  if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0)
    st = sml_fail(err, SML_ERUNTIME, "%s: cannot append to the journal: %s", path, strerror(errno));
  if (fd >= 0) close(fd);
  free(buf);
  return st;
}

/* One search per journal at a time: a lock on <journal>.lock, held by
 * world rank 0 for the whole search. A job array's slices each take their
 * own slot of it and run side by side; a whole search takes all of it, so
 * it and any slice exclude each other (both would compute the same tasks). */
static int journal_lock(const sml_task_plan *plan, sml_lock *lock, sml_err *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s.lock", plan->journal);
  return sml_lock_exclusive(lock, path, plan->nslices > 1 ? plan->slice : -1, plan->journal,
                            "another search is running on it", "output directory", err);
}

/* A journal whose last line was cut by a kill (no newline) gets that line
 * removed, so that the next append starts a line of its own instead of
 * gluing onto it (the glued task would be lost and run again). Returns the
 * bytes cut. */
static int64_t journal_cut_torn_tail(const char *path) {
  int fd = open(path, O_RDWR);
  if (fd < 0) return 0;
  off_t end = lseek(fd, 0, SEEK_END), keep = end;
  char block[4096];
  for (int done = 0; !done && keep > 0;) {
    const off_t from = keep > (off_t)sizeof block ? keep - (off_t)sizeof block : 0;
    const ssize_t n = pread(fd, block, (size_t)(keep - from), from);
    if (n <= 0) break;
    if (keep == end && block[n - 1] == '\n') break; /* intact */
    for (ssize_t i = n - 1; i >= 0; i--)
      if (block[i] == '\n') {
        keep = from + i + 1;
        done = 1;
        break;
      }
    if (!done) keep = from;
  }
  const int64_t cut = keep < end && ftruncate(fd, keep) == 0 ? (int64_t)(end - keep) : 0;
  close(fd);
  return cut;
}

/* Reads a journal: done[t] = 1 for finished tasks, their results into the
 * table. Creates it with its header when missing. Rank 0 only. */
static int journal_load(const sml_task_plan *plan, char *done, sml_cv_table *t, int *ndone, sml_err *err) {
  *ndone = 0;
  FILE *f = fopen(plan->journal, "r");
  char header[128];
  snprintf(header, sizeof header, "# shardml search journal v1 signature=%016" PRIx64 "\n", plan->signature);
  if (!f) {
    /* Created with its header in one step (write a temporary, then link it
     * to the name), so that concurrent searches of a job array never see
     * an empty journal; losing the race is fine: the other made it. */
    char tmp[4200];
    sml_temp_name(tmp, sizeof tmp, plan->journal);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = fd >= 0 && write(fd, header, strlen(header)) == (ssize_t)strlen(header) && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    int linked = ok ? link(tmp, plan->journal) : -1;
    int e = errno;
    unlink(tmp);
    if (!ok || (linked != 0 && e != EEXIST))
      return sml_fail(err, SML_ERUNTIME, "%s: cannot create the journal: %s", plan->journal, strerror(e));
    if (linked == 0) return SML_OK;
    f = fopen(plan->journal, "r");
    if (!f) return sml_fail(err, SML_ERUNTIME, "%s: cannot read the journal: %s", plan->journal, strerror(errno));
  }
  int skipped = 0;
  const int st = sml_journal_parse(f, plan->journal, plan->signature, plan->ntasks, done, t, ndone, &skipped, err);
  fclose(f);
  if (st == SML_OK && skipped > 0)
    fprintf(stderr,
            "shardml: %s: skipped %d damaged line(s) (a crash or power loss); the lines after them count, "
            "and tasks they left unfinished run again\n",
            plan->journal, skipped);
  return st;
}

/* The next line without its line end ("\n" or "\r\n"), any length; 0 at
 * the end, -1 for a last line without a newline (cut by a kill). *len is
 * its length, which strlen(line) falls short of when it holds a NUL byte. */
static int next_line(FILE *f, char **line, size_t *cap, ssize_t *len) {
  *len = getline(line, cap, f);
  if (*len < 0) return 0;
  if ((*line)[*len - 1] != '\n') return -1;
  (*line)[--*len] = '\0';
  if (*len > 0 && (*line)[*len - 1] == '\r') (*line)[--*len] = '\0'; /* edited on Windows */
  return 1;
}

int sml_journal_parse(FILE *f, const char *path, uint64_t signature, int ntasks, char *done, sml_cv_table *t,
                      int *ndone, int *nskipped, sml_err *err) {
  char header[128];
  snprintf(header, sizeof header, "# shardml search journal v1 signature=%016" PRIx64, signature);
  *ndone = *nskipped = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  if (next_line(f, &line, &cap, &len) != 1 || strcmp(line, header) != 0) {
    const int is_journal = line && strncmp(line, header, 38) == 0; /* "# shardml search journal v1 signature=" */
    free(line);
    if (is_journal)
      return sml_fail(err, SML_EINPUT,
                      "%s: a journal of another search (different options or data); use another output directory or "
                      "remove it",
                      path);
    return sml_fail(err, SML_EINPUT, "%s: not a shardml search journal (its first line is not the journal header)",
                    path);
  }
  /* Results are kept per task until its "done" line confirms them. A line
   * that is not one of the two (a power loss leaves zeros or garbage of any
   * length) is skipped and counted: the lines after it still count. */
  sml_task_result *pending = SML_ALLOC(SML_TASK_MAX_RESULTS * sizeof *pending);
  int npending = 0, pending_task = -1, more;
  while ((more = next_line(f, &line, &cap, &len)) == 1) {
    sml_task_result r;
    int task, used = -1, tail = -1;
    if ((ssize_t)strlen(line) != len) { /* a NUL byte */
      (*nskipped)++;
    } else if (sscanf(line, "result task=%d config=%d fold=%d score=%lf fit=%lf score_time=%lf%n", &task, &r.config,
                      &r.fold, &r.score, &r.fit_time, &r.score_time, &used) == 6 &&
               (used == len ||
                (sscanf(line + used, " train=%lf%n", &r.train_score, &tail) == 1 && used + tail == len))) {
      if (used == len) r.train_score = NAN; /* a journal without train scores */
      if (task != pending_task) npending = 0;
      pending_task = task;
      if (npending < SML_TASK_MAX_RESULTS) pending[npending++] = r;
    } else if (sscanf(line, "done task=%d%n", &task, &used) == 1 && used == len) {
      if (task == pending_task && task >= 0 && task < ntasks && !done[task]) {
        for (int i = 0; i < npending; i++)
          if (pending[i].config >= 0 && pending[i].config < t->nconfigs && pending[i].fold >= 0 &&
              pending[i].fold < t->nfolds)
            table_store(t, &pending[i]);
        done[task] = 1;
        (*ndone)++;
      }
      npending = 0;
      pending_task = -1;
    } else {
      (*nskipped)++;
    }
  }
  free(pending);
  free(line);
  return SML_OK;
}

void sml_task_load_free(sml_task_load *load) {
  free(load->busy_s);
  free(load->tasks);
  load->busy_s = NULL;
  load->tasks = NULL;
}

void sml_task_load_from_ranks(sml_task_load *load, int nranks, const double *rank_busy, const int64_t *rank_tasks) {
  /* A group's leader is its lowest rank (groups are contiguous blocks). */
  int64_t first, count;
  for (int group = 0; group < load->ngroups; group++) {
    sml_block_range(nranks, group, load->ngroups, &first, &count);
    load->busy_s[group] = rank_busy[first];
    load->tasks[group] = (int)rank_tasks[first];
  }
}

int sml_run_tasks(const sml_task_plan *plan, const sml_groups *g, const sml_comm *world, sml_cv_table *table,
                  sml_task_load *load, sml_err *err) {
  const char *name = plan->name ? plan->name : "search"; /* how progress lines begin */
  memset(load, 0, sizeof *load);
  load->ngroups = g->ngroups;
  load->busy_s = SML_CALLOC((size_t)g->ngroups, sizeof *load->busy_s);
  load->tasks = SML_CALLOC((size_t)g->ngroups, sizeof *load->tasks);
  const int n = plan->ntasks;
  char *done = SML_CALLOC((size_t)n + 1, 1);
  int st = SML_OK, ndone = 0;
  sml_lock lock = {-1};
  if (world->rank == 0 && plan->journal) {
    st = journal_lock(plan, &lock, err);
    if (st == SML_OK) {
      const int64_t cut = journal_cut_torn_tail(plan->journal);
      if (cut > 0)
        fprintf(stderr, "shardml: %s: cut a torn last line (%lld bytes) left by a kill\n", plan->journal,
                (long long)cut);
      char dir[4096];
      snprintf(dir, sizeof dir, "%s", plan->journal);
      char *slash = strrchr(dir, '/');
      if (slash) *slash = '\0';
      sml_remove_stale_temps(slash ? dir : ".");
      st = journal_load(plan, done, table, &ndone, err);
    }
  }
  st = sml_agree(world, st, err);
  if (st != SML_OK) {
    sml_lock_release(&lock);
    free(done);
    return st;
  }
  sml_bcast_bytes(world, done, n, 0);
  sml_bcast_bytes(world, &ndone, sizeof ndone, 0);
  load->skipped = ndone;
  if (ndone > 0)
    sml_log(world, "%s: the journal holds %d of %d tasks; running the other %d", name, ndone, n, n - ndone);
  int *todo = SML_ALLOC((size_t)n * sizeof *todo + 1);
  int ntodo = 0;
  for (int t = 0; t < n; t++)
    if (!done[t] && (plan->nslices <= 1 || t % plan->nslices == plan->slice)) todo[ntodo++] = t;

  sml_task_counter counter, done_counter; /* tasks handed out; tasks done, by any group */
  sml_task_counter_create(&counter, world);
  sml_task_counter_create(&done_counter, world);
  sml_task_result *results = SML_ALLOC(SML_TASK_MAX_RESULTS * sizeof *results);
  const sml_comm *gc = &g->comm;
  const double t_start = sml_now();
  double busy = 0;
  int mine = 0;
  for (;;) {
    /* Preemption (SIGTERM/SIGUSR1 on any rank of the group): no new task;
     * the shared counter is closed so that every other group stops after
     * the task it is running. A training task in flight stops at its next
     * step by itself (sml_train polls the signal), unjournaled. */
    int64_t signalled = sml_signal_pending() != 0;
    sml_allreduce_sum_i64(gc, &signalled, 1);
    if (signalled) {
      if (gc->rank == 0) sml_task_counter_close(&counter, ntodo);
      st = SML_EXIT_PREEMPTED;
      break;
    }
    int64_t next = gc->rank == 0 ? sml_task_counter_next(&counter) : 0;
    sml_bcast_bytes(gc, &next, sizeof next, 0);
    if (next >= ntodo) break;
    const int task = todo[next];
    const double t0 = sml_now();
    int nres = plan->run(plan->ctx, task, gc, results, err);
    /* A failing task stops its group; the others learn it at the end (a
     * preempted one closes the counter too, as above). */
    if (nres < 0) {
      st = -nres;
      if (st == SML_EXIT_PREEMPTED && gc->rank == 0) sml_task_counter_close(&counter, ntodo);
      break;
    }
    busy += sml_now() - t0;
    mine++;
    if (gc->rank == 0) {
      for (int i = 0; i < nres; i++) table_store(table, &results[i]);
      if (plan->journal) st = journal_append(plan->journal, task, results, nres, plan->train_scores, err);
      sml_task_counter_next(&done_counter);
    }
    st = sml_agree(gc, st, err);
    if (st != SML_OK) break;
    if (world->rank == 0) {
      char what[128] = "";
      if (plan->describe) plan->describe(plan->ctx, task, what, sizeof what);
      const double elapsed = sml_now() - t_start;
      int64_t started = sml_task_counter_peek(&counter), done_now = sml_task_counter_peek(&done_counter);
      if (started > ntodo) started = ntodo;
      /* Only world rank 0 prints, after its own tasks; the counts cover every group. */
      sml_log(world, "%s: task %d/%d (%s) took %.1fs in group 0 of %d; %lld of %d finished, %lld started; ~%.0fs left",
              name, task + 1, n, what, sml_now() - t0, g->ngroups, (long long)done_now, ntodo, (long long)started,
              done_now > 0 ? elapsed / (double)done_now * (double)(ntodo - done_now) : 0.0);
    }
  }
  /* Every rank leaves the loop (the counter ran out or its group failed). */
  sml_task_counter_free(&counter);
  sml_task_counter_free(&done_counter);
  sml_lock_release(&lock); /* every task of this run is journaled or abandoned */
  st = sml_agree(world, st, err);
  load->wall_s = sml_now() - t_start;
  double *all_busy = SML_CALLOC((size_t)world->size, sizeof *all_busy);
  int64_t *all_tasks = SML_CALLOC((size_t)world->size, sizeof *all_tasks);
  all_busy[world->rank] = gc->rank == 0 ? busy : 0;
  all_tasks[world->rank] = gc->rank == 0 ? mine : 0;
  sml_allreduce_sum_f64(world, all_busy, world->size);
  sml_allreduce_sum_i64(world, all_tasks, world->size);
  sml_task_load_from_ranks(load, world->size, all_busy, all_tasks);
  if (st == SML_EXIT_PREEMPTED) {
    int64_t finished = load->skipped;
    for (int r = 0; r < world->size; r++) finished += all_tasks[r];
    sml_fail(err, SML_EXIT_PREEMPTED,
             "stopped by a signal; %lld of %d tasks are finished%s%s; run the same command again for the rest",
             (long long)finished, n, plan->journal ? " and in the journal " : " (no journal: nothing is kept)",
             plan->journal ? plan->journal : "");
  }
  free(all_busy);
  free(all_tasks);
  if (st == SML_OK) sml_cv_table_allreduce(table, world);
  free(done);
  free(todo);
  free(results);
  return st;
}
