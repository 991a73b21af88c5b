/* Mean-image preprocessing. */
#include "shardml/prep.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

void sml_prep_init(sml_prep *p, const sml_shard *train, int64_t dim, const sml_comm *c) {
  p->dim = dim;
  p->mean = SML_ALLOC((size_t)dim * sizeof *p->mean);
  uint64_t *sums = SML_CALLOC((size_t)dim, sizeof *sums);
  /* Integer sums are exact, so the mean does not depend on how the images
   * are split over ranks or threads. Each thread sums whole images into a
   * private row (contiguous, vectorisable), then rows are combined. */
#pragma omp parallel
  {
    uint64_t *mine = SML_CALLOC((size_t)dim, sizeof *mine);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < train->count; i++) {
      const uint8_t *img = train->images + i * dim;
      for (int64_t j = 0; j < dim; j++) mine[j] += img[j];
    }
#pragma omp critical
    for (int64_t j = 0; j < dim; j++) sums[j] += mine[j];
    free(mine);
  }
  sml_allreduce_sum_u64(c, sums, dim);
  const double scale = train->total > 0 ? 1.0 / (255.0 * (double)train->total) : 0.0;
  for (int64_t j = 0; j < dim; j++) p->mean[j] = (float)((double)sums[j] * scale);
  free(sums);
}

void sml_prep_free(sml_prep *p) {
  free(p->mean);
  p->mean = NULL;
}

void sml_prep_batch(const sml_prep *p, const uint8_t *images, const int64_t *idx, int64_t batch, float *out) {
  sml_kernels_active()->prep_batch(out, images, idx, batch, p->dim, p->mean);
}

void sml_prep_rows(const sml_prep *p, const uint8_t *const *rows, int64_t batch, float *out) {
  sml_kernels_active()->prep_rows(out, rows, batch, p->dim, p->mean);
}

double sml_prep_mean_pixel(const sml_prep *p) {
  double s = 0;
  for (int64_t j = 0; j < p->dim; j++) s += p->mean[j];
  return p->dim ? s / (double)p->dim : 0.0;
}
