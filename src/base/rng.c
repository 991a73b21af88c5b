/* splitmix64: tiny state, good statistical quality, trivially seekable. */
#include "base/rng.h"

#include <math.h>

#include "base/hash.h"

sml_rng sml_rng_stream(uint64_t seed, uint64_t purpose, uint64_t index) {
  sml_rng r = {sml_mix64(sml_mix64(seed) ^ sml_mix64(purpose * 0x9e3779b97f4a7c15ull + 1) ^
                         sml_mix64(index + 0x632be59bd9b4e019ull))};
  return r;
}

uint64_t sml_rng_next(sml_rng *r) {
  r->state += 0x9e3779b97f4a7c15ull;
  return sml_mix64(r->state);
}

double sml_rng_uniform(sml_rng *r) { return (double)(sml_rng_next(r) >> 11) * 0x1.0p-53; }

double sml_rng_normal(sml_rng *r) {
  double u1 = sml_rng_uniform(r), u2 = sml_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void sml_rng_permutation(sml_rng *r, int64_t *perm, int64_t n) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(sml_rng_next(r) % (uint64_t)(i + 1));
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
