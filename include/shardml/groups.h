/* Groups of ranks: the world split into groups that each hold the whole
 * training set sharded over their own ranks, and the folds of that set. */
#ifndef SHARDML_GROUPS_H
#define SHARDML_GROUPS_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/comm.h"

SHARDML_BEGIN_DECLS

/* World split into `groups` groups of contiguous ranks (sizes differ by at
 * most one). Collective over world. */
typedef struct {
  int ngroups;
  int group;     /* this rank's group */
  sml_comm comm; /* the group's communicator */
} sml_groups;
SHARDML_API int sml_groups_split(sml_groups *g, const sml_comm *world, int ngroups, sml_err *err);
SHARDML_API void sml_groups_free(sml_groups *g);
/* "2 groups of 1 rank", "3 groups of 1-2 ranks": for log lines. */
SHARDML_API void sml_groups_text(int ranks, int ngroups, char *out, size_t len);
/* Splits world into groups, then every group loads the whole training set
 * sharded over its own ranks (no test split). Collective; agreed over world. */
SHARDML_API int sml_groups_load(sml_groups *g, sml_dataset *ds, const sml_comm *world, int ngroups,
                                const sml_data_options *data, sml_err *err);

/* The fold of each of the first n training images of a group's dataset
 * (sharded over the group; labels allgathered within it), by the dataset's
 * split rule; with folds == 1, a single split: 1 for the n/5 validation
 * images, 0 for the others. A warning on world's rank 0 if a validation
 * part lacks a class. Returns fold[n], to free. Collective over group. */
SHARDML_API int *sml_group_folds(const sml_dataset *ds, int64_t n, int folds, const sml_comm *group,
                                 const sml_comm *world);

SHARDML_END_DECLS

#endif
