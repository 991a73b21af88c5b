/* Evaluation: scores of images, accuracy and loss of a sharded split,
 * the same bits for any layout (see shardml/train.h). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/exact.h"
#include "shardml/train.h"

/* Evaluation forwards images in blocks of EVAL_BLOCK rows aligned to their
 * index in the split (block k: images k*EVAL_BLOCK up to the next block),
 * the rows a shard lacks left zero, each block whole on one thread with
 * single-threaded kernels (BLAS inside an active parallel region runs on
 * the calling thread). So every image goes through the same matrix
 * products in the same row whatever the ranks and threads, and its scores,
 * and the accuracies and losses from them, are the same bits; and wide
 * layers are matrix products, not row-by-row loops. */
#define EVAL_BLOCK 64

void sml_images_scores(const sml_model *m, const float *params, const sml_prep *prep, const uint8_t *images,
                       int64_t first, int64_t n, float *scores) {
  if (n == 0) return;
  const int64_t C = m->width[m->nlayers], D = prep->dim;
  const int64_t block_lo = first / EVAL_BLOCK, block_hi = (first + n - 1) / EVAL_BLOCK + 1;
  const int nthreads = sml_threads();
  sml_workspace *ws = SML_ALLOC((size_t)nthreads * sizeof *ws);
  float **x = SML_ALLOC((size_t)nthreads * sizeof *x);
  for (int t = 0; t < nthreads; t++) {
    sml_workspace_init(&ws[t], m, EVAL_BLOCK);
    x[t] = SML_CALLOC((size_t)(EVAL_BLOCK * D), sizeof *x[t]);
  }
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t k = block_lo; k < block_hi; k++) {
    const int t = omp_get_thread_num();
    const int64_t lo = k * EVAL_BLOCK > first ? k * EVAL_BLOCK : first;
    const int64_t hi = (k + 1) * EVAL_BLOCK < first + n ? (k + 1) * EVAL_BLOCK : first + n;
    const int64_t row = lo - k * EVAL_BLOCK; /* the first present image's row in the block */
    if (hi - lo < EVAL_BLOCK) memset(x[t], 0, (size_t)(EVAL_BLOCK * D) * sizeof *x[t]);
    sml_prep_batch(prep, images + (lo - first) * D, NULL, hi - lo, x[t] + row * D);
    const float *s = sml_model_forward(m, params, x[t], EVAL_BLOCK, &ws[t]);
    memcpy(scores + (lo - first) * C, s + row * C, (size_t)((hi - lo) * C) * sizeof *scores);
  }
  for (int t = 0; t < nthreads; t++) {
    sml_workspace_free(&ws[t]);
    free(x[t]);
  }
  free(ws);
  free(x);
}

double sml_evaluate(const sml_model *m, const float *params, const sml_shard *split, const sml_prep *prep,
                    const sml_comm *c, double *loss) {
  int64_t counts[3] = {0, split->count, 0}; /* correct, seen, the loss in fixed point */
  double *sample_loss = NULL, maxabs = 0.0;
  if (split->count > 0) {
    const int64_t C = m->width[m->nlayers];
    float *scores = SML_ALLOC((size_t)(split->count * C) * sizeof *scores);
    sml_images_scores(m, params, prep, split->images, split->first, split->count, scores);
    counts[0] = sml_count_correct(scores, split->labels, split->count, C);
    if (loss) {
      /* One loss per image, summed exactly below: the same total for any
       * number of ranks. */
      sml_workspace ws;
      sml_workspace_init(&ws, m, 1);
      sample_loss = SML_ALLOC((size_t)split->count * sizeof *sample_loss);
      for (int64_t i = 0; i < split->count; i++) {
        sample_loss[i] = sml_model_loss(m, scores + i * C, split->labels + i, 1, &ws);
        /* Infinity, not NaN, marks a bad value: MPI_MAX keeps it whatever the order. */
        maxabs = isfinite(sample_loss[i]) ? fmax(maxabs, fabs(sample_loss[i])) : INFINITY;
      }
      sml_workspace_free(&ws);
    }
    free(scores);
  }
  if (loss) {
    sml_allreduce_max_f64(c, &maxabs, 1);
    const int q = sml_fixed_exponent(isfinite(maxabs) ? maxabs : 0.0, split->total);
    const double scale = sml_fixed_scale(q);
    for (int64_t i = 0; isfinite(maxabs) && i < split->count; i++) counts[2] += sml_to_fixed(sample_loss[i], scale);
    free(sample_loss);
    sml_allreduce_sum_i64(c, counts, 3);
    *loss = split->total > 0 && isfinite(maxabs) ? sml_from_fixed(counts[2], q) / (double)split->total : NAN;
  } else {
    sml_allreduce_sum_i64(c, counts, 2);
  }
  return split->total > 0 ? (double)counts[0] / (double)counts[1] : -1.0;
}
