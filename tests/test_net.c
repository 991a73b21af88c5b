/* Networks (model kind "cnn") against a slow, obvious reference: naive
 * double-precision loops for convolution, pooling, fully connected layers,
 * ReLU and softmax cross-entropy, forward and backward, at shapes with
 * stride 2, padding, odd sizes, several channels and batch 1; the
 * reference gradient itself against centred differences in double. Then
 * the spec's errors: one line naming the element and what is wrong. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "expect.h"
#include "shardml/comm.h"
#include "shardml/model.h"

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

typedef struct {
  double *a[SML_MAX_LAYERS + 1]; /* a[l]: layer l's input (after the previous ReLU); a[nops]: scores */
} ref_acts;

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

/* Forward of one image x (HWC, as prepared) through m with parameters p. */
static void ref_forward(const sml_model *m, const double *p, const double *x, ref_acts *r) {
  const sml_op *first = &m->op[0];
  for (int c = 0; c < first->c; c++) /* HWC -> CHW */
    for (int q = 0; q < first->h * first->w; q++) r->a[0][c * first->h * first->w + q] = x[q * first->c + c];
  for (int l = 0; l < m->nops; l++) {
    const sml_op *op = &m->op[l];
    const double *in = r->a[l];
    double *out = r->a[l + 1];
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
          out[((int64_t)f * op->oh + y) * op->ow + x0] = op->relu && v < 0 ? 0 : v;
        }
  }
}

/* Summed softmax cross-entropy of B images and its gradient g (added). */
static double ref_loss_grad(const sml_model *m, const double *p, double *g, const double *x, const uint8_t *y, int B) {
  ref_acts r, d;
  for (int l = 0; l <= m->nops; l++) {
    r.a[l] = calloc((size_t)m->width[l], sizeof(double));
    d.a[l] = calloc((size_t)m->width[l], sizeof(double));
  }
  double loss = 0;
  const int64_t C = m->width[m->nops];
  for (int b = 0; b < B; b++) {
    ref_sample = b;
    ref_forward(m, p, x + b * m->width[0], &r);
    const double *s = r.a[m->nops];
    double mx = s[0], z = 0;
    for (int64_t j = 1; j < C; j++) mx = fmax(mx, s[j]);
    for (int64_t j = 0; j < C; j++) z += exp(s[j] - mx);
    loss += log(z) - (s[y[b]] - mx);
    if (!g) continue;
    for (int64_t j = 0; j < C; j++) d.a[m->nops][j] = exp(s[j] - mx) / z - (j == y[b]);
    for (int l = m->nops - 1; l >= 0; l--) {
      const sml_op *op = &m->op[l];
      double *dout = d.a[l + 1], *din = d.a[l];
      const double *out = r.a[l + 1], *in = r.a[l];
      for (int64_t i = 0; i < m->width[l + 1]; i++)
        if (op->relu && out[i] <= 0) dout[i] = 0;
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
  }
  for (int l = 0; l <= m->nops; l++) {
    free(r.a[l]);
    free(d.a[l]);
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
  for (int p = 0; p < m.nparams; p++)
    if (!m.param[p].regularized)
      for (int64_t i = 0; i < m.param[p].size; i++) params[m.param[p].offset + i] = (float)(0.1 * sml_rng_normal(&rng));
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
  for (int p = 0; p < m.nparams; p++) {
    const sml_param_entry *e = &m.param[p];
    double scale = 1e-6, worst = 0;
    for (int64_t i = 0; i < e->size; i++) scale = fmax(scale, fabs(gd[e->offset + i]));
    for (int64_t i = 0; i < e->size; i++) worst = fmax(worst, fabs(grad[e->offset + i] - gd[e->offset + i]));
    EXPECT(worst <= 1e-4 * scale, "%s %dx%dx%d B=%d: %s differs from the reference by %.3g of its scale %.3g", net, h,
           w, c, B, e->name, worst / scale, scale);
  }
  /* The reference gradient against centred differences, a few entries per tensor. */
  for (int p = 0; p < m.nparams; p++) {
    const sml_param_entry *e = &m.param[p];
    for (int t = 0; t < 3; t++) {
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
  if (strstr(net, "dropout")) check_net_mode(net, h, w, c, classes, B, &drop);
  ref_drop = NULL;
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
  check_net("conv3x3s2,relu,conv4x2p1,relu,avgpool2,fc6", 9, 7, 3, 6, 2); /* stride 2, padding, odd sizes, RGB */
  check_net("conv5x5p0,relu,fc8,relu,fc4", 7, 7, 2, 4, 1);                /* batch 1 */
  check_net("conv2x3s3p2,pool3,fc3", 11, 10, 1, 3, 4);                    /* rows and columns a window drops */
  check_net("conv17x3,relu,pool2,conv19x3,relu,fc23", 8, 8, 2, 23, 5);    /* wider than the narrow kernels */
  check_net("fc7,relu,fc3", 3, 4, 2, 3, 2);                               /* no convolution at all */
  check_net("conv4x3,relu,dropout0.5,pool2,fc6,relu,dropout0.3,fc3", 6, 5, 2, 3, 4); /* dropout, twice */
  check_net("dropout0.2,conv3x3s2,relu,fc4", 7, 7, 1, 4, 1);                         /* on the input, batch 1 */
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
