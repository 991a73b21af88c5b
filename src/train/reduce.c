/* Bucketed, overlapped gradient reduction (see train/reduce.h). */
#include "train/reduce.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

struct sml_reducer {
  const sml_comm *c;
  int64_t nw, nflags;
  float *grad; /* [nw + nflags] */
  int overlap;
  sml_grad_dtype dtype;
  int nbuckets;
  int64_t *bound;           /* [nbuckets + 1] descending: bucket k is [bound[k + 1], bound[k]) */
  int64_t *cuts;            /* [nbuckets - 1] ascending bucket starts above 0: the hook's cuts */
  sml_request *req;         /* [nbuckets + 1]: the buckets, then the flags (16-bit wire) */
  double *t_start, *t_done; /* [nbuckets] when each started, when it was seen complete (0: not yet) */
  int started;              /* buckets started this step */
  uint16_t *wire;           /* [nw] 16-bit wire buffer, or NULL */
  float *residual;          /* [nw] what rounding to 16 bits left out, for the next step */
  sml_grad_hook hook;
};

int sml_grad_dtype_parse(const char *name, sml_grad_dtype *out) {
  static const char *names[] = {"fp32", "bf16", "fp16"};
  for (int k = 0; k < 3; k++)
    if (strcmp(name, names[k]) == 0) {
      *out = (sml_grad_dtype)k;
      return 0;
    }
  return -1;
}

const char *sml_grad_dtype_name(sml_grad_dtype d) {
  return d == SML_GRAD_BF16 ? "bf16" : d == SML_GRAD_FP16 ? "fp16" : "fp32";
}

/* Element chunks the 16-bit passes are split into over threads. */
#define HALF_CHUNK ((int64_t)1 << 15)

/* Rounds bucket [lo, hi) plus the residual to the wire type, keeping what
 * rounding left out. */
static void to_wire(sml_reducer *r, int64_t lo, int64_t hi) {
  const sml_kernels *k = sml_kernels_active();
  const int bf16 = r->dtype == SML_GRAD_BF16;
#pragma omp parallel for schedule(static) if (hi - lo >= 4 * HALF_CHUNK)
  for (int64_t c = lo; c < hi; c += HALF_CHUNK)
    k->half_encode(r->wire + c, r->grad + c, r->residual + c, hi - c < HALF_CHUNK ? hi - c : HALF_CHUNK, bf16);
}

static void from_wire(sml_reducer *r) {
  const sml_kernels *k = sml_kernels_active();
  const int bf16 = r->dtype == SML_GRAD_BF16;
#pragma omp parallel for schedule(static) if (r->nw >= 4 * HALF_CHUNK)
  for (int64_t c = 0; c < r->nw; c += HALF_CHUNK)
    k->half_decode(r->grad + c, r->wire + c, r->nw - c < HALF_CHUNK ? r->nw - c : HALF_CHUNK, bf16);
}

static void start_bucket(sml_reducer *r, int k) {
  const int64_t lo = r->bound[k + 1], hi = r->bound[k];
  r->t_start[k] = sml_now();
  r->t_done[k] = 0;
  if (r->dtype == SML_GRAD_FP32) {
    sml_iallreduce_sum_f32(r->c, r->grad + lo, hi - lo, &r->req[k]);
  } else {
    to_wire(r, lo, hi);
    sml_iallreduce_sum_half(r->c, r->wire + lo, hi - lo, (sml_half_kind)(r->dtype - 1), &r->req[k]);
  }
}

/* Notes the buckets in flight that MPI has completed (testing them is what
 * moves them on). */
static void test_started(sml_reducer *r) {
  for (int k = 0; k < r->started; k++)
    if (r->t_done[k] == 0 && sml_requests_test(&r->req[k], 1)) r->t_done[k] = sml_now();
}

static void ready(void *ctx, int64_t from) {
  sml_reducer *r = ctx;
  while (r->started < r->nbuckets && r->bound[r->started + 1] >= from) start_bucket(r, r->started++);
  test_started(r);
}

sml_reducer *sml_reducer_init(const sml_model *m, float *grad, int64_t nflags, int overlap, double bucket_bytes,
                              sml_grad_dtype dtype, const sml_comm *c) {
  sml_reducer *r = SML_CALLOC(1, sizeof *r);
  r->c = c;
  r->nw = m->nweights;
  r->nflags = nflags;
  r->grad = grad;
  r->overlap = overlap && c->size > 1;
  r->dtype = dtype;
  const int64_t elem = dtype == SML_GRAD_FP32 ? 4 : 2;
  int64_t bucket = (int64_t)(bucket_bytes / (double)elem);
  if (!r->overlap || bucket < 1 || bucket > r->nw) bucket = r->nw;
  r->nbuckets = (int)((r->nw + bucket - 1) / bucket);
  r->bound = SML_ALLOC((size_t)(r->nbuckets + 1) * sizeof *r->bound);
  r->cuts = SML_ALLOC((size_t)r->nbuckets * sizeof *r->cuts);
  for (int k = 0; k <= r->nbuckets; k++) r->bound[k] = r->nw - k * bucket > 0 ? r->nw - k * bucket : 0;
  for (int k = 0; k + 1 < r->nbuckets; k++) r->cuts[k] = r->bound[r->nbuckets - 1 - k];
  r->req = SML_ALLOC((size_t)(r->nbuckets + 1) * sizeof *r->req);
  r->t_start = SML_CALLOC((size_t)r->nbuckets, sizeof *r->t_start);
  r->t_done = SML_CALLOC((size_t)r->nbuckets, sizeof *r->t_done);
  if (dtype != SML_GRAD_FP32) {
    r->wire = SML_ALLOC_COMM((size_t)r->nw * sizeof *r->wire);
    r->residual = SML_CALLOC((size_t)r->nw, sizeof *r->residual);
  }
  r->hook = (sml_grad_hook){.ready = ready, .ctx = r, .cuts = r->cuts, .ncuts = r->nbuckets - 1};
  return r;
}

void sml_reducer_free(sml_reducer *r) {
  if (!r) return;
  free(r->bound);
  free(r->cuts);
  free(r->req);
  free(r->t_start);
  free(r->t_done);
  free(r->wire);
  free(r->residual);
  free(r);
}

const sml_grad_hook *sml_reducer_begin(sml_reducer *r) {
  r->started = 0;
  return r->overlap ? &r->hook : NULL;
}

double sml_time_in_flight(const double *t_start, const double *t_done, int64_t n, double end) {
  double in_flight = 0;
  for (int64_t k = 0; k < n; k++)
    if (t_start[k] < end) in_flight += (t_done[k] > 0 && t_done[k] < end ? t_done[k] : end) - t_start[k];
  return in_flight;
}

void sml_reducer_finish(sml_reducer *r, sml_reduce_times *t) {
  const double end = sml_now();
  t->hidden_s = 0;
  if (r->c->size == 1) { /* nothing to sum */
    t->wait_s = 0;
    return;
  }
  if (!r->overlap) {
    /* Blocking calls (MPI's tuned algorithms; its nonblocking ones were
     * slower): fp32 sums the gradient and the flags in one. */
    if (r->dtype == SML_GRAD_FP32) {
      sml_allreduce_sum_f32(r->c, r->grad, r->nw + r->nflags);
    } else {
      to_wire(r, 0, r->nw);
      sml_allreduce_sum_half(r->c, r->wire, r->nw, (sml_half_kind)(r->dtype - 1));
      sml_allreduce_sum_f32(r->c, r->grad + r->nw, r->nflags);
      from_wire(r);
    }
    t->wait_s = sml_now() - end;
    return;
  }
  while (r->started < r->nbuckets) start_bucket(r, r->started++);
  sml_iallreduce_sum_f32(r->c, r->grad + r->nw, r->nflags, &r->req[r->nbuckets]);
  t->hidden_s = sml_time_in_flight(r->t_start, r->t_done, r->nbuckets, end);
  sml_requests_wait(r->req, r->nbuckets + 1);
  if (r->wire) from_wire(r);
  t->wait_s = sml_now() - end;
}

int64_t sml_reducer_buckets(const sml_reducer *r) { return r->nbuckets; }

float *sml_reducer_residual(sml_reducer *r) { return r->residual; }

int64_t sml_reducer_step_bytes(const sml_reducer *r) {
  if (r->c->size == 1) return 0;
  return r->nw * (r->dtype == SML_GRAD_FP32 ? 4 : 2) + r->nflags * 4;
}
