/* The reproducible mode's exact sum, overlapped or not (see train/repro_sum.h). */
#include "train/repro_sum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/exact.h"
#include "kernels/kernels.h"

struct sml_repro_sum {
  const sml_model *m;
  const sml_comm *c;
  int overlap;                 /* 1: the pipeline below, on max_comm and sum_comm */
  sml_comm max_comm, sum_comm; /* overlap: duplicates of c, one per kind of sum */
  const float *grads;          /* [rows, nweights] */
  int64_t nmicro, kc;          /* this step's micro-batches, and rows here */
  int hooked;                  /* row kc - 1 reports through the hook */
  float *micro_max;            /* [rows, nparams] each row's largest magnitude per tensor */
  double *maxima;              /* [nparams + 1]: per tensor, then the loss */
  int *q;                      /* [nparams + 1] fixed-point exponents */
  double *unscale;             /* [nparams] 2^-q: the sums' unscale for the optimizer */
  int64_t *acc;                /* [nweights + 4]: gradient, loss, count, signal, timer */
  int *order;                  /* [nparams] tensors by descending offset, as the backward pass finishes them */
  sml_request *max_req;        /* [nparams] by position in order */
  int64_t chunk;               /* int64s per sum at most */
  int *first_sum, nsums;       /* [nparams + 1]: position k's sums are [first_sum[k], first_sum[k + 1]) */
  sml_request *sum_req;        /* [nsums] */
  double *t_start, *t_done;    /* [nparams] maximum started; sums seen complete (0: not yet) */
  int maxed, summed;           /* positions in order whose maximum / sum has started */
  sml_grad_hook hook;
};

static void start_max(sml_repro_sum *s, int k);
static void progress(sml_repro_sum *s);

static void ready(void *ctx, int64_t from) {
  sml_repro_sum *s = ctx;
  while (s->maxed < s->m->nparams && s->m->param[s->order[s->maxed]].offset >= from) start_max(s, s->maxed++);
  progress(s);
}

sml_repro_sum *sml_repro_sum_init(const sml_model *m, const float *grads, int64_t rows, int overlap,
                                  const sml_comm *c) {
  sml_repro_sum *s = SML_CALLOC(1, sizeof *s);
  const int np = m->nparams;
  s->m = m;
  s->c = c;
  s->grads = grads;
  s->overlap = overlap && c->size > 1;
  if (s->overlap) {
    s->max_comm = sml_comm_split(c, 0, c->rank);
    s->sum_comm = sml_comm_split(c, 0, c->rank);
  }
  s->micro_max = SML_ALLOC((size_t)((rows > 0 ? rows : 1) * np) * sizeof *s->micro_max);
  s->maxima = SML_ALLOC((size_t)(np + 1) * sizeof *s->maxima);
  s->q = SML_ALLOC((size_t)(np + 1) * sizeof *s->q);
  s->unscale = SML_ALLOC((size_t)np * sizeof *s->unscale);
  s->acc = SML_ALLOC_COMM((size_t)(m->nweights + 4) * sizeof *s->acc);
  s->order = SML_ALLOC((size_t)np * sizeof *s->order);
  for (int k = 0; k < np; k++) { /* insertion sort, descending offsets */
    int i = k;
    for (; i > 0 && m->param[s->order[i - 1]].offset < m->param[k].offset; i--) s->order[i] = s->order[i - 1];
    s->order[i] = k;
  }
  /* A tensor's sum goes in pieces of a default bucket's bytes: over TCP a
   * larger message goes by rendezvous, which moves only while both sides
   * are inside MPI (docs/performance.md, "Scaling out"); elementwise
   * integer sums have the same bits in any pieces. */
  s->chunk = (int64_t)(SML_BUCKET_MB * 1e6) / (int64_t)sizeof *s->acc;
  s->first_sum = SML_ALLOC((size_t)(np + 1) * sizeof *s->first_sum);
  s->first_sum[0] = 0;
  for (int k = 0; k < np; k++)
    s->first_sum[k + 1] = s->first_sum[k] + (int)((m->param[s->order[k]].size + s->chunk - 1) / s->chunk);
  s->nsums = s->first_sum[np];
  s->max_req = SML_ALLOC((size_t)np * sizeof *s->max_req);
  s->sum_req = SML_ALLOC((size_t)(s->nsums > 0 ? s->nsums : 1) * sizeof *s->sum_req);
  s->t_start = SML_ALLOC((size_t)(2 * np) * sizeof *s->t_start);
  s->t_done = s->t_start + np;
  s->hook = (sml_grad_hook){.ready = ready, .ctx = s}; /* no cuts: whole tensors, the same products */
  return s;
}

void sml_repro_sum_free(sml_repro_sum *s) {
  if (!s) return;
  if (s->overlap) {
    sml_comm_free(&s->max_comm);
    sml_comm_free(&s->sum_comm);
  }
  free(s->micro_max);
  free(s->maxima);
  free(s->q);
  free(s->unscale);
  free(s->acc);
  free(s->order);
  free(s->first_sum);
  free(s->max_req);
  free(s->sum_req);
  free(s->t_start);
  free(s);
}

const sml_grad_hook *sml_repro_sum_begin(sml_repro_sum *s, int64_t nmicro, int64_t kc, int hookable) {
  s->nmicro = nmicro;
  s->kc = kc;
  s->hooked = s->overlap && hookable && kc > 0;
  s->maxed = s->summed = 0;
  return s->hooked ? &s->hook : NULL;
}

/* Row j's largest magnitude of tensor p. */
static void row_max(sml_repro_sum *s, int64_t j, int p) {
  const sml_param_entry *e = &s->m->param[p];
  s->micro_max[j * s->m->nparams + p] =
      sml_kernels_active()->absmax_rows(s->grads + j * s->m->nweights + e->offset, 0, 1, e->size);
}

void sml_repro_sum_row_done(sml_repro_sum *s, int64_t j) {
  for (int p = 0; p < s->m->nparams; p++) row_max(s, j, p);
}

/* Tensor p's largest magnitude over this rank's rows. A non-finite value
 * is an infinite maximum (absmax_rows), which fmaxf and MPI_MAX keep. */
static double local_max(const sml_repro_sum *s, int p) {
  float mx = 0.0f;
  for (int64_t j = 0; j < s->kc; j++) mx = fmaxf(mx, s->micro_max[j * s->m->nparams + p]);
  return mx;
}

/* Tensor p's rows as integers at its agreed scale, into acc: each element
 * gathers its rows in one go, so the accumulator is written once. A tensor
 * that is not finite somewhere (every rank knows) fails the step; its
 * integers are then zeros. */
static void to_fixed(sml_repro_sum *s, int p) {
  const sml_param_entry *e = &s->m->param[p];
  if (!isfinite(s->maxima[p])) {
    memset(s->acc + e->offset, 0, (size_t)e->size * sizeof *s->acc);
    return;
  }
  s->q[p] = sml_fixed_exponent(s->maxima[p], s->nmicro);
  sml_kernels_active()->fixed_sum_rows(s->acc + e->offset, s->grads + e->offset, s->m->nweights, s->kc, e->size,
                                       sml_fixed_scale(s->q[p]));
}

static void start_max(sml_repro_sum *s, int k) {
  const int p = s->order[k];
  if (s->hooked) row_max(s, s->kc - 1, p);
  s->maxima[p] = local_max(s, p);
  s->t_start[k] = sml_now();
  s->t_done[k] = 0;
  sml_iallreduce_max_f64(&s->max_comm, &s->maxima[p], 1, &s->max_req[k]);
}

static void start_sum(sml_repro_sum *s, int k) {
  const sml_param_entry *e = &s->m->param[s->order[k]];
  to_fixed(s, s->order[k]);
  for (int i = s->first_sum[k]; i < s->first_sum[k + 1]; i++) {
    const int64_t lo = (i - s->first_sum[k]) * s->chunk;
    sml_iallreduce_sum_i64(&s->sum_comm, s->acc + e->offset + lo, e->size - lo < s->chunk ? e->size - lo : s->chunk,
                           &s->sum_req[i]);
  }
}

/* Starts the sums whose maxima have arrived, in order, and notes the sums
 * MPI has completed (testing them is what moves them on). */
static void progress(sml_repro_sum *s) {
  while (s->summed < s->maxed && sml_requests_test(&s->max_req[s->summed], 1)) start_sum(s, s->summed++);
  for (int k = 0; k < s->summed; k++)
    if (s->t_done[k] == 0 && sml_requests_test(&s->sum_req[s->first_sum[k]], s->first_sum[k + 1] - s->first_sum[k]))
      s->t_done[k] = sml_now();
}

/* The loss's largest magnitude over this rank's micro-batches (infinite
 * when one is not finite). */
static double loss_max(const double *losses, int64_t kc) {
  double mx = 0;
  for (int64_t j = 0; j < kc; j++) mx = isfinite(losses[j]) && fabs(losses[j]) <= mx ? mx : fabs(losses[j]);
  for (int64_t j = 0; j < kc; j++)
    if (!isfinite(losses[j])) mx = INFINITY;
  return mx;
}

/* The loss, count and flags in acc[nweights ..] as integers (the loss at
 * its agreed scale, when finite). */
static void small_sums(sml_repro_sum *s, const double *losses, int64_t count, const int64_t flags[2]) {
  const int np = s->m->nparams;
  const int64_t nw = s->m->nweights;
  int64_t loss_fixed = 0;
  if (isfinite(s->maxima[np])) {
    s->q[np] = sml_fixed_exponent(s->maxima[np], s->nmicro);
    const double scale = sml_fixed_scale(s->q[np]);
    for (int64_t j = 0; j < s->kc; j++) loss_fixed += sml_to_fixed(losses[j], scale);
  }
  s->acc[nw] = loss_fixed;
  s->acc[nw + 1] = count;
  s->acc[nw + 2] = flags[0];
  s->acc[nw + 3] = flags[1];
}

/* The sums as sml_repro_sum_finish hands them out, once every one is in. */
static int results(sml_repro_sum *s, int64_t flags[2], sml_grad_sum *grad, double *loss_sum, int64_t *count_sum) {
  const int np = s->m->nparams;
  const int64_t nw = s->m->nweights;
  for (int p = 0; p <= np; p++)
    if (!isfinite(s->maxima[p])) return -1; /* diverged, on every rank alike */
  /* The optimizer reads the sums as they are (1 / 2^q is a power of two: exact). */
  for (int p = 0; p < np; p++) s->unscale[p] = 1.0 / sml_fixed_scale(s->q[p]);
  *grad = (sml_grad_sum){.fixed = s->acc, .unscale = s->unscale};
  *loss_sum = sml_from_fixed(s->acc[nw], s->q[np]);
  *count_sum = s->acc[nw + 1];
  flags[0] = s->acc[nw + 2];
  flags[1] = s->acc[nw + 3];
  return 0;
}

int sml_repro_sum_finish(sml_repro_sum *s, const double *losses, int64_t count, int64_t flags[2], sml_grad_sum *grad,
                         double *loss_sum, int64_t *count_sum, sml_reduce_times *times) {
  const sml_comm *c = s->c;
  const int np = s->m->nparams;
  const int64_t nw = s->m->nweights;
  times->hidden_s = 0;
  if (!s->overlap) { /* the conversion counts as computing, the two sums as waiting */
    for (int p = 0; p < np; p++) s->maxima[p] = local_max(s, p);
    s->maxima[np] = loss_max(losses, s->kc);
    double t0 = sml_now();
    sml_allreduce_max_f64(c, s->maxima, np + 1);
    times->wait_s = sml_now() - t0;
    int finite = 1;
    for (int p = 0; p <= np; p++) finite &= isfinite(s->maxima[p]) != 0;
    if (finite) { /* integers from here: exact in any order */
      for (int p = 0; p < np; p++) to_fixed(s, p);
      small_sums(s, losses, count, flags);
      t0 = sml_now();
      sml_allreduce_sum_i64(c, s->acc, nw + 4);
      times->wait_s += sml_now() - t0;
    }
    return results(s, flags, grad, loss_sum, count_sum);
  }
  const double end = sml_now();
  while (s->maxed < np) start_max(s, s->maxed++);
  /* The loss's scale and the small sums on c, while the tensors' move. */
  s->maxima[np] = loss_max(losses, s->kc);
  sml_allreduce_max_f64(c, &s->maxima[np], 1);
  small_sums(s, losses, count, flags);
  sml_allreduce_sum_i64(c, s->acc + nw, 4);
  for (; s->summed < np; s->summed++) {
    sml_requests_wait(&s->max_req[s->summed], 1);
    start_sum(s, s->summed);
  }
  times->hidden_s = sml_time_in_flight(s->t_start, s->t_done, np, end);
  sml_requests_wait(s->sum_req, s->nsums);
  times->wait_s = sml_now() - end;
  return results(s, flags, grad, loss_sum, count_sum);
}

int64_t sml_repro_sum_bytes(const sml_repro_sum *s) {
  if (s->c->size == 1) return 0;
  return (s->m->nparams + 1) * (int64_t)sizeof *s->maxima + (s->m->nweights + 4) * (int64_t)sizeof *s->acc;
}
