/* Networks (model kind "cnn") against a slow, obvious reference: naive
 * double-precision loops for convolution, pooling, fully connected layers,
 * ReLU and softmax cross-entropy, forward and backward, at shapes with
 * stride 2, padding, odd sizes, several channels and batch 1; the
 * reference gradient itself against centred differences in double. Then
 * the spec's errors: one line naming the element and what is wrong. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "expect.h"
#include "shardml/comm.h"
#include "shardml/model.h"
#include "nn/layers.h"
#include "nn/net.h"

/* The reference works on one image at a time, NCHW, in double. A dropout
 * layer multiplies by the mask shardml's own hash gives (sml_dropout_keep
 * for sample b, the layer's index and the value's index), scaled by
 * 1 / (1 - p); ref_drop NULL: evaluation, the values pass unchanged. */
static const sml_dropout *ref_drop;
static int ref_sample;
static double drop_scale(const sml_op *op, int layer, int64_t i) {
  if (!ref_drop) return 1.0;
  sml_dropout d = *ref_drop;
  d.p = op->drop;
  return sml_dropout_keep(&d, ref_drop->ids[ref_sample], layer, i) ? 1.0 / (1.0 - op->drop) : 0.0;
}

static double conv_at(const sml_op *op, const double *w, const double *in, int f, int y, int x) {
  double s = 0;
  for (int c = 0; c < op->c; c++)
    for (int i = 0; i < op->k; i++)
      for (int j = 0; j < op->k; j++) {
        const int iy = y * op->stride - op->pad + i, ix = x * op->stride - op->pad + j;
        if (iy < 0 || iy >= op->h || ix < 0 || ix >= op->w) continue;
        s += w[((int64_t)f * op->c + c) * op->k * op->k + i * op->k + j] * in[((int64_t)c * op->h + iy) * op->w + ix];
      }
  return s;
}

/* Layer l (not a batch normalization) of one image: in -> out. */
static void ref_layer(const sml_model *m, const double *p, int l, const double *in, double *out) {
  const sml_op *op = &m->op[l];
  const double *w = op->param >= 0 ? p + m->param[op->param].offset : NULL;
  const double *b = op->param >= 0 ? p + m->param[op->param + 1].offset : NULL;
  for (int f = 0; f < op->oc; f++)
    for (int y = 0; y < op->oh; y++)
      for (int x0 = 0; x0 < op->ow; x0++) {
        double v;
        if (op->kind == SML_OP_CONV) {
          v = conv_at(op, w, in, f, y, x0) + b[f];
        } else if (op->kind == SML_OP_DROPOUT) {
          const int64_t i = ((int64_t)f * op->oh + y) * op->ow + x0;
          v = in[i] * drop_scale(op, l, i);
        } else if (op->kind == SML_OP_FC) {
          v = b[f];
          for (int64_t i = 0; i < m->width[l]; i++) v += w[(int64_t)f * m->width[l] + i] * in[i];
        } else {
          v = op->kind == SML_OP_MAXPOOL ? -INFINITY : 0;
          for (int i = 0; i < op->k; i++)
            for (int j = 0; j < op->k; j++) {
              const double u = in[((int64_t)f * op->h + y * op->k + i) * op->w + x0 * op->k + j];
              v = op->kind == SML_OP_MAXPOOL ? fmax(v, u) : v + u / (op->k * op->k);
            }
        }
        out[((int64_t)f * op->oh + y) * op->ow + x0] = v;
      }
}

/* Layer l's backward for one image: parameter gradients added, din set. */
static void ref_layer_backward(const sml_model *m, const double *p, double *g, int l, const double *in,
                               const double *dout, double *din) {
  const sml_op *op = &m->op[l];
  memset(din, 0, (size_t)m->width[l] * sizeof *din);
  const double *w = op->param >= 0 ? p + m->param[op->param].offset : NULL;
  double *gw = op->param >= 0 ? g + m->param[op->param].offset : NULL;
  double *gb = op->param >= 0 ? g + m->param[op->param + 1].offset : NULL;
  for (int f = 0; f < op->oc; f++)
    for (int yy = 0; yy < op->oh; yy++)
      for (int xx = 0; xx < op->ow; xx++) {
        const double go = dout[((int64_t)f * op->oh + yy) * op->ow + xx];
        if (op->kind == SML_OP_DROPOUT) {
          const int64_t i = ((int64_t)f * op->oh + yy) * op->ow + xx;
          din[i] += go * drop_scale(op, l, i);
        } else if (op->kind == SML_OP_FC) {
          gb[f] += go;
          for (int64_t i = 0; i < m->width[l]; i++) {
            gw[(int64_t)f * m->width[l] + i] += go * in[i];
            din[i] += go * w[(int64_t)f * m->width[l] + i];
          }
        } else if (op->kind == SML_OP_CONV) {
          gb[f] += go;
          for (int c = 0; c < op->c; c++)
            for (int i = 0; i < op->k; i++)
              for (int j = 0; j < op->k; j++) {
                const int iy = yy * op->stride - op->pad + i, ix = xx * op->stride - op->pad + j;
                if (iy < 0 || iy >= op->h || ix < 0 || ix >= op->w) continue;
                const int64_t wi = ((int64_t)f * op->c + c) * op->k * op->k + i * op->k + j;
                const int64_t ii = ((int64_t)c * op->h + iy) * op->w + ix;
                gw[wi] += go * in[ii];
                din[ii] += go * w[wi];
              }
        } else { /* pooling: to the first maximum, or spread evenly */
          int64_t best = -1;
          for (int i = 0; i < op->k; i++)
            for (int j = 0; j < op->k; j++) {
              const int64_t ii = ((int64_t)f * op->h + yy * op->k + i) * op->w + xx * op->k + j;
              if (op->kind == SML_OP_AVGPOOL) din[ii] += go / (op->k * op->k);
              else if (best < 0 || in[ii] > in[best]) best = ii;
            }
          if (op->kind == SML_OP_MAXPOOL) din[best] += go;
        }
      }
}

/* Batch normalization l over B images (a[b * width + c * hw + q]), as the
 * textbook writes it: the batch's mean and (biased) variance per channel
 * while training (ref_drop set), the running ones otherwise. */
typedef struct {
  double mean, var;
} ref_stats;
static void ref_bn_stats(const sml_model *m, const double *p, int l, const double *in, int B, ref_stats *st) {
  const sml_op *op = &m->op[l];
  const int64_t hw = (int64_t)op->h * op->w, W = m->width[l];
  for (int c = 0; c < op->c; c++) {
    if (!ref_drop) {
      st[c].mean = p[m->param[op->param + 2].offset + c];
      st[c].var = p[m->param[op->param + 3].offset + c];
      continue;
    }
    double mean = 0, var = 0;
    for (int b = 0; b < B; b++)
      for (int64_t q = 0; q < hw; q++) mean += in[b * W + c * hw + q];
    mean /= (double)(B * hw);
    for (int b = 0; b < B; b++)
      for (int64_t q = 0; q < hw; q++) var += pow(in[b * W + c * hw + q] - mean, 2);
    st[c] = (ref_stats){mean, var / (double)(B * hw)};
  }
}
static void ref_bn_forward(const sml_model *m, const double *p, int l, const double *in, double *out, int B) {
  const sml_op *op = &m->op[l];
  const int64_t hw = (int64_t)op->h * op->w, W = m->width[l];
  ref_stats st[64];
  ref_bn_stats(m, p, l, in, B, st);
  const double *gamma = p + m->param[op->param].offset, *beta = p + m->param[op->param + 1].offset;
  for (int b = 0; b < B; b++)
    for (int c = 0; c < op->c; c++)
      for (int64_t q = 0; q < hw; q++) {
        const int64_t i = b * W + c * hw + q;
        out[i] = gamma[c] * (in[i] - st[c].mean) / sqrt(st[c].var + 1e-5) + beta[c];
      }
}
/* CS231n's staged backward: through xhat, the variance, then the mean. */
static void ref_bn_backward(const sml_model *m, const double *p, double *g, int l, const double *in, const double *dout,
                            double *din, int B) {
  const sml_op *op = &m->op[l];
  const int64_t hw = (int64_t)op->h * op->w, W = m->width[l], N = B * hw;
  ref_stats st[64];
  ref_bn_stats(m, p, l, in, B, st);
  const double *gamma = p + m->param[op->param].offset;
  for (int c = 0; c < op->c; c++) {
    const double is = 1 / sqrt(st[c].var + 1e-5);
    double dvar = 0, dmean = 0, sum_centred = 0;
    for (int b = 0; b < B; b++)
      for (int64_t q = 0; q < hw; q++) {
        const int64_t i = b * W + c * hw + q;
        g[m->param[op->param].offset + c] += dout[i] * (in[i] - st[c].mean) * is;
        g[m->param[op->param + 1].offset + c] += dout[i];
        dvar += dout[i] * gamma[c] * (in[i] - st[c].mean) * -0.5 * pow(is, 3);
        dmean += -dout[i] * gamma[c] * is;
        sum_centred += in[i] - st[c].mean;
      }
    if (!ref_drop) dvar = dmean = 0; /* fixed statistics: no path through them */
    dmean += dvar * -2 * sum_centred / (double)N;
    for (int b = 0; b < B; b++)
      for (int64_t q = 0; q < hw; q++) {
        const int64_t i = b * W + c * hw + q;
        din[i] = dout[i] * gamma[c] * is + dvar * 2 * (in[i] - st[c].mean) / (double)N + dmean / (double)N;
      }
  }
}

/* Summed softmax cross-entropy of B images x (HWC, as prepared) and its
 * gradient g (added), layer by layer over the batch. */
static double ref_loss_grad(const sml_model *m, const double *p, double *g, const double *x, const uint8_t *y, int B) {
  double *a[SML_MAX_LAYERS + 1] = {0}, *d[SML_MAX_LAYERS + 1] = {0};
  for (int l = 0; l <= m->nops; l++) {
    a[l] = calloc((size_t)(B * m->width[l]), sizeof(double));
    d[l] = calloc((size_t)(B * m->width[l]), sizeof(double));
  }
  const sml_op *first = &m->op[0];
  for (int b = 0; b < B; b++) /* HWC -> CHW */
    for (int c = 0; c < first->c; c++)
      for (int q = 0; q < first->h * first->w; q++)
        a[0][b * m->width[0] + c * first->h * first->w + q] = x[(b * m->width[0]) + q * first->c + c];
  for (int l = 0; l < m->nops; l++) {
    const int64_t Wi = m->width[l], Wo = m->width[l + 1];
    if (m->op[l].kind == SML_OP_BATCHNORM) ref_bn_forward(m, p, l, a[l], a[l + 1], B);
    for (int b = 0; b < B && m->op[l].kind != SML_OP_BATCHNORM; b++) {
      ref_sample = b;
      ref_layer(m, p, l, a[l] + b * Wi, a[l + 1] + b * Wo);
    }
    for (int64_t i = 0; m->op[l].relu && i < B * Wo; i++) a[l + 1][i] = fmax(a[l + 1][i], 0);
  }
  double loss = 0;
  const int64_t C = m->width[m->nops];
  for (int b = 0; b < B; b++) {
    const double *s = a[m->nops] + b * C;
    double mx = s[0], z = 0;
    for (int64_t j = 1; j < C; j++) mx = fmax(mx, s[j]);
    for (int64_t j = 0; j < C; j++) z += exp(s[j] - mx);
    loss += log(z) - (s[y[b]] - mx);
    for (int64_t j = 0; j < C; j++) d[m->nops][b * C + j] = exp(s[j] - mx) / z - (j == y[b]);
  }
  for (int l = m->nops - 1; l >= 0 && g; l--) {
    const int64_t Wi = m->width[l], Wo = m->width[l + 1];
    for (int64_t i = 0; m->op[l].relu && i < B * Wo; i++)
      if (a[l + 1][i] <= 0) d[l + 1][i] = 0;
    if (m->op[l].kind == SML_OP_BATCHNORM) ref_bn_backward(m, p, g, l, a[l], d[l + 1], d[l], B);
    for (int b = 0; b < B && m->op[l].kind != SML_OP_BATCHNORM; b++) {
      ref_sample = b;
      ref_layer_backward(m, p, g, l, a[l] + b * Wi, d[l + 1] + b * Wo, d[l] + b * Wi);
    }
  }
  for (int l = 0; l <= m->nops; l++) {
    free(a[l]);
    free(d[l]);
  }
  return loss;
}

/* One network at one shape: shardml's scores and gradient against the
 * reference, and the reference gradient against centred differences. */
static void check_net_mode(const char *net, int h, int w, int c, int classes, int B, const sml_dropout *drop) {
  sml_model m;
  sml_err err;
  if (sml_model_init_net(&m, net, h, w, c, classes, &err) != SML_OK) {
    EXPECT(0, "%s on %dx%dx%d: %s", net, h, w, c, err.msg);
    return;
  }
  const int64_t D = m.width[0], P = m.nweights;
  float *params = malloc((size_t)P * sizeof *params), *grad = calloc((size_t)P, sizeof *grad);
  double *pd = malloc((size_t)P * sizeof *pd), *gd = calloc((size_t)P, sizeof *gd);
  float *x = malloc((size_t)(B * D) * sizeof *x);
  double *xd = malloc((size_t)(B * D) * sizeof *xd);
  uint8_t *y = malloc((size_t)B);
  sml_model_init_params(&m, params, 11, 0);
  sml_rng rng = sml_rng_stream(5, 0, (uint64_t)h * 131 + (uint64_t)B);
  for (int p = 0; p < m.nparams; p++) /* biases, gamma, beta, running means off their start; variances positive */
    if (!m.param[p].regularized)
      for (int64_t i = 0; i < m.param[p].size; i++)
        params[m.param[p].offset + i] = m.param[p].fill + (float)(0.1 * fabs(sml_rng_normal(&rng)));
  for (int64_t i = 0; i < P; i++) pd[i] = params[i];
  for (int64_t i = 0; i < B * D; i++) xd[i] = x[i] = (float)sml_rng_normal(&rng);
  for (int b = 0; b < B; b++) y[b] = (uint8_t)(sml_rng_next(&rng) % (uint64_t)classes);

  sml_workspace ws;
  sml_workspace_init(&ws, &m, B);
  const double loss = sml_model_loss_grad(&m, params, grad, x, y, B, drop, &ws);
  ref_drop = drop;
  const double ref = ref_loss_grad(&m, pd, gd, xd, y, B);
  EXPECT(fabs(loss - ref) <= 1e-4 * fmax(1.0, fabs(ref)), "%s %dx%dx%d B=%d: loss %.8g, reference %.8g", net, h, w, c,
         B, loss, ref);
  /* A tensor whose gradient is zero in exact arithmetic (a bias before a
   * batch normalization, which removes per-channel constants) holds
   * rounding noise: judged against 1 % of the largest entry anywhere. */
  double largest = 0;
  for (int64_t i = 0; i < P; i++) largest = fmax(largest, fabs(gd[i]));
  for (int p = 0; p < m.nparams; p++) {
    const sml_param_entry *e = &m.param[p];
    double scale = fmax(1e-6, 1e-2 * largest), worst = 0;
    for (int64_t i = 0; i < e->size; i++) scale = fmax(scale, fabs(gd[e->offset + i]));
    for (int64_t i = 0; i < e->size; i++) worst = fmax(worst, fabs(grad[e->offset + i] - gd[e->offset + i]));
    EXPECT(worst <= 1e-4 * scale, "%s %dx%dx%d B=%d: %s differs from the reference by %.3g of its scale %.3g", net, h,
           w, c, B, e->name, worst / scale, scale);
  }
  /* The reference gradient against centred differences, a few entries per tensor. */
  for (int p = 0; p < m.nparams; p++) {
    const sml_param_entry *e = &m.param[p];
    /* Running statistics are no trained parameters: no gradient, by definition. */
    for (int t = 0; t < 3 && !e->running; t++) {
      const int64_t i = e->offset + (int64_t)(sml_rng_next(&rng) % (uint64_t)e->size);
      const double keep = pd[i], step = 1e-6;
      pd[i] = keep + step;
      const double up = ref_loss_grad(&m, pd, NULL, xd, y, B);
      pd[i] = keep - step;
      const double down = ref_loss_grad(&m, pd, NULL, xd, y, B);
      pd[i] = keep;
      const double num = (up - down) / (2 * step);
      EXPECT(fabs(num - gd[i]) <= 1e-5 * fmax(1.0, fabs(num)), "%s: reference %s[%lld] %.9g, centred difference %.9g",
             net, e->name, (long long)(i - e->offset), gd[i], num);
    }
  }
  sml_workspace_free(&ws);
  free(params);
  free(grad);
  free(pd);
  free(gd);
  free(x);
  free(xd);
  free(y);
}

/* Evaluation, then training (dropout layers drop values: a fixed mask). */
static void check_net(const char *net, int h, int w, int c, int classes, int B) {
  int64_t ids[64];
  for (int b = 0; b < B && b < 64; b++) ids[b] = 1000 + 7 * b;
  const sml_dropout drop = {.p = 0, .seed = 3, .step = 5, .ids = ids};
  check_net_mode(net, h, w, c, classes, B, NULL);
  if (strstr(net, "dropout") || strstr(net, "bn")) check_net_mode(net, h, w, c, classes, B, &drop);
  ref_drop = NULL;
}

/* A training pass of B images cut into two parts that agree their batch
 * normalization sums (as ranks and micro-batches do): the same loss and
 * summed gradient as one pass over all B, to float rounding. */
static void check_split(const char *net, int h, int w, int c, int classes, int B, int first) {
  sml_model m;
  sml_err err;
  EXPECT(sml_model_init_net(&m, net, h, w, c, classes, &err) == SML_OK, "%s: %s", net, err.msg);
  const int64_t D = m.width[0], P = m.nweights;
  float *params = malloc((size_t)P * sizeof *params), *whole = calloc((size_t)P, sizeof *whole);
  float *parts = calloc((size_t)P, sizeof *parts), *x = malloc((size_t)(B * D) * sizeof *x);
  uint8_t *y = malloc((size_t)B);
  int64_t ids[64];
  sml_model_init_params(&m, params, 3, 0);
  sml_rng rng = sml_rng_stream(9, 0, (uint64_t)B);
  for (int64_t i = 0; i < B * D; i++) x[i] = (float)sml_rng_normal(&rng);
  for (int b = 0; b < B; b++) {
    y[b] = (uint8_t)(sml_rng_next(&rng) % (uint64_t)classes);
    ids[b] = b;
  }
  const sml_dropout drop = {.seed = 1, .step = 2, .ids = ids}, drop2 = {.seed = 1, .step = 2, .ids = ids + first};
  sml_workspace ws, half[2];
  sml_workspace_init(&ws, &m, B);
  const double loss = sml_model_loss_grad(&m, params, whole, x, y, B, &drop, &ws);
  const int64_t n[2] = {first, B - first};
  const float *xs[2] = {x, x + first * D};
  const sml_dropout *ds[2] = {&drop, &drop2};
  for (int k = 0; k < 2; k++) sml_workspace_init(&half[k], &m, n[k] > 0 ? n[k] : 1);
  double sums[2 * 64 + 1];
  for (int from = 0; from < m.nops;) { /* forward: stop at each batch normalization, add both parts' sums */
    int stop = m.nops;
    for (int k = 0; k < 2; k++) stop = sml_net_forward_part(&m, params, xs[k], n[k], ds[k], &half[k], from);
    if (stop == m.nops) break;
    const int64_t len = sml_net_sums_len(&m, stop);
    for (int64_t i = 0; i < len; i++) sums[i] = half[0].bn[stop][i] + half[1].bn[stop][i];
    for (int k = 0; k < 2; k++) {
      memcpy(half[k].bn[stop], sums, (size_t)len * sizeof *sums);
      sml_net_agree(&m, &half[k], stop);
    }
    from = stop;
  }
  double split_loss = 0;
  for (int k = 0; k < 2; k++) split_loss += sml_net_loss(&m, y + (k ? first : 0), n[k], &half[k]);
  for (int from = m.nops; from >= 0;) {
    int stop = -1;
    for (int k = 0; k < 2; k++)
      stop = sml_net_backward_part(&m, params, parts, xs[k], n[k], ds[k], &half[k], NULL, from);
    if (stop < 0) break;
    const int64_t len = sml_net_sums_len(&m, stop);
    for (int64_t i = 0; i < len; i++) sums[i] = half[0].bn[stop][i] + half[1].bn[stop][i];
    for (int k = 0; k < 2; k++) memcpy(half[k].bn[stop], sums, (size_t)len * sizeof *sums);
    from = stop;
  }
  EXPECT(fabs(loss - split_loss) <= 1e-5 * fabs(loss), "%s split %d+%d: loss %.8g, whole batch %.8g", net, first,
         B - first, split_loss, loss);
  double scale = 0, worst = 0;
  for (int64_t i = 0; i < P; i++) scale = fmax(scale, fabs(whole[i]));
  for (int64_t i = 0; i < P; i++) worst = fmax(worst, fabs(whole[i] - parts[i]));
  EXPECT(worst <= 1e-5 * scale, "%s split %d+%d: gradient differs by %.3g of its scale", net, first, B - first,
         worst / scale);
  sml_workspace_free(&ws);
  for (int k = 0; k < 2; k++) sml_workspace_free(&half[k]);
  free(params);
  free(whole);
  free(parts);
  free(x);
  free(y);
}

/* One convolution layer, 3 x 3 with stride 1, by each algorithm of
 * nn/conv.c (all three, whatever sml_conv_pick would choose), against double
 * loops: the output with and without its ReLU, the weight, bias and input
 * gradients, and the weight and bias gradients through the ReLU without
 * the input gradient (a first layer's, which the thin algorithm fuses). */
static void check_conv_algos(int c, int h, int w, int f, int pad, int64_t B) {
  sml_conv_shape s = {.c = c, .h = h, .w = w, .f = f, .k = 3, .stride = 1, .pad = pad};
  s.oh = h + 2 * pad - 2;
  s.ow = w + 2 * pad - 2;
  const int64_t hw = (int64_t)h * w, ohw = (int64_t)s.oh * s.ow, nin = c * B * hw, nout = f * B * ohw, nw = f * c * 9;
  sml_rng rng = sml_rng_stream(9, (uint64_t)c, (uint64_t)(h * 100 + w));
  float *in = malloc((size_t)nin * sizeof *in), *wt = malloc((size_t)nw * sizeof *wt), *bias = malloc((size_t)f * 4);
  float *dout0 = malloc((size_t)nout * sizeof *dout0);
  for (int64_t i = 0; i < nin; i++) in[i] = (float)sml_rng_normal(&rng);
  for (int64_t i = 0; i < nw; i++) wt[i] = (float)(0.3 * sml_rng_normal(&rng));
  for (int i = 0; i < f; i++) bias[i] = (float)(0.1 * sml_rng_normal(&rng));
  for (int64_t i = 0; i < nout; i++) dout0[i] = (float)sml_rng_normal(&rng);
  /* the reference, planar as the layers are: out[f][b][y][x], din[c][b][iy][ix] */
  double *ref = calloc((size_t)nout, sizeof *ref), *rdin = calloc((size_t)nin, sizeof *rdin);
  double *rdw = calloc((size_t)nw, sizeof *rdw), *rdb = calloc((size_t)f, sizeof *rdb);
  double *rdw_relu = calloc((size_t)nw, sizeof *rdw_relu), *rdb_relu = calloc((size_t)f, sizeof *rdb_relu);
  for (int o = 0; o < f; o++)
    for (int64_t b = 0; b < B; b++)
      for (int y = 0; y < s.oh; y++)
        for (int x = 0; x < s.ow; x++) {
          const int64_t at = ((int64_t)o * B + b) * ohw + (int64_t)y * s.ow + x;
          double v = bias[o];
          double dw_at[9 * 64]; /* this output's terms of rdw, for the ReLU's copy (c <= 64) */
          memset(dw_at, 0, (size_t)(9 * c) * sizeof *dw_at);
          for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < 3; i++)
              for (int j = 0; j < 3; j++) {
                const int iy = y - pad + i, ix = x - pad + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                const int64_t src = ((int64_t)ch * B + b) * hw + (int64_t)iy * w + ix,
                              wi = ((int64_t)o * c + ch) * 9 + i * 3 + j;
                v += (double)wt[wi] * in[src];
                rdw[wi] += (double)dout0[at] * in[src];
                dw_at[wi - (int64_t)o * c * 9] = (double)dout0[at] * in[src];
                rdin[src] += (double)wt[wi] * dout0[at];
              }
          ref[at] = v;
          rdb[o] += dout0[at];
          if (v > 0) { /* the output gradient passes the ReLU here */
            for (int64_t q = 0; q < (int64_t)c * 9; q++) rdw_relu[(int64_t)o * c * 9 + q] += dw_at[q];
            rdb_relu[o] += dout0[at];
          }
        }
  double scale = 0, gscale = 0, wscale = 0;
  for (int64_t i = 0; i < nout; i++) scale = fmax(scale, fabs(ref[i]));
  for (int64_t i = 0; i < nin; i++) gscale = fmax(gscale, fabs(rdin[i]));
  for (int64_t i = 0; i < nw; i++) wscale = fmax(wscale, fabs(rdw[i]));
  const int64_t ncol = c * 9 * B * ohw;
  float *out = malloc((size_t)nout * sizeof *out), *col = malloc((size_t)ncol * sizeof *col);
  float *dout = malloc((size_t)nout * sizeof *dout), *din = malloc((size_t)nin * sizeof *din);
  float *dw = malloc((size_t)nw * sizeof *dw), *db = malloc((size_t)f * sizeof *db);
  for (int a = 0; a < SML_CONV_ALGOS; a++) {
    s.algo = (sml_conv_algo)a;
    const char *name = a == SML_CONV_WINOGRAD ? "winograd" : a == SML_CONV_THIN ? "thin" : "im2col";
    const int64_t nscratch = sml_conv_scratch_floats(B, &s);
    float *scratch = malloc((size_t)nscratch * sizeof *scratch);
    /* nothing of the other algorithms' runs may be read: only im2col's forward fills col */
    for (int64_t i = 0; i < ncol; i++) col[i] = NAN;
    for (int relu = 0; relu < 2; relu++) {
      sml_conv_forward(out, col, in, wt, bias, relu, B, &s, scratch, nscratch);
      double worst = 0;
      for (int64_t i = 0; i < nout; i++) worst = fmax(worst, fabs(out[i] - (relu ? fmax(ref[i], 0) : ref[i])));
      EXPECT(worst <= 1e-5 * scale, "conv %d->%d %dx%d pad %d B=%lld %s relu %d: output off by %.3g of %.3g", c, f, h,
             w, pad, (long long)B, name, relu, worst, scale);
    }
    /* backward as after a layer without its ReLU: dout as drawn */
    memcpy(dout, dout0, (size_t)nout * sizeof *dout);
    memset(dw, 0, (size_t)nw * sizeof *dw);
    memset(db, 0, (size_t)f * sizeof *db);
    sml_conv_backward(din, dw, db, dout, NULL, col, in, wt, B, &s, scratch, nscratch);
    double worst_in = 0, worst_w = 0, worst_b = 0;
    for (int64_t i = 0; i < nin; i++) worst_in = fmax(worst_in, fabs(din[i] - rdin[i]));
    for (int64_t i = 0; i < nw; i++) worst_w = fmax(worst_w, fabs(dw[i] - rdw[i]));
    double bscale = 1;
    for (int i = 0; i < f; i++) worst_b = fmax(worst_b, fabs(db[i] - rdb[i])), bscale = fmax(bscale, fabs(rdb[i]));
    EXPECT(worst_in <= 1e-5 * gscale && worst_w <= 1e-5 * wscale && worst_b <= 1e-5 * bscale * B,
           "conv %d->%d %dx%d pad %d B=%lld %s: input gradient off by %.3g of %.3g, weights %.3g of %.3g, bias %.3g", c,
           f, h, w, pad, (long long)B, name, worst_in, gscale, worst_w, wscale, worst_b);
    /* through the ReLU, without the input gradient */
    sml_conv_forward(out, col, in, wt, bias, 1, B, &s, scratch, nscratch);
    memcpy(dout, dout0, (size_t)nout * sizeof *dout);
    memset(dw, 0, (size_t)nw * sizeof *dw);
    memset(db, 0, (size_t)f * sizeof *db);
    sml_conv_backward(NULL, dw, db, dout, out, col, in, wt, B, &s, scratch, nscratch);
    worst_w = worst_b = 0;
    bscale = 1;
    for (int64_t i = 0; i < nw; i++) worst_w = fmax(worst_w, fabs(dw[i] - rdw_relu[i]));
    for (int i = 0; i < f; i++)
      worst_b = fmax(worst_b, fabs(db[i] - rdb_relu[i])), bscale = fmax(bscale, fabs(rdb_relu[i]));
    EXPECT(worst_w <= 1e-5 * wscale && worst_b <= 1e-5 * bscale * B,
           "conv %d->%d %dx%d pad %d B=%lld %s, through the ReLU: weight gradient off by %.3g of %.3g, bias %.3g", c, f,
           h, w, pad, (long long)B, name, worst_w, wscale, worst_b);
    free(scratch);
    /* the thin and Winograd weight gradients' bits do not depend on the
     * thread count (Winograd's here: several chunks, or one too small for
     * OpenBLAS to split) */
    if (a != SML_CONV_IM2COL) {
      const int threads = omp_get_max_threads();
      float *first = malloc((size_t)(nw + f) * sizeof *first);
      for (int t = 1; t <= 3; t += 2) {
        omp_set_num_threads(t);
        const int64_t room = sml_conv_scratch_floats(B, &s);
        scratch = malloc((size_t)room * sizeof *scratch);
        memcpy(dout, dout0, (size_t)nout * sizeof *dout);
        memset(dw, 0, (size_t)nw * sizeof *dw);
        memset(db, 0, (size_t)f * sizeof *db);
        sml_conv_backward(NULL, dw, db, dout, NULL, col, in, wt, B, &s, scratch, room);
        if (t == 1) {
          memcpy(first, dw, (size_t)nw * sizeof *dw);
          memcpy(first + nw, db, (size_t)f * sizeof *db);
        } else
          EXPECT(!memcmp(first, dw, (size_t)nw * sizeof *dw) && !memcmp(first + nw, db, (size_t)f * sizeof *db),
                 "conv %d->%d %dx%d pad %d B=%lld %s: other weight gradient bits on 3 threads than on 1", c, f, h, w,
                 pad, (long long)B, name);
        free(scratch);
      }
      omp_set_num_threads(threads);
      free(first);
    }
  }
  free(in), free(wt), free(bias), free(dout0), free(ref), free(rdin), free(rdw), free(rdb), free(rdw_relu),
      free(rdb_relu);
  free(out), free(col), free(dout), free(din), free(dw), free(db);
}

/* A wide Winograd layer (364 -> 364: 16 x 364 x 364 floats of sums per
 * group) sums its weight gradient's chunks in one group instead of one
 * group per chunk: the values as the double reference, the scratch
 * without a chunk's sums for each of its 3 chunks. 2 x 2 images (one
 * tile each), so that the reference stays small. */
static void check_wide_weight_grad(void) {
  const int n = 364, hw = 2;
  const int64_t B = 91, npix = B * hw * hw, nin = n * npix, nw = (int64_t)n * n * 9;
  sml_conv_shape s = {.c = n, .h = hw, .w = hw, .f = n, .k = 3, .stride = 1, .pad = 1, .oh = hw, .ow = hw};
  s.algo = SML_CONV_WINOGRAD;
  sml_rng rng = sml_rng_stream(11, (uint64_t)n, 0);
  float *in = malloc((size_t)nin * sizeof *in), *dout = malloc((size_t)nin * sizeof *dout);
  float *dw = calloc((size_t)nw, sizeof *dw), *db = calloc((size_t)n, sizeof *db);
  double *ref = calloc((size_t)nw, sizeof *ref);
  for (int64_t i = 0; i < nin; i++) in[i] = (float)sml_rng_normal(&rng);
  for (int64_t i = 0; i < nin; i++) dout[i] = (float)sml_rng_normal(&rng);
  for (int64_t b = 0; b < B; b++)
    for (int y = 0; y < hw; y++)
      for (int x = 0; x < hw; x++)
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 3; j++) {
            const int iy = y - 1 + i, ix = x - 1 + j;
            if (iy < 0 || iy >= hw || ix < 0 || ix >= hw) continue;
            for (int o = 0; o < n; o++) {
              const double g = dout[((int64_t)o * B + b) * hw * hw + y * hw + x];
              double *row = ref + (int64_t)o * n * 9 + i * 3 + j;
              const float *src = in + b * hw * hw + iy * hw + ix;
              for (int ch = 0; ch < n; ch++) row[ch * 9] += g * src[(int64_t)ch * npix];
            }
          }
  const int64_t room = sml_conv_scratch_floats(B, &s), sums = 16 * (int64_t)n * n;
  float *scratch = malloc((size_t)room * sizeof *scratch);
  sml_conv_backward(NULL, dw, db, dout, NULL, NULL, in, NULL, B, &s, scratch, room);
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < nw; i++) worst = fmax(worst, fabs(dw[i] - ref[i])), scale = fmax(scale, fabs(ref[i]));
  EXPECT(worst <= 1e-5 * scale, "conv %d->%d 2x2 B=%lld winograd: weight gradient off by %.3g of %.3g", n, n,
         (long long)B, worst, scale);
  EXPECT(room < sums * 3 / 2 + omp_get_max_threads() * (int64_t)(1 << 20), /* 3 groups' sums: 3 x sums */
         "conv %d->%d 2x2 B=%lld winograd: %lld floats of scratch, more than one group's sums", n, n, (long long)B,
         (long long)room);
  free(in), free(dout), free(dw), free(db), free(ref), free(scratch);
}

/* A batch of no images adds nothing to the gradients, by every algorithm
 * (net.c does not call them so, the library's other callers may). */
static void check_empty_batch(void) {
  sml_conv_shape s = {.c = 16, .h = 5, .w = 5, .f = 16, .k = 3, .stride = 1, .pad = 1, .oh = 5, .ow = 5};
  float dw[16 * 16 * 9], db[16], w[16 * 16 * 9] = {0}, none[1] = {0};
  for (int a = 0; a < SML_CONV_ALGOS; a++) {
    s.algo = (sml_conv_algo)a;
    const int64_t room = sml_conv_scratch_floats(0, &s) + 1;
    float *scratch = malloc((size_t)room * sizeof *scratch);
    for (int64_t i = 0; i < room; i++) scratch[i] = NAN; /* what is not written must not be read */
    for (int i = 0; i < 16 * 16 * 9; i++) dw[i] = 1.0f;
    for (int i = 0; i < 16; i++) db[i] = 1.0f;
    sml_conv_backward(NULL, dw, db, none, NULL, none, none, w, 0, &s, scratch, room);
    int same = 1;
    for (int i = 0; i < 16 * 16 * 9; i++) same &= dw[i] == 1.0f;
    for (int i = 0; i < 16; i++) same &= db[i] == 1.0f;
    EXPECT(same, "conv 16->16 algorithm %d, batch of 0: the gradients changed", a);
    free(scratch);
  }
}

/* A bad spec: SML_EINPUT, one line that names the network quantity and
 * says what is wrong. */
static void check_refused(const char *net, int h, int w, const char *needle) {
  sml_model m;
  sml_err err;
  const int st = sml_model_init_net(&m, net, h, w, 1, 10, &err);
  EXPECT(st == SML_EINPUT && strstr(err.msg, needle) && !strchr(err.msg, '\n') && strcmp(err.quantity, "network") == 0,
         "'%s' on %dx%d: status %d, message '%s' (expected '%s')", net, h, w, st, st ? err.msg : "", needle);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  tests_check_ranks(argv[0]);
  tests_select_kernels("test_net");
  check_net("conv4x3,relu,pool2,fc5", 6, 6, 1, 5, 3);
  check_net("conv5x3,relu,pool2,fc4", 7, 9, 2, 4, 3);  /* a row and a column no window takes, the ReLU folded */
  check_net("conv3x3,relu,pool2,fc4", 6, 15, 1, 4, 2); /* 7 windows a row: the last four overlap the first */
  check_net("conv3x3s2,relu,conv4x2p1,relu,avgpool2,fc6", 9, 7, 3, 6, 2); /* stride 2, padding, odd sizes, RGB */
  check_net("conv5x5p0,relu,fc8,relu,fc4", 7, 7, 2, 4, 1);                /* batch 1 */
  check_net("conv2x3s3p2,pool3,fc3", 11, 10, 1, 3, 4);                    /* rows and columns a window drops */
  check_net("conv3x5,relu,conv2x3,fc4", 2, 3, 2, 4, 2); /* kernel rows and columns wholly in the padding */
  check_net("conv17x3,relu,pool2,conv19x3,relu,fc23", 8, 8, 2, 23, 5); /* wider than the narrow kernels */
  /* 3 x 3, stride 1, both algorithms (Winograd's tiles: nn/winograd.c),
   * padding 0 to 2, odd sizes (half tiles at the edges), one channel and
   * several, batch 1 and several of Winograd's chunks */
  check_conv_algos(1, 5, 7, 3, 1, 2);
  check_conv_algos(2, 4, 3, 5, 0, 1);
  check_conv_algos(3, 6, 5, 2, 2, 3);
  check_conv_algos(5, 1, 1, 4, 1, 4);
  check_conv_algos(32, 16, 16, 32, 1, 20); /* 8 images a chunk: 3 chunks */
  check_conv_algos(1, 28, 28, 8, 1, 20);   /* the thin algorithm's chunks: 9, 9 and 2 images */
  check_conv_algos(3, 32, 32, 4, 1, 5);    /* 27 terms: 2, 2 and 1 images */
  check_conv_algos(16, 7, 9, 24, 2, 5);
  /* an even output width without padding (forward, then the input
   * gradient's convolution of padding 2 - 2): a tile row's last odd
   * column is inside the image */
  check_conv_algos(3, 6, 8, 4, 0, 3);
  check_conv_algos(4, 5, 6, 3, 2, 2);
  check_wide_weight_grad();
  check_empty_batch();
  check_net("conv16x3,relu,conv16x3p0,relu,fc3", 11, 9, 1, 3, 6);                    /* the second one by Winograd's */
  check_net("fc7,relu,fc3", 3, 4, 2, 3, 2);                                          /* no convolution at all */
  check_net("conv4x3,relu,dropout0.5,pool2,fc6,relu,dropout0.3,fc3", 6, 5, 2, 3, 4); /* dropout, twice */
  check_net("dropout0.2,conv3x3s2,relu,fc4", 7, 7, 1, 4, 1);                         /* on the input, batch 1 */
  check_net("dropout0.3,conv3x3,relu,fc4", 5, 5, 3, 4, 2); /* on an RGB input, relaid planar */
  /* planar between convolutions, rows at fully connected layers, relaid both ways */
  check_net("fc6,relu,conv5x1,relu,pool1,fc4", 3, 3, 2, 4, 3);
  /* batch normalization: training (the batch's statistics) and evaluation
   * (the running ones), after a convolution, a pooling, a fully connected
   * layer, with a ReLU after it or before it, batch 1 */
  check_net("conv4x3,bn,relu,pool2,fc5", 6, 6, 1, 5, 3);
  check_net("conv3x3s2p1,relu,bn,conv4x2,bn,avgpool2,fc6,bn,relu,fc4", 9, 7, 3, 4, 4);
  check_net("conv5x3,pool2,bn,fc3", 7, 6, 2, 3, 1);
  /* cut into parts that agree their sums: the whole batch's pass */
  check_split("conv4x3,bn,relu,pool2,fc6,bn,relu,fc5", 6, 6, 1, 5, 7, 3);
  check_split("conv3x3s2,bn,relu,dropout0.3,conv5x3,relu,bn,fc4", 9, 8, 3, 4, 5, 1);
  check_split("conv4x3,bn,relu,fc5", 5, 5, 1, 5, 4, 0);                /* a part without samples */
  check_split("conv16x3,bn,relu,conv16x3,relu,fc5", 5, 5, 1, 5, 4, 0); /* ... through Winograd's layer */
  check_split("fc6,bn,conv5x1,bn,relu,fc4", 2, 2, 3, 4, 5, 2);
  check_refused("bn,conv8x3,fc10", 28, 28, "element 1 'bn' follows no layer");
  check_refused("conv8x3,bn2,fc10", 28, 28, "element 2 'bn2' is not a layer");
  check_refused("conv32x3,bogus,fc10", 28, 28, "element 2 'bogus' is not a layer");
  check_refused("relu,fc10", 28, 28, "element 1 'relu' follows no layer");
  check_refused("conv8x9p0,fc10", 5, 5, "element 1 'conv8x9p0' has a kernel larger than its 5x5 input");
  check_refused("pool4,fc10", 3, 3, "element 1 'pool4' has a window larger than its 3x3 input");
  check_refused("conv8x3,relu,fc12", 28, 28, "the last layer fc12 gives 12 scores; the data has 10 classes");
  check_refused("conv8x3,relu", 28, 28, "must end with fc10");
  check_refused("fc10,relu", 28, 28, "must end with fc10");
  check_refused("conv8x3s4,fc10", 28, 28, "needs a stride of 1 to its kernel size 3");
  check_refused("conv0x3,fc10", 28, 28, "needs 1 to 4096 filters");
  check_refused("conv8x3,relu,relu,fc10", 28, 28, "element 3 'relu' repeats a ReLU");
  check_refused("fc5,fc5,fc5,fc5,fc5,fc5,fc5,fc5,fc5,fc5,fc5,fc5,fc10", 2, 2,
                "element 13 'fc10' is one layer too many");
  check_refused("conv8x3,dropout1,fc10", 28, 28, "element 2 'dropout1' needs a probability above 0 and below 1");
  check_refused("conv8x3,dropout0,fc10", 28, 28, "element 2 'dropout0' needs a probability above 0 and below 1");
  check_refused("conv8x3,dropout,fc10", 28, 28, "element 2 'dropout' is not dropout<P>");
  check_refused("conv8x3,dropout0.5x,fc10", 28, 28, "element 2 'dropout0.5x' is not dropout<P>");
  check_refused("conv8x3,dropout-0.5,fc10", 28, 28, "element 2 'dropout-0.5' is not dropout<P>");
  printf("test_net: %d failures\n", failures);
  sml_finalize();
  return failures ? 1 : 0;
}
