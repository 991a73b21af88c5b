/* A small, seeded, reproducible generator (splitmix64). Its whole state is
 * one uint64, which checkpoints save. Streams for independent purposes are
 * derived from (seed, purpose, index) so they never depend on rank count. */
#ifndef SHARDML_RNG_H
#define SHARDML_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t state;
} sml_rng;

/* A generator for stream (purpose, index) of a base seed. */
sml_rng sml_rng_stream(uint64_t seed, uint64_t purpose, uint64_t index);
uint64_t sml_rng_next(sml_rng *r);
double sml_rng_uniform(sml_rng *r); /* [0, 1) */
double sml_rng_normal(sml_rng *r);  /* standard normal (Box-Muller) */
/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void sml_rng_permutation(sml_rng *r, int64_t *perm, int64_t n);

/* Stream purposes. */
enum {
  SML_STREAM_INIT = 1,      /* parameter initialisation */
  SML_STREAM_SHUFFLE = 2,   /* the epoch's permutation */
  SML_STREAM_GRADCHECK = 3, /* gradcheck's random problem */
  SML_STREAM_TASK_SEED = 4, /* a search task's seed */
  SML_STREAM_SEARCH = 5,    /* random search's configurations */
  SML_STREAM_SPLIT = 6,     /* shuffled folds and hold-outs */
  SML_STREAM_DROPOUT = 7,   /* dropout masks */
  SML_STREAM_AUGMENT = 8    /* data augmentation: an epoch's crops and flips */
};

#endif
