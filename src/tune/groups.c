/* Groups of ranks and folds. */
#include "shardml/groups.h"

#include <stdio.h>
#include <stdlib.h>

int sml_groups_split(sml_groups *g, const sml_comm *world, int ngroups, sml_err *err) {
  if (ngroups < 1) return sml_fail_quantity(err, SML_EINPUT, "groups", " %d: must be at least 1", ngroups);
  if (ngroups > world->size)
    return sml_fail_quantity(err, SML_EINPUT, "groups", " %d: more groups than ranks (%d)", ngroups, world->size);
  g->ngroups = ngroups;
  /* Contiguous blocks of ranks, so that a group tends to share a node. */
  int64_t first, count;
  g->group = 0;
  for (int k = 0; k < ngroups; k++) {
    sml_block_range(world->size, k, ngroups, &first, &count);
    if (world->rank >= first && world->rank < first + count) g->group = k;
  }
  g->comm = sml_comm_split(world, g->group, world->rank);
  return SML_OK;
}

int sml_groups_load(sml_groups *g, sml_dataset *ds, const sml_comm *world, int ngroups, const sml_data_options *data,
                    sml_err *err) {
  SML_TRY(sml_groups_split(g, world, ngroups, err));
  sml_data_options dopt = *data;
  dopt.load_test = 0;
  int st = sml_dataset_load(ds, &dopt, &g->comm, err);
  /* Groups load the same files, but a rank can still fail alone. */
  st = sml_agree(world, st, err);
  if (st != SML_OK) {
    if (ds->train.images) sml_dataset_free(ds);
    sml_groups_free(g);
  }
  return st;
}

void sml_groups_text(int ranks, int ngroups, char *out, size_t len) {
  const int small = ngroups > 0 ? ranks / ngroups : 0, large = ngroups > 0 ? (ranks + ngroups - 1) / ngroups : 0;
  char sizes[32];
  if (small == large) snprintf(sizes, sizeof sizes, "%d", small);
  else snprintf(sizes, sizeof sizes, "%d-%d", small, large);
  snprintf(out, len, "%d group%s of %s rank%s", ngroups, ngroups == 1 ? "" : "s", sizes, large == 1 ? "" : "s");
}

void sml_groups_free(sml_groups *g) { sml_comm_free(&g->comm); }

int *sml_group_folds(const sml_dataset *ds, int64_t n, int folds, const sml_comm *group, const sml_comm *world) {
  const sml_shard *sh = &ds->train;
  uint8_t *labels = SML_ALLOC((size_t)sh->total + 1);
  sml_allgatherv_bytes(group, sh->labels, sh->count, labels);
  int *fold = SML_ALLOC((size_t)n * sizeof *fold + 1);
  if (folds == 1) sml_split_holdout(&ds->split, labels, n, ds->num_classes, n / 5, fold);
  else sml_split_folds(&ds->split, labels, n, ds->num_classes, folds, fold);
  /* A fold that lacks a class scores a model on fewer classes than it was
   * trained for (or on none it knows): say so once. */
  uint8_t missing[SML_MAX_CLASSES];
  int worst = 0, worst_fold = 0;
  for (int f = folds == 1 ? 1 : 0; f < (folds == 1 ? 2 : folds); f++) {
    const int lacking = sml_split_missing_classes(labels, fold, n, f, ds->num_classes, missing);
    if (lacking > worst) worst = lacking, worst_fold = f;
  }
  if (worst > 0) {
    char rule[96];
    sml_split_describe(&ds->split, rule, sizeof rule);
    sml_log(world, "warning: %s folds: fold %d lacks %d of the classes%s", rule, worst_fold, worst,
            ds->split.mode == SML_SPLIT_CONTIGUOUS ? " (contiguous folds of data stored class by class)"
                                                   : " (some class has fewer members than folds)");
  }
  free(labels);
  return fold;
}
