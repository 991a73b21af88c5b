/* Groups of ranks and folds. */
#include "shardml/cv.h"

int sml_groups_split(sml_groups *g, const sml_comm *world, int ngroups, sml_err *err) {
  if (ngroups < 1) return sml_fail(err, SML_EINPUT, "--groups %d: must be at least 1", ngroups);
  if (ngroups > world->size)
    return sml_fail(err, SML_EINPUT, "--groups %d: more groups than ranks (%d)", ngroups, world->size);
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

int sml_groups_load(sml_groups *g, sml_dataset *ds, const sml_comm *world, int ngroups,
                    const sml_data_options *data, sml_err *err) {
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

void sml_groups_free(sml_groups *g) {
  sml_comm_free(&g->comm);
}

int sml_fold_of(int64_t index, int64_t n, int folds) {
  /* Inverse of sml_block_range: larger folds first. */
  int64_t base = n / folds, extra = n % folds;
  int64_t big = extra * (base + 1);
  if (index < big) return (int)(index / (base + 1));
  return (int)(extra + (index - big) / base);
}
