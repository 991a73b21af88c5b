/* Reproducible steps (the reproducible mode): one step's gradient with the same
 * bits for any number of ranks and threads. See shardml/train.h.
 *
 * The global batch (positions [lo, hi) of the epoch's permutation) is cut
 * into micro-batches of m positions by position alone. Micro-batch k is
 * computed whole by one thread of one rank (rank r owns the k of its block
 * of the micro-batches), single-threaded, with the same shapes whatever the
 * layout; its images travel to that rank first (uint8, one alltoallv for
 * a chunk of steps; the rank's own images are read where they are). The
 * micro-batches' gradients and losses are then summed in one of two ways,
 * both the same for every layout, chosen by the step's micro-batch count:
 * - up to SML_GATHERED_MICRO: every rank gathers every micro-batch's float
 *   gradient (one MPI_Allgatherv) and the optimizer adds them in
 *   micro-batch order as it reads them (kernels' ordered_sum_rows). No
 *   fixed point, no scale to agree on, and no more bytes than the int64 sum.
 * - more: each micro-batch's gradient and loss become fixed-point integers
 *   (base/exact.h), scaled from the largest magnitude over all ranks (one
 *   small MPI_MAX), and integers add exactly, in any order: locally over
 *   threads and micro-batches, globally in one int64 MPI_SUM. Its bytes and
 *   passes do not grow with the micro-batches, as gathering them would. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/exact.h"
#include "kernels/kernels.h"
#include "nn/net.h"
#include "shardml/train.h"
#include "train/repro_sum.h"
#include "train/step.h"

/* Steps whose images travel in one alltoallv: the ranks meet for the
 * exchange once per chunk instead of once per step (on 2 ranks at batch 128
 * the per-step exchange took 30-60 us of a 1.7 ms step, mostly waiting),
 * with at most CHUNK_BYTES of images in flight per rank. */
#define CHUNK_STEPS 32
#define CHUNK_BYTES ((int64_t)16 << 20)

struct sml_repro {
  const sml_model *m;
  const sml_shard *train;
  const sml_prep *prep;
  const sml_train_config *cfg;
  const sml_comm *c;
  int64_t micro, dim;
  int64_t max_local;                           /* micro-batches one rank may own in a step */
  int64_t slots;                               /* max_local * micro: image slots per step */
  int64_t chunk_steps;                         /* steps gathered at once, at most */
  int64_t chunk_step0, chunk_lo, chunk_nsteps; /* the gathered chunk: first global step, its
                               first position, steps (0: none yet) */
  int64_t *shard_first;                        /* [P] first global index of each rank's shard */
  int64_t *send_counts, *recv_counts;          /* [P] bytes */
  uint8_t *send, *recv;                        /* records of dim image bytes + 1 label byte */
  int *dest, *src;            /* [chunk_steps * batch] per position of the chunk: the rank computing its
                               micro-batch, the rank holding its image */
  int64_t *slot_of;           /* [chunk_steps * batch] its slot on the computing rank (all three: NULL on one rank) */
  const uint8_t **rows;       /* [chunk_steps, slots] this rank's micro-batches' images, by step
                               and slot: in its shard or in recv */
  uint8_t *labels;            /* [chunk_steps, slots] */
  int64_t *ids;               /* their global indices (dropout) */
  float *grads;               /* [kept, nweights] the micro-batch gradients: this rank's from row 0 (exact
                               sums), or every micro-batch's at its index (gathering steps) */
  double *losses;             /* [kept] their losses, in the same rows */
  double *gathered;           /* [SML_GATHERED_MICRO + 2]: every micro-batch's loss, then the flags */
  int64_t *first_row, *nrows; /* [P] each rank's rows in a gathering step */
  int nthreads;
  /* With batch normalization a step runs layer by layer over all its
   * micro-batches (their statistics are the whole batch's), so each owned
   * micro-batch keeps its own buffers; otherwise each thread does. */
  int batchnorm;
  int64_t nws;
  sml_workspace *ws;              /* [nws] */
  float **x;                      /* [nws] prepared micro-batch [micro, dim] */
  double *bn_rows, *bn_total;     /* every micro-batch's sums of one batch normalization, and their sum */
  uint8_t **augmented;            /* [nthreads] its augmented images [micro, dim] (NULL: no augmentation) */
  int64_t sent_sums, sent_images; /* bytes handed to MPI to send (sml_repro_sent) */
  sml_repro_sum *sum;             /* the exact sum (NULL: no step of the run takes it) */
};

/* Rank holding global training index g (shards are contiguous, in rank order). */
static int holder_of(const sml_repro *r, int64_t g) {
  int lo = 0, hi = r->c->size - 1;
  while (lo < hi) { /* the last rank whose shard starts at or before g */
    const int mid = (lo + hi + 1) / 2;
    if (r->shard_first[mid] <= g) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* Rank owning micro-batch k of n: the inverse of sml_block_range. */
static int owner_of(int64_t k, int64_t n, int size) {
  const int64_t base = n / size, extra = n % size, big = extra * (base + 1);
  return (int)(k < big ? k / (base + 1) : extra + (base > 0 ? (k - big) / base : 0));
}

sml_repro *sml_repro_init(const sml_model *m, const sml_shard *train, const sml_prep *prep, const sml_train_config *cfg,
                          const sml_comm *c) {
  sml_repro *r = SML_CALLOC(1, sizeof *r);
  *r = (sml_repro){
      .m = m, .train = train, .prep = prep, .cfg = cfg, .c = c, .micro = sml_micro_batch(cfg), .dim = prep->dim};
  r->max_local = sml_micro_batches_owned(cfg, c->size);
  r->shard_first = SML_ALLOC((size_t)c->size * sizeof *r->shard_first);
  sml_allgather_i64(c, train->first, r->shard_first);
  r->send_counts = SML_ALLOC((size_t)c->size * sizeof *r->send_counts);
  r->recv_counts = SML_ALLOC((size_t)c->size * sizeof *r->recv_counts);
  const int64_t record = r->dim + 1;
  r->slots = r->max_local * r->micro;
  r->chunk_steps = CHUNK_BYTES / (r->slots * record);
  r->chunk_steps = r->chunk_steps < 1 ? 1 : r->chunk_steps > CHUNK_STEPS ? CHUNK_STEPS : r->chunk_steps;
  const int64_t slots = r->chunk_steps * r->slots;
  /* A rank sends each image of its shard at most once per chunk. */
  const int64_t most_sent = r->chunk_steps * cfg->batch < train->count ? r->chunk_steps * cfg->batch : train->count;
  r->send = SML_ALLOC_COMM((size_t)((most_sent > 0 ? most_sent : 1) * record));
  r->recv = SML_ALLOC_COMM((size_t)(slots * record));
  if (c->size > 1) { /* read by gather_chunk's exchange only: one rank has every image */
    const size_t positions = (size_t)(r->chunk_steps * cfg->batch);
    r->dest = SML_ALLOC(positions * sizeof *r->dest);
    r->src = SML_ALLOC(positions * sizeof *r->src);
    r->slot_of = SML_ALLOC(positions * sizeof *r->slot_of);
  }
  r->rows = SML_ALLOC((size_t)slots * sizeof *r->rows);
  r->labels = SML_ALLOC((size_t)slots);
  r->ids = SML_ALLOC((size_t)slots * sizeof *r->ids);
  const int64_t kept = sml_micro_gradients_kept(cfg, c->size);
  /* On huge pages, as every buffer MPI moves: a gathering step sends these
   * rows, and on 4 KiB pages the MPI_Allgatherv took 310 us instead of 165
   * (1.6 MB, 2 ranks, AMD EPYC). */
  r->grads = SML_ALLOC_COMM((size_t)(kept * m->nweights) * sizeof *r->grads);
  r->losses = SML_ALLOC((size_t)kept * sizeof *r->losses);
  r->gathered = SML_ALLOC((SML_GATHERED_MICRO + 2) * sizeof *r->gathered);
  r->first_row = SML_ALLOC((size_t)(2 * c->size) * sizeof *r->first_row);
  r->nrows = r->first_row + c->size;
  r->nthreads = sml_threads();
  int64_t widest_sums = 0;
  for (int l = 0; l < m->nops; l++)
    if (m->op[l].kind == SML_OP_BATCHNORM && sml_net_sums_len(m, l) > widest_sums) widest_sums = sml_net_sums_len(m, l);
  r->batchnorm = widest_sums > 0;
  r->nws = r->batchnorm ? (r->max_local > 0 ? r->max_local : 1) : r->nthreads;
  r->ws = SML_ALLOC((size_t)r->nws * sizeof *r->ws);
  r->x = SML_ALLOC((size_t)r->nws * sizeof *r->x);
  for (int64_t t = 0; t < r->nws; t++) {
    sml_workspace_init(&r->ws[t], m, r->micro);
    r->x[t] = SML_ALLOC((size_t)(r->micro * r->dim) * sizeof *r->x[t]);
  }
  if (cfg->augment.crop || cfg->augment.flip) {
    r->augmented = SML_CALLOC((size_t)r->nthreads, sizeof *r->augmented);
    for (int t = 0; t < r->nthreads; t++) r->augmented[t] = SML_ALLOC((size_t)(r->micro * r->dim));
  }
  if (r->batchnorm) {
    const int64_t most_micro = (cfg->batch + r->micro - 1) / r->micro;
    r->bn_rows = SML_ALLOC((size_t)(most_micro * widest_sums) * sizeof *r->bn_rows);
    r->bn_total = SML_ALLOC((size_t)widest_sums * sizeof *r->bn_total);
  }
  if (sml_repro_exact_sums(cfg)) r->sum = sml_repro_sum_init(m, r->grads, r->max_local, cfg->overlap == 1, c);
  return r;
}

void sml_repro_free(sml_repro *r) {
  if (!r) return;
  for (int64_t t = 0; t < r->nws; t++) {
    sml_workspace_free(&r->ws[t]);
    free(r->x[t]);
  }
  for (int t = 0; r->augmented && t < r->nthreads; t++) free(r->augmented[t]);
  free(r->augmented);
  free(r->bn_rows);
  free(r->bn_total);
  free(r->ws);
  free(r->x);
  free(r->shard_first);
  free(r->send_counts);
  free(r->recv_counts);
  free(r->send);
  free(r->recv);
  free(r->dest);
  free(r->src);
  free(r->slot_of);
  free(r->rows);
  free(r->labels);
  free(r->ids);
  free(r->grads);
  free(r->losses);
  free(r->gathered);
  free(r->first_row);
  sml_repro_sum_free(r->sum);
  free(r);
}

const sml_workspace *sml_repro_stats(const sml_repro *r) { return &r->ws[0]; }

void sml_repro_sent(const sml_repro *r, int64_t *sum_bytes, int64_t *image_bytes) {
  *sum_bytes = r->sent_sums;
  *image_bytes = r->sent_images;
}

/* Slot `slot` reads global image g where it is, in this rank's shard. */
static void slot_from_shard(sml_repro *r, int64_t slot, int64_t g) {
  const int64_t local = g - r->train->first;
  r->rows[slot] = r->train->images + local * r->dim;
  r->labels[slot] = r->train->labels[local];
}

/* Where position p of the chunk starting at position lo goes: the rank
 * owning its micro-batch (step by step, as sml_repro_step cuts them), and
 * its slot there. */
static int destination(const sml_repro *r, int64_t lo, int64_t p, int64_t *slot) {
  const int64_t batch = r->cfg->batch, step = (p - lo) / batch, start = lo + step * batch;
  const int64_t nb = r->train->total - start < batch ? r->train->total - start : batch;
  const int64_t nmicro = (nb + r->micro - 1) / r->micro;
  const int dest = owner_of((p - start) / r->micro, nmicro, r->c->size);
  int64_t k0, kc;
  sml_block_range(nmicro, dest, r->c->size, &k0, &kc);
  *slot = step * r->slots + (p - start) - k0 * r->micro;
  return dest;
}

/* The images of this rank's micro-batches for the steps from global step
 * `step` (positions from lo) to the end of the chunk or of the epoch,
 * gathered from the ranks that hold them (its own stay in its shard: no
 * copy). Both sides walk the positions in order, so no position needs to
 * travel with its image. */
static void gather_chunk(sml_repro *r, const int64_t *perm, int64_t lo, int64_t step) {
  const sml_comm *c = r->c;
  const int64_t record = r->dim + 1, batch = r->cfg->batch, total = r->train->total;
  r->chunk_step0 = step;
  r->chunk_lo = lo;
  const int64_t steps_left = (total - lo + batch - 1) / batch; /* in this epoch */
  r->chunk_nsteps = steps_left < r->chunk_steps ? steps_left : r->chunk_steps;
  const int64_t end = lo + r->chunk_nsteps * batch < total ? lo + r->chunk_nsteps * batch : total;
  if (c->size == 1) { /* every image is here */
    for (int64_t p = lo; p < end; p++) {
      int64_t slot;
      destination(r, lo, p, &slot);
      slot_from_shard(r, slot, perm[p]);
      r->ids[slot] = perm[p];
    }
    return;
  }
  /* Each position's ranks and slot, once (the three passes below read them),
   * and the counts (send records must be grouped by destination rank). */
  memset(r->send_counts, 0, (size_t)c->size * sizeof *r->send_counts);
  memset(r->recv_counts, 0, (size_t)c->size * sizeof *r->recv_counts);
  for (int64_t p = lo; p < end; p++) {
    const int dest = r->dest[p - lo] = destination(r, lo, p, &r->slot_of[p - lo]);
    const int src = r->src[p - lo] = holder_of(r, perm[p]);
    if (src == dest) continue; /* stays */
    if (src == c->rank) r->send_counts[dest] += record;
    if (dest == c->rank) r->recv_counts[src] += record;
  }
  int64_t *fill = SML_ALLOC((size_t)c->size * sizeof *fill);
  fill[0] = 0;
  for (int q = 1; q < c->size; q++) fill[q] = fill[q - 1] + r->send_counts[q - 1];
  for (int64_t p = lo; p < end; p++) {
    const int dest = r->dest[p - lo];
    if (r->src[p - lo] != c->rank || dest == c->rank) continue;
    const int64_t local = perm[p] - r->train->first;
    uint8_t *rec = r->send + fill[dest];
    memcpy(rec, r->train->images + local * r->dim, (size_t)r->dim);
    rec[r->dim] = r->train->labels[local];
    fill[dest] += record;
  }
  for (int q = 0; q < c->size; q++) r->sent_images += r->send_counts[q];
  sml_alltoallv_bytes(c, r->send, r->send_counts, r->recv, r->recv_counts);
  /* Records arrive grouped by source rank, in position order. */
  fill[0] = 0;
  for (int q = 1; q < c->size; q++) fill[q] = fill[q - 1] + r->recv_counts[q - 1];
  for (int64_t p = lo; p < end; p++) {
    if (r->dest[p - lo] != c->rank) continue;
    const int src = r->src[p - lo];
    const int64_t slot = r->slot_of[p - lo];
    if (src == c->rank) {
      slot_from_shard(r, slot, perm[p]);
    } else {
      const uint8_t *rec = r->recv + fill[src];
      r->rows[slot] = rec;
      r->labels[slot] = rec[r->dim];
      fill[src] += record;
    }
    r->ids[slot] = perm[p];
  }
  free(fill);
}

/* The sum of a step of at most SML_GATHERED_MICRO micro-batches, whose
 * gradients and losses sit in rows k0 .. k0 + kc - 1: every rank receives
 * the others' rows, and the losses and flags come in one small sum (each
 * loss has one rank's value and the others' zeros, and x + 0 is x). */
static int gathered_sum(sml_repro *r, int64_t nmicro, int64_t nb, sml_grad_sum *grad, double *loss_sum, int64_t *count,
                        int64_t flags[2], double *comm_s) {
  const sml_comm *c = r->c;
  const int64_t nw = r->m->nweights;
  for (int q = 0; q < c->size; q++) sml_block_range(nmicro, q, c->size, &r->first_row[q], &r->nrows[q]);
  const int64_t k0 = r->first_row[c->rank], kc = r->nrows[c->rank];
  for (int64_t k = 0; k < nmicro; k++) r->gathered[k] = k >= k0 && k < k0 + kc ? r->losses[k] : 0.0;
  r->gathered[nmicro] = (double)flags[0];
  r->gathered[nmicro + 1] = (double)flags[1];
  const double t0 = sml_now();
  sml_allreduce_sum_f64(c, r->gathered, nmicro + 2);
  sml_allgatherv_rows_f32(c, r->grads, nw, r->first_row, r->nrows);
  if (c->size > 1)
    r->sent_sums += (nmicro + 2) * (int64_t)sizeof *r->gathered + kc * nw * (int64_t)sizeof *r->grads * (c->size - 1);
  *comm_s += sml_now() - t0;
  double loss = 0;
  for (int64_t k = 0; k < nmicro; k++) loss += r->gathered[k]; /* in micro-batch order */
  flags[0] = (int64_t)r->gathered[nmicro];
  flags[1] = (int64_t)r->gathered[nmicro + 1];
  /* A non-finite gradient shows in the next step's loss, as in the default
   * mode, on every rank alike (they all add the same rows). */
  if (!isfinite(loss)) return -1;
  *grad = (sml_grad_sum){.rows = r->grads, .nrows = nmicro, .stride = nw};
  *loss_sum = loss;
  *count = nb;
  return 0;
}

/* Positions micro-batch k of a step of nb holds. */
static int64_t micro_size(const sml_repro *r, int64_t nb, int64_t k) {
  return nb - k * r->micro < r->micro ? nb - k * r->micro : r->micro;
}

/* The batch normalization after layer `after` (forward), or m->nops. */
static int next_batchnorm(const sml_model *m, int after) {
  for (int l = after + 1; l < m->nops; l++)
    if (m->op[l].kind == SML_OP_BATCHNORM) return l;
  return m->nops;
}
/* The batch normalization below layer `before` (backward), or -1. */
static int prev_batchnorm(const sml_model *m, int before) {
  for (int l = before - 1; l >= 0; l--)
    if (m->op[l].kind == SML_OP_BATCHNORM) return l;
  return -1;
}

/* Batch normalization l's sums over the step's nmicro micro-batches, the
 * same bits on every rank for any layout: each micro-batch's row (the
 * others' zeros: x + 0 is x) in one MPI sum, then added in micro-batch
 * order; into every owned micro-batch's workspace (the first's when none
 * is owned: the running averages read it), with the forward pass's
 * statistics. */
static void agree_micro_batches(sml_repro *r, int l, int64_t nmicro, int64_t k0, int64_t kc, int forward,
                                double *comm_s) {
  const int64_t len = sml_net_sums_len(r->m, l);
  memset(r->bn_rows, 0, (size_t)(nmicro * len) * sizeof *r->bn_rows);
  for (int64_t j = 0; j < kc; j++) memcpy(r->bn_rows + (k0 + j) * len, r->ws[j].bn[l], (size_t)len * sizeof(double));
  const double t0 = sml_now();
  sml_allreduce_sum_f64(r->c, r->bn_rows, nmicro * len);
  if (r->c->size > 1) r->sent_sums += nmicro * len * (int64_t)sizeof *r->bn_rows;
  *comm_s += sml_now() - t0;
  for (int64_t i = 0; i < len; i++) {
    double total = 0.0;
    for (int64_t k = 0; k < nmicro; k++) total += r->bn_rows[k * len + i];
    r->bn_total[i] = total;
  }
  for (int64_t j = 0; j < (kc > 0 ? kc : 1); j++) {
    memcpy(r->ws[j].bn[l], r->bn_total, (size_t)len * sizeof(double));
    if (forward) sml_net_agree(r->m, &r->ws[j], l);
  }
}

/* A step's micro-batches through a network with batch normalization:
 * layer by layer over all of them, stopping at each batch normalization
 * for the whole batch's sums (forward, then backward). */
static void batchnorm_micro_batches(sml_repro *r, const float *params, int64_t base, int64_t nb, int64_t nmicro,
                                    int64_t k0, int64_t kc, int64_t row0, const sml_augment_step *aug,
                                    const sml_dropout *drop, double *comm_s) {
  const sml_model *m = r->m;
  const int64_t nw = m->nweights;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < kc; j++) {
    const int64_t slot = base + j * r->micro;
    memset(r->grads + (row0 + j) * nw, 0, (size_t)nw * sizeof *r->grads);
    sml_step_prepare(aug, r->prep, r->ids + slot, r->rows + slot, micro_size(r, nb, k0 + j),
                     r->augmented ? r->augmented[omp_get_thread_num()] : NULL, r->x[j]);
  }
  for (int from = 0; from < m->nops; from = next_batchnorm(m, from)) {
    if (from > 0) agree_micro_batches(r, from, nmicro, k0, kc, 1, comm_s);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < kc; j++) {
      sml_dropout d = *drop;
      d.ids = r->ids + base + j * r->micro;
      sml_net_forward_part(m, params, r->x[j], micro_size(r, nb, k0 + j), &d, &r->ws[j], from);
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < kc; j++)
    r->losses[row0 + j] = sml_net_loss(m, r->labels + base + j * r->micro, micro_size(r, nb, k0 + j), &r->ws[j]);
  for (int from = m->nops; from >= 0; from = prev_batchnorm(m, from)) {
    if (from < m->nops) agree_micro_batches(r, from, nmicro, k0, kc, 0, comm_s);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < kc; j++) {
      sml_dropout d = *drop;
      d.ids = r->ids + base + j * r->micro;
      sml_net_backward_part(m, params, r->grads + (row0 + j) * nw, r->x[j], micro_size(r, nb, k0 + j), &d, &r->ws[j],
                            NULL, from);
    }
  }
  if (nmicro <= SML_GATHERED_MICRO) return;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < kc; j++) sml_repro_sum_row_done(r->sum, j);
}

int sml_repro_step(sml_repro *r, const float *params, const int64_t *perm, int64_t lo, int64_t hi, int64_t global_step,
                   const sml_augment_step *aug, sml_grad_sum *grad, double *loss_sum, int64_t *count, int64_t flags[2],
                   sml_reduce_times *times) {
  const sml_model *m = r->m;
  const sml_comm *c = r->c;
  const int64_t nw = m->nweights, nb = hi - lo, nmicro = (nb + r->micro - 1) / r->micro;
  int64_t k0, kc;
  sml_block_range(nmicro, c->rank, c->size, &k0, &kc);
  const double t0 = sml_now();
  /* Every rank takes the same branch: the same steps are called everywhere. */
  const int64_t in_chunk = global_step - r->chunk_step0;
  const int in_gathered = r->chunk_nsteps > 0 && in_chunk >= 0 && in_chunk < r->chunk_nsteps &&
                          lo == r->chunk_lo + in_chunk * r->cfg->batch;
  if (!in_gathered) gather_chunk(r, perm, lo, global_step); /* the step is then the chunk's first */
  double comm_s = sml_now() - t0;
  const int64_t base = (in_gathered ? in_chunk : 0) * r->slots; /* this step's slots */

  /* Each micro-batch whole on one thread: the kernels' own parallel regions
   * are nested, hence single-threaded, so nothing depends on the layout.
   * For an exact sum, its largest magnitudes are taken while its gradient
   * is still in cache, and with overlap the last one's tensors are summed
   * as its backward pass finishes them: only where it is computed last and
   * on thread 0, the thread that calls MPI (one thread, or one micro-batch). */
  const int gather = nmicro <= SML_GATHERED_MICRO;
  const int64_t row0 = gather ? k0 : 0; /* the row of this rank's first micro-batch */
  const sml_dropout drop = {.p = r->cfg->dropout, .seed = r->cfg->seed, .step = global_step};
  const sml_grad_hook *hook = NULL;
  if (!gather) hook = sml_repro_sum_begin(r->sum, nmicro, kc, !r->batchnorm && (r->nthreads == 1 || kc == 1));
  if (r->batchnorm) {
    batchnorm_micro_batches(r, params, base, nb, nmicro, k0, kc, row0, aug, &drop, &comm_s);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < kc; j++) {
      const int t = omp_get_thread_num();
      const int64_t slot = base + j * r->micro, n = micro_size(r, nb, k0 + j);
      const sml_grad_hook *h = j == kc - 1 ? hook : NULL;
      SML_ASSERT(!h || t == 0);
      float *g = r->grads + (row0 + j) * nw;
      memset(g, 0, (size_t)nw * sizeof *g);
      sml_step_prepare(aug, r->prep, r->ids + slot, r->rows + slot, n, r->augmented ? r->augmented[t] : NULL, r->x[t]);
      sml_dropout d = drop;
      d.ids = r->ids + slot;
      r->losses[row0 + j] = sml_model_loss_grad_hooked(m, params, g, r->x[t], r->labels + slot, n, &d, &r->ws[t], h);
      if (!gather && !h) sml_repro_sum_row_done(r->sum, j);
    }
  }

  if (gather) {
    const int ok = gathered_sum(r, nmicro, nb, grad, loss_sum, count, flags, &comm_s);
    *times = (sml_reduce_times){.wait_s = comm_s};
    return ok;
  }
  int64_t owned = 0; /* samples */
  for (int64_t j = 0; j < kc; j++) owned += micro_size(r, nb, k0 + j);
  const int ok = sml_repro_sum_finish(r->sum, r->losses, owned, flags, grad, loss_sum, count, times);
  r->sent_sums += sml_repro_sum_bytes(r->sum);
  times->wait_s += comm_s;
  return ok;
}
