/* The configurations of a hyperparameter search (see shardml/search.h). */
#include <math.h>
#include <string.h>

#include "base/rng.h"
#include "shardml/search.h"

static double draw(const sml_search_axis *a, sml_rng *rng) {
  if (a->range) return exp(log(a->v[0]) + sml_rng_uniform(rng) * (log(a->v[1]) - log(a->v[0])));
  return a->v[sml_rng_next(rng) % (uint64_t)a->n];
}

static void set_hidden(const sml_search_space *s, int h, sml_search_point *p) {
  if (!s->nalternatives) return;
  p->nhidden = s->nhidden[h];
  memcpy(p->hidden, s->hidden[h], sizeof p->hidden);
  memcpy(p->net, s->net[h], sizeof p->net);
}

int sml_search_points(const sml_search_space *s, int64_t random_n, uint64_t seed, sml_search_point *points,
                      int *npoints, sml_err *err) {
  *npoints = 0;
  if (s->lr.n < 1 || s->reg.n < 1 || s->nbatch < 1)
    return sml_fail(err, SML_EINPUT, "search space: every axis needs a value");
  const int nhid = s->nalternatives ? s->nalternatives : 1;
  if (random_n > 0) {
    if (random_n > SML_SEARCH_MAX_POINTS)
      return sml_fail_quantity(err, SML_EINPUT, "random configurations", " %lld: at most %d", (long long)random_n,
                               SML_SEARCH_MAX_POINTS);
    sml_rng rng = sml_rng_stream(seed, SML_STREAM_SEARCH, 0);
    for (int i = 0; i < random_n; i++) {
      sml_search_point *p = &points[i];
      memset(p, 0, sizeof *p);
      p->lr = draw(&s->lr, &rng);
      p->reg = draw(&s->reg, &rng);
      if (s->nalternatives) set_hidden(s, (int)(sml_rng_next(&rng) % (uint64_t)s->nalternatives), p);
      p->batch = s->batch[sml_rng_next(&rng) % (uint64_t)s->nbatch];
    }
    *npoints = (int)random_n;
    return SML_OK;
  }
  if (s->lr.range || s->reg.range)
    return sml_fail(err, SML_EINPUT, "search space: ranges LO:HI are for random search, not a grid");
  if ((int64_t)s->lr.n * s->reg.n * nhid * s->nbatch > SML_SEARCH_MAX_POINTS)
    return sml_fail(err, SML_EINPUT, "the grid has more than %d points", SML_SEARCH_MAX_POINTS);
  int n = 0;
  for (int a = 0; a < s->lr.n; a++)
    for (int b = 0; b < s->reg.n; b++)
      for (int h = 0; h < nhid; h++)
        for (int k = 0; k < s->nbatch; k++) {
          sml_search_point *p = &points[n++];
          memset(p, 0, sizeof *p);
          p->lr = s->lr.v[a];
          p->reg = s->reg.v[b];
          set_hidden(s, h, p);
          p->batch = s->batch[k];
        }
  *npoints = n;
  return SML_OK;
}
