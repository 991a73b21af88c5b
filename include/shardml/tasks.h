/* Tasks over groups of ranks.
 * One code path for every search: tasks are handed to groups of ranks as
 * the groups become free (a shared counter, so slow tasks do not hold up
 * fast ones), each finished task is appended to a journal, and a restarted
 * search with the same definition skips the tasks its journal holds. */
#ifndef SHARDML_TASKS_H
#define SHARDML_TASKS_H

#include "shardml/api.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "shardml/cv.h"
#include "shardml/groups.h"

SHARDML_BEGIN_DECLS

typedef struct {
  int config, fold;
  double score, fit_time, score_time;
  double train_score; /* with sml_task_plan.train_scores */
} sml_task_result;

#define SML_TASK_MAX_RESULTS 256

typedef struct {
  int ntasks;
  const char *name; /* "search" or "cv": how progress lines begin (NULL: search) */
  /* Runs task t on the group (collective over group); fills results (valid
   * on the group's rank 0) and returns their count, or a negative status. */
  int (*run)(void *ctx, int task, const sml_comm *group, sml_task_result *results, sml_err *err);
  void *ctx;
  /* What the task is, for the progress line ("fold 2, l2"). */
  void (*describe)(void *ctx, int task, char *out, size_t len);
  const char *journal; /* path; NULL: no journal */
  uint64_t signature;  /* identity of the search; a journal of another is refused */
  int slice, nslices;  /* run only tasks t with t % nslices == slice (job arrays); 0/0: all */
  int train_scores;    /* results carry train_score (so do journal lines): put it in the signature */
} sml_task_plan;

/* Per-group load: how long each group was busy, and the wall time. */
typedef struct {
  double wall_s;
  int ngroups;
  double *busy_s; /* [ngroups] */
  int *tasks;     /* [ngroups] */
  int skipped;    /* tasks found done in the journal */
} sml_task_load;
SHARDML_API void sml_task_load_free(sml_task_load *load);
/* Fills load (ngroups set, arrays sized by it) from per-rank figures, where
 * only each group's leader (its lowest rank) counts. Any number of groups. */
SHARDML_API void sml_task_load_from_ranks(sml_task_load *load, int nranks, const double *rank_busy,
                                          const int64_t *rank_tasks);

/* Collective over world; fills the table (already initialised) on every rank. */
SHARDML_API int sml_run_tasks(const sml_task_plan *plan, const sml_groups *g, const sml_comm *world,
                              sml_cv_table *table, sml_task_load *load, sml_err *err);

SHARDML_API uint64_t sml_signature(const char *text);

/* Reads an open journal (after checking its header against signature):
 * done[t] = 1 for each task with a "done" line after its results, whose
 * results go into the table; a last line cut by a kill and results of
 * unfinished tasks are ignored; damaged lines (any length, any bytes) are
 * skipped, counted in *nskipped, and the lines after them read. Lines may
 * end in "\r\n". Exposed for the fuzz harness. */
SHARDML_API int sml_journal_parse(FILE *f, const char *path, uint64_t signature, int ntasks, char *done,
                                  sml_cv_table *t, int *ndone, int *nskipped, sml_err *err);

SHARDML_END_DECLS

#endif
