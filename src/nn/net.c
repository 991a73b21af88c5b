/* Networks given as a spec (model kind "cnn"): parsing the spec into
 * layers with their shapes, the workspace they need, and the forward and
 * backward passes over a batch (see shardml/model.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "nn/layers.h"
#include "nn/net.h"

#define NET_MAX_FILTERS 4096
#define NET_MAX_KERNEL 64
#define NET_MAX_FC (1 << 20)

/* Reads the decimal at *p (advancing it) into *v; 0 when there is none. */
static int number(const char **p, int64_t *v) {
  if (**p < '0' || **p > '9') return 0;
  *v = 0;
  while (**p >= '0' && **p <= '9') {
    if (*v < (1 << 30)) *v = *v * 10 + (**p - '0');
    (*p)++;
  }
  return 1;
}

/* "network SPEC: element I 'ELEM' <why>" (the CLI names the option). */
static int bad(sml_err *err, const char *net, int index, const char *elem, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad(sml_err *err, const char *net, int index, const char *elem, const char *fmt, ...) {
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return sml_fail_quantity(err, SML_EINPUT, "network", " %s: element %d '%s' %s", net, index, elem, why);
}

/* Weights W<layer> [rows, cols] (regularised), then biases b<layer>. */
static void add_param(sml_model *m, int layer, int64_t rows, int64_t cols) {
  sml_model_add_param(m, "W", layer, 2, rows, cols, 1);
  sml_model_add_param(m, "b", layer, 1, rows, 0, 0);
}

/* gamma (from 1), beta (0), then the running mean (0) and variance (1). */
static void add_batchnorm_params(sml_model *m, int layer, int64_t channels) {
  static const char *const names[] = {"gamma", "beta", "mean", "var"};
  for (int k = 0; k < 4; k++) {
    sml_param_entry *p = sml_model_add_param(m, names[k], layer, 1, channels, 0, 0);
    p->fill = k == 0 || k == 3 ? 1.0f : 0.0f;
    p->running = k >= 2;
  }
}

int sml_model_init_net(sml_model *m, const char *net, int height, int width, int channels, int num_classes,
                       sml_err *err) {
  memset(m, 0, sizeof *m);
  if (!net || !*net) return sml_fail_quantity(err, SML_EINPUT, "network", ": empty (e.g. conv32x3,relu,pool2,fc10)");
  if (strlen(net) >= SML_NET_LEN)
    return sml_fail_quantity(err, SML_EINPUT, "network", ": longer than %d characters", SML_NET_LEN - 1);
  snprintf(m->kind, sizeof m->kind, "cnn");
  snprintf(m->net, sizeof m->net, "%s", net);
  m->loss = SML_LOSS_SOFTMAX;
  m->svm_margin = 1.0f;
  int c = channels, h = height, w = width, index = 0;
  m->width[0] = (int64_t)c * h * w;
  char copy[SML_NET_LEN];
  snprintf(copy, sizeof copy, "%s", net);
  char *cursor = copy;
  for (char *elem; (elem = sml_list_next(&cursor));) {
    index++;
    if (!*elem)
      return sml_fail_quantity(err, SML_EINPUT, "network", " %s: element %d is empty (a stray comma)", net, index);
    if (strcmp(elem, "relu") == 0) {
      if (m->nops == 0) return bad(err, net, index, elem, "follows no layer");
      if (m->op[m->nops - 1].relu) return bad(err, net, index, elem, "repeats a ReLU");
      m->op[m->nops - 1].relu = 1;
      continue;
    }
    if (m->nops == SML_MAX_LAYERS)
      return bad(err, net, index, elem, "is one layer too many (at most %d; a ReLU is part of its layer)",
                 SML_MAX_LAYERS);
    sml_op *op = &m->op[m->nops];
    *op = (sml_op){.c = c, .h = h, .w = w, .param = -1, .stride = 1};
    const char *p = elem;
    int64_t a = 0, k = 0, s = 1, pad = -1;
    if (strncmp(p, "conv", 4) == 0) {
      p += 4;
      if (!number(&p, &a) || *p++ != 'x' || !number(&p, &k))
        return bad(err, net, index, elem, "is not conv<F>x<K>[s<S>][p<P>]");
      if (*p == 's' && (p++, !number(&p, &s))) return bad(err, net, index, elem, "has no stride after s");
      if (*p == 'p' && (p++, !number(&p, &pad))) return bad(err, net, index, elem, "has no padding after p");
      if (*p) return bad(err, net, index, elem, "is not conv<F>x<K>[s<S>][p<P>]");
      if (a < 1 || a > NET_MAX_FILTERS)
        return bad(err, net, index, elem, "needs 1 to %lld filters", (long long)NET_MAX_FILTERS);
      if (k < 1 || k > NET_MAX_KERNEL)
        return bad(err, net, index, elem, "needs a kernel of 1 to %lld", (long long)NET_MAX_KERNEL);
      if (s < 1 || s > k)
        return bad(err, net, index, elem, "needs a stride of 1 to its kernel size %lld", (long long)k);
      if (pad < 0) pad = (k - 1) / 2;
      if (pad >= k) return bad(err, net, index, elem, "needs padding below its kernel size %lld", (long long)k);
      if (h + 2 * pad < k || w + 2 * pad < k)
        return bad(err, net, index, elem, "has a kernel larger than its %lldx%lld input (padding included)",
                   (long long)(h + 2 * pad), (long long)(w + 2 * pad));
      op->kind = SML_OP_CONV;
      op->k = (int)k;
      op->stride = (int)s;
      op->pad = (int)pad;
      op->oc = (int)a;
      op->oh = (int)((h + 2 * pad - k) / s + 1);
      op->ow = (int)((w + 2 * pad - k) / s + 1);
      op->param = m->nparams;
      add_param(m, m->nops, a, (int64_t)c * k * k);
    } else if (strncmp(p, "pool", 4) == 0 || strncmp(p, "maxpool", 7) == 0 || strncmp(p, "avgpool", 7) == 0) {
      const int avg = p[0] == 'a';
      p += p[0] == 'p' ? 4 : 7;
      if (!number(&p, &k) || *p) return bad(err, net, index, elem, "is not pool<K> or avgpool<K>");
      if (k < 1 || k > NET_MAX_KERNEL)
        return bad(err, net, index, elem, "needs a window of 1 to %lld", (long long)NET_MAX_KERNEL);
      if (h < k || w < k) return bad(err, net, index, elem, "has a window larger than its %dx%d input", h, w);
      op->kind = avg ? SML_OP_AVGPOOL : SML_OP_MAXPOOL;
      op->k = op->stride = (int)k;
      op->oc = c;
      op->oh = (int)(h / k);
      op->ow = (int)(w / k);
    } else if (strncmp(p, "fc", 2) == 0) {
      p += 2;
      if (!number(&p, &a) || *p) return bad(err, net, index, elem, "is not fc<N>");
      if (a < 1 || a > NET_MAX_FC) return bad(err, net, index, elem, "needs 1 to %lld outputs", (long long)NET_MAX_FC);
      op->kind = SML_OP_FC;
      op->oc = (int)a;
      op->oh = op->ow = 1;
      op->param = m->nparams;
      add_param(m, m->nops, a, (int64_t)c * h * w);
    } else if (strcmp(p, "bn") == 0) {
      if (m->nops == 0) return bad(err, net, index, elem, "follows no layer (the input is already centred)");
      op->kind = SML_OP_BATCHNORM;
      op->oc = c;
      op->oh = h;
      op->ow = w;
      op->param = m->nparams;
      add_batchnorm_params(m, m->nops, c);
    } else if (strncmp(p, "dropout", 7) == 0) {
      char *end;
      const double prob = strtod(p + 7, &end);
      if (end == p + 7 || *end || p[7] < '0' || p[7] > '9')
        return bad(err, net, index, elem, "is not dropout<P> (e.g. dropout0.5)");
      if (!(prob > 0 && prob < 1)) return bad(err, net, index, elem, "needs a probability above 0 and below 1");
      op->kind = SML_OP_DROPOUT;
      op->drop = prob;
      op->oc = c;
      op->oh = h;
      op->ow = w;
    } else {
      return bad(err, net, index, elem,
                 "is not a layer (conv<F>x<K>[s<S>][p<P>], pool<K>, avgpool<K>, fc<N>, bn, dropout<P>,"
                 " relu)");
    }
    c = op->oc;
    h = op->oh;
    w = op->ow;
    m->width[++m->nops] = (int64_t)c * h * w;
  }
  if (m->nops == 0) return sml_fail_quantity(err, SML_EINPUT, "network", " %s: no layer", net);
  const sml_op *last = &m->op[m->nops - 1];
  if (last->kind != SML_OP_FC || last->relu)
    return sml_fail_quantity(err, SML_EINPUT, "network",
                             " %s: must end with fc%d, the scores of the %d classes (no ReLU after it)", net,
                             num_classes, num_classes);
  if (last->oc != num_classes)
    return sml_fail_quantity(err, SML_EINPUT, "network",
                             " %s: the last layer fc%d gives %d scores; the data has %d classes", net, last->oc,
                             last->oc, num_classes);
  m->nlayers = m->nops;
  return SML_OK;
}

/* Activations between convolutions and pooling stay planar, [C, B, H, W]:
 * a convolution's one matrix product leaves its output in that order, and
 * pooling, batch normalization and dropout work plane by plane or channel
 * by channel. Fully connected layers read and write rows [B, C*H*W] (the
 * column order of their weights, as exported models have it). planar(m, l):
 * whether layer l's input (act[l]) is planar; reads(m, l): the order layer
 * l reads; where the two differ, forward relays its input into relaid[l]. */
static int planar(const sml_model *m, int l) {
  int p = m->op[0].kind != SML_OP_FC;
  for (int i = 0; i < l; i++)
    if (m->op[i].kind == SML_OP_FC) p = 0;
    else if (m->op[i].kind == SML_OP_CONV || m->op[i].kind == SML_OP_MAXPOOL || m->op[i].kind == SML_OP_AVGPOOL) p = 1;
  return p;
}
static int reads_planar(const sml_model *m, int l) {
  const int kind = m->op[l].kind;
  return kind == SML_OP_FC ? 0 : kind == SML_OP_BATCHNORM || kind == SML_OP_DROPOUT ? planar(m, l) : 1;
}

/* planes[C, B, hw] <-> rows[B, C*hw] */
static void relay(float *dst, const float *src, int64_t B, int C, int64_t hw, int to_planar) {
#pragma omp parallel for schedule(static) if (B * C * hw >= (1 << 16))
  for (int64_t b = 0; b < B; b++)
    for (int c = 0; c < C; c++) {
      const int64_t p = ((int64_t)c * B + b) * hw, r = (b * C + c) * hw;
      memcpy(dst + (to_planar ? p : r), src + (to_planar ? r : p), (size_t)hw * sizeof *dst);
    }
}

static sml_conv_shape conv_shape(const sml_op *op) {
  sml_conv_shape s = {.c = op->c,
                      .h = op->h,
                      .w = op->w,
                      .f = op->oc,
                      .k = op->k,
                      .stride = op->stride,
                      .pad = op->pad,
                      .oh = op->oh,
                      .ow = op->ow};
  s.algo = sml_conv_pick(&s);
  return s;
}

void sml_net_workspace(sml_workspace *ws, const sml_model *m, int64_t B) {
  int64_t widest = 0, scratch = 0, tmp = 0;
  for (int l = 0; l <= m->nops; l++) {
    if (l > 0) ws->act[l] = SML_ALLOC((size_t)(B * m->width[l]) * sizeof(float));
    if (m->width[l] > widest) widest = m->width[l];
  }
  for (int l = 0; l < m->nops; l++) {
    const sml_op *op = &m->op[l];
    const int64_t outs = B * op->oh * op->ow;
    if (l > 0 && planar(m, l) != reads_planar(m, l)) { /* the input relaid, and its gradient's scratch */
      ws->relaid[l] = SML_ALLOC((size_t)(B * m->width[l]) * sizeof(float));
      if (B * m->width[l] > tmp) tmp = B * m->width[l];
    }
    if (op->kind == SML_OP_CONV) {
      const int64_t rows = (int64_t)op->c * op->k * op->k;
      const sml_conv_shape s = conv_shape(op);
      if (sml_conv_keeps_col(&s)) /* the others unfold a few images at a time, in the scratch */
        ws->col[l] = SML_ALLOC((size_t)(rows * outs) * sizeof(float));
      const int64_t held = sml_conv_scratch_floats(B, &s);
      if (held > scratch) scratch = held;
    } else if (op->kind == SML_OP_MAXPOOL) {
      ws->argmax[l] = SML_ALLOC((size_t)(B * m->width[l + 1]) * sizeof(int32_t));
    } else if (op->kind == SML_OP_DROPOUT) {
      ws->mask[l + 1] = SML_ALLOC((size_t)(B * m->width[l + 1]) * sizeof(float));
    } else if (op->kind == SML_OP_BATCHNORM) {
      ws->xhat[l] = SML_ALLOC((size_t)(B * m->width[l]) * sizeof(float));
      ws->bn[l] = SML_CALLOC((size_t)(5 * op->c + 2), sizeof(double));
    }
  }
  ws->grad_a = SML_ALLOC((size_t)(B * widest) * sizeof(float));
  ws->grad_b = SML_ALLOC((size_t)(B * widest) * sizeof(float));
  if (scratch) ws->conv_scratch = SML_ALLOC((size_t)scratch * sizeof(float));
  ws->conv_scratch_floats = scratch;
  if (tmp) ws->tmp = SML_ALLOC((size_t)tmp * sizeof(float));
  if (m->op[0].c > 1) ws->xin = SML_ALLOC((size_t)(B * m->width[0]) * sizeof(float));
}

static sml_pool_shape pool_shape(const sml_op *op) {
  return (sml_pool_shape){
      .c = op->c, .h = op->h, .w = op->w, .k = op->k, .oh = op->oh, .ow = op->ow, .max = op->kind == SML_OP_MAXPOOL};
}

/* The batch as the first layer reads it: images arrive HWC (channels
 * last); a fully connected layer reads NCHW rows, the others planes. */
static const float *net_input(const sml_model *m, const float *x, int64_t B, sml_workspace *ws) {
  const sml_op *op = &m->op[0];
  if (op->c == 1) return x; /* [B, 1, H, W] rows and [1, B, H, W] planes alike */
  const int64_t hw = (int64_t)op->h * op->w, C = op->c;
  const int to_planar = reads_planar(m, 0);
#pragma omp parallel for schedule(static) if (B * m->width[0] >= (1 << 16))
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++) {
      float *dst = ws->xin + (to_planar ? c * B + b : b * C + c) * hw;
      for (int64_t q = 0; q < hw; q++) dst[q] = x[(b * hw + q) * C + c];
    }
  return ws->xin;
}

/* Batch normalization l's doubles in ws->bn[l] (nn/net.h). */
typedef struct {
  double *sums, *mean, *invstd, *var, *count;
} bn_view;
static bn_view bn_at(const sml_workspace *ws, const sml_op *op, int l) {
  double *v = ws->bn[l];
  const int C = op->c;
  return (bn_view){
      .sums = v, .mean = v + 2 * C + 1, .invstd = v + 3 * C + 1, .var = v + 4 * C + 1, .count = v + 5 * C + 1};
}

int64_t sml_net_sums_len(const sml_model *m, int l) { return 2 * (int64_t)m->op[l].c + 1; }

void sml_net_agree(const sml_model *m, sml_workspace *ws, int l) {
  const sml_op *op = &m->op[l];
  const bn_view v = bn_at(ws, op, l);
  const double n = v.sums[2 * op->c] * op->h * op->w; /* values per channel */
  *v.count = n;
  for (int c = 0; c < op->c; c++) {
    const double mean = n > 0 ? v.sums[c] / n : 0.0, var = n > 0 ? fmax(v.sums[op->c + c] / n - mean * mean, 0.0) : 1.0;
    v.mean[c] = mean;
    v.var[c] = var;
    v.invstd[c] = 1.0 / sqrt(var + SML_BN_EPSILON);
  }
}

void sml_net_update_running(const sml_model *m, float *params, const sml_workspace *ws) {
  for (int l = 0; l < m->nops; l++) {
    const sml_op *op = &m->op[l];
    if (op->kind != SML_OP_BATCHNORM) continue;
    const bn_view v = bn_at(ws, op, l);
    float *mean = params + m->param[op->param + 2].offset, *var = params + m->param[op->param + 3].offset;
    const double n = *v.count, unbiased = n > 1 ? n / (n - 1) : 1.0;
    for (int c = 0; c < op->c; c++) {
      mean[c] = (float)((1.0 - SML_BN_MOMENTUM) * mean[c] + SML_BN_MOMENTUM * v.mean[c]);
      var[c] = (float)((1.0 - SML_BN_MOMENTUM) * var[c] + SML_BN_MOMENTUM * v.var[c] * unbiased);
    }
  }
}

/* Evaluation's statistics: the running averages (in double, as agreed ones). */
static void running_stats(const sml_model *m, const float *params, const sml_workspace *ws, int l) {
  const sml_op *op = &m->op[l];
  const bn_view v = bn_at(ws, op, l);
  const float *mean = params + m->param[op->param + 2].offset, *var = params + m->param[op->param + 3].offset;
  for (int c = 0; c < op->c; c++) {
    v.mean[c] = mean[c];
    v.var[c] = var[c];
    v.invstd[c] = 1.0 / sqrt((double)var[c] + SML_BN_EPSILON);
  }
}

int sml_net_forward_part(const sml_model *m, const float *params, const float *x, int64_t B, const sml_dropout *drop,
                         sml_workspace *ws, int from) {
  const float *in = from == 0 ? net_input(m, x, B, ws) : ws->act[from];
  for (int l = from; l < m->nops; l++) {
    const sml_op *op = &m->op[l];
    float *out = ws->act[l + 1];
    const float *w = op->param >= 0 ? params + m->param[op->param].offset : NULL;
    const float *b = op->param >= 0 ? params + m->param[op->param + 1].offset : NULL;
    const int64_t hw = (int64_t)op->h * op->w;
    const int pl = reads_planar(m, l);
    if (ws->relaid[l]) {
      relay(ws->relaid[l], in, B, op->c, hw, pl);
      in = ws->relaid[l];
    }
    /* batch normalization sees a planar batch as one image of B*hw values per channel */
    const int64_t bn_b = pl ? 1 : B, bn_hw = pl ? B * hw : hw;
    if (op->kind == SML_OP_BATCHNORM) {
      if (!drop) running_stats(m, params, ws, l);
      else if (l != from) { /* the statistics are the whole batch's: stop for them */
        const bn_view v = bn_at(ws, op, l);
        sml_bn_moments(v.sums, in, bn_b, op->c, bn_hw);
        v.sums[2 * op->c] = (double)B;
        return l;
      }
      const bn_view v = bn_at(ws, op, l);
      sml_bn_forward(out, ws->xhat[l], in, w, b, v.mean, v.invstd, bn_b, op->c, bn_hw);
    } else if (B == 0) {
      /* nothing to compute; the batch normalizations above still agree */
    } else if (op->kind == SML_OP_CONV) {
      const sml_conv_shape s = conv_shape(op);
      sml_conv_forward(out, ws->col[l], in, w, b, op->relu, B, &s, ws->conv_scratch, ws->conv_scratch_floats);
    } else if (op->kind == SML_OP_FC) {
      sml_affine_forward(out, in, w, b, B, m->width[l], m->width[l + 1]);
    } else if (op->kind == SML_OP_DROPOUT) {
      memcpy(out, in, (size_t)(B * m->width[l]) * sizeof *out);
      if (drop) sml_dropout_forward(drop, op->drop, l, out, ws->mask[l + 1], B, op->c, hw, pl);
    } else {
      const sml_pool_shape s = pool_shape(op);
      sml_pool_forward(out, ws->argmax[l], in, B, &s);
    }
    if (op->relu && op->kind != SML_OP_CONV) sml_relu_forward(out, out, B * m->width[l + 1]); /* conv's is fused */
    in = out;
  }
  return m->nops;
}

/* Agrees the sums batch normalization l stopped at with every rank (ws->sum). */
static void agree_sums(const sml_model *m, sml_workspace *ws, int l) {
  if (ws->sum) ws->sum(ws->sum_ctx, ws->bn[l], sml_net_sums_len(m, l));
}

const float *sml_net_forward(const sml_model *m, const float *params, const float *x, int64_t B,
                             const sml_dropout *drop, sml_workspace *ws) {
  for (int l = 0; (l = sml_net_forward_part(m, params, x, B, drop, ws, l)) < m->nops;) {
    agree_sums(m, ws, l);
    sml_net_agree(m, ws, l);
  }
  return ws->act[m->nops];
}

int sml_net_backward_part(const sml_model *m, const float *params, float *grad, const float *x, int64_t B,
                          const sml_dropout *drop, sml_workspace *ws, const sml_grad_hook *hook, int from) {
  const float *x0 = m->op[0].c == 1 ? x : ws->xin; /* forward left the NCHW copy there */
  /* The gradient of layer l's output is in grad_a for the top layer, then
   * alternately in grad_b and grad_a going down. */
  int relu_folded = 0; /* the layer above was a max pooling that applied this one's ReLU */
  for (int l = from < m->nops ? from : m->nops - 1; l >= 0; l--) {
    const sml_op *op = &m->op[l];
    const int relu_done = relu_folded;
    relu_folded = 0;
    float *dout = (m->nops - 1 - l) % 2 ? ws->grad_b : ws->grad_a,
          *din = l > 0 ? (dout == ws->grad_a ? ws->grad_b : ws->grad_a) : NULL;
    const float *in = l == 0 ? x0 : ws->relaid[l] ? ws->relaid[l] : ws->act[l];
    /* the input gradient in the order the layer read its input, relaid below */
    float *dread = ws->relaid[l] ? ws->tmp : din;
    const int64_t hw = (int64_t)op->h * op->w;
    const int pl = reads_planar(m, l);
    const int64_t bn_b = pl ? 1 : B, bn_hw = pl ? B * hw : hw;
    const int resumed = l == from;
    if (op->relu && !resumed && op->kind != SML_OP_CONV) /* conv's is fused */
      sml_relu_backward(dout, dout, ws->act[l + 1], B * m->width[l + 1]);
    if (op->kind == SML_OP_BATCHNORM) {
      const sml_param_entry *pg = &m->param[op->param], *pb = &m->param[op->param + 1];
      const bn_view v = bn_at(ws, op, l);
      if (!resumed) { /* the gradients of gamma and beta here, then stop for the whole batch's */
        sml_bn_dsums(v.sums, dout, ws->xhat[l], bn_b, op->c, bn_hw);
        for (int c = 0; c < op->c; c++) {
          grad[pb->offset + c] += (float)v.sums[c];
          grad[pg->offset + c] += (float)v.sums[op->c + c];
        }
        if (drop) return l;
      }
      if (din)
        sml_bn_input_grad(din, dout, ws->xhat[l], params + pg->offset, v.invstd, drop ? v.sums : NULL, *v.count, bn_b,
                          op->c, bn_hw);
      if (hook) hook->ready(hook->ctx, pg->offset);
    } else if (op->param >= 0) {
      const sml_param_entry *pw = &m->param[op->param], *pb = &m->param[op->param + 1];
      if (B == 0) {
        /* no samples here: zero gradients, final at once */
      } else if (op->kind == SML_OP_CONV) {
        const sml_conv_shape s = conv_shape(op);
        sml_conv_backward(dread, grad + pw->offset, grad + pb->offset, dout,
                          op->relu && !relu_done ? ws->act[l + 1] : NULL, ws->col[l], in, params + pw->offset, B, &s,
                          ws->conv_scratch, ws->conv_scratch_floats);
      } else {
        const int64_t Din = m->width[l], Dout = m->width[l + 1];
        sml_affine_bias_grad(grad + pb->offset, dout, B, Dout);
        sml_affine_weight_grad_rows(grad + pw->offset, dout, in, B, Din, Dout, 0, Dout);
        if (din) sml_affine_input_grad(dread, dout, params + pw->offset, B, Din, Dout);
      }
      /* Layers own ascending slices of the buffer: from this one's weights
       * to the end, every gradient is final. */
      if (hook) hook->ready(hook->ctx, pw->offset);
    } else if (din && op->kind == SML_OP_DROPOUT) {
      const float *mask = ws->mask[l + 1];
      const int64_t n = B * m->width[l];
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
      for (int64_t i = 0; i < n; i++) din[i] = drop ? dout[i] * mask[i] : dout[i];
    } else if (din && B > 0) {
      const sml_pool_shape s = pool_shape(op);
      /* over a convolution's ReLU, its backward folded into this one's */
      relu_folded = s.max && l > 0 && m->op[l - 1].kind == SML_OP_CONV && m->op[l - 1].relu && !ws->relaid[l];
      sml_pool_backward(dread, dout, ws->argmax[l], relu_folded ? ws->act[l + 1] : NULL, B, &s);
    }
    if (din && ws->relaid[l]) relay(din, ws->tmp, B, op->c, hw, !pl);
  }
  return -1;
}

void sml_net_backward(const sml_model *m, const float *params, float *grad, const float *x, int64_t B,
                      const sml_dropout *drop, sml_workspace *ws, const sml_grad_hook *hook) {
  for (int l = m->nops; (l = sml_net_backward_part(m, params, grad, x, B, drop, ws, hook, l)) >= 0;)
    agree_sums(m, ws, l);
}

void sml_net_describe(const sml_model *m, char *out, size_t len) {
  size_t used = 0;
  for (int l = 0; l < m->nops && used < len; l++) {
    const sml_op *op = &m->op[l];
    static const char *const names[] = {"fc", "conv", "maxpool", "avgpool", "dropout", "bn"};
    const int64_t params = op->param >= 0 ? m->param[op->param].size + m->param[op->param + 1].size : 0;
    char name[32];
    if (op->kind == SML_OP_DROPOUT) snprintf(name, sizeof name, "dropout%g", op->drop);
    else snprintf(name, sizeof name, "%s", names[op->kind]);
    used += (size_t)snprintf(out + used, len - used, "%s%s%s %dx%dx%d (%lld parameters)", l ? "; " : "", name,
                             op->relu ? "+relu" : "", op->oc, op->oh, op->ow, (long long)params);
  }
}
