/* Models against a slow, obvious reference: naive double-precision loops for
 * the forward pass, the losses and backpropagation; the reference gradient
 * itself against centred differences (in double, so the bound is tight).
 * Covers softmax, SVM and a two-hidden-layer MLP. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/comm.h"
#include "nn/layers.h"
#include "shardml/model.h"
#include "base/rng.h"

#include "shardml/prep.h"
#include "shardml/train.h"

#include "expect.h"

/* Reference: mean data loss + reg * sum W^2, gradient into g (double). */
static double ref_loss(const sml_model *m, const double *p, double *g, const double *x, const uint8_t *y, int B,
                       double reg) {
  int L = m->nlayers;
  double *acts[SML_MAX_LAYERS + 1];
  acts[0] = (double *)x;
  for (int l = 0; l < L; l++) {
    int din = (int)m->width[l], dout = (int)m->width[l + 1];
    const double *W = p + m->param[2 * l].offset, *b = p + m->param[2 * l + 1].offset;
    acts[l + 1] = calloc((size_t)(B * dout), sizeof(double));
    for (int i = 0; i < B; i++)
      for (int o = 0; o < dout; o++) {
        double s = b[o];
        for (int k = 0; k < din; k++) s += W[o * din + k] * acts[l][i * din + k];
        acts[l + 1][i * dout + o] = (l + 1 < L && s < 0) ? 0 : s;
      }
  }
  int C = (int)m->width[L];
  double loss = 0;
  double *d = calloc((size_t)(B * C), sizeof(double));
  for (int i = 0; i < B; i++) {
    const double *s = acts[L] + i * C;
    if (m->loss == SML_LOSS_SOFTMAX) {
      double mx = s[0], z = 0;
      for (int j = 1; j < C; j++) mx = fmax(mx, s[j]);
      for (int j = 0; j < C; j++) z += exp(s[j] - mx);
      loss += log(z) - (s[y[i]] - mx);
      for (int j = 0; j < C; j++) d[i * C + j] = exp(s[j] - mx) / z - (j == y[i]);
    } else {
      for (int j = 0; j < C; j++) {
        if (j == y[i]) continue;
        double marg = s[j] - s[y[i]] + 1.0;
        if (marg > 0) {
          loss += marg;
          d[i * C + j] += 1;
          d[i * C + y[i]] -= 1;
        }
      }
    }
  }
  loss /= B;
  for (int i = 0; i < B * C; i++) d[i] /= B;
  if (g) memset(g, 0, (size_t)m->nweights * sizeof(double));
  for (int l = L - 1; l >= 0 && g; l--) {
    int din = (int)m->width[l], dout = (int)m->width[l + 1];
    const double *W = p + m->param[2 * l].offset;
    double *gW = g + m->param[2 * l].offset, *gb = g + m->param[2 * l + 1].offset;
    double *dprev = calloc((size_t)(B * din), sizeof(double));
    for (int i = 0; i < B; i++)
      for (int o = 0; o < dout; o++) {
        double dv = d[i * dout + o];
        gb[o] += dv;
        for (int k = 0; k < din; k++) {
          gW[o * din + k] += dv * acts[l][i * din + k];
          dprev[i * din + k] += dv * W[o * din + k];
        }
      }
    if (l > 0)
      for (int i = 0; i < B * din; i++)
        if (acts[l][i] <= 0) dprev[i] = 0;
    free(d);
    d = dprev;
  }
  free(d);
  for (int q = 0; q < m->nparams; q++) {
    const sml_param_entry *e = &m->param[q];
    if (!e->regularized) continue;
    for (int64_t i = 0; i < e->size; i++) {
      loss += reg * p[e->offset + i] * p[e->offset + i];
      if (g) g[e->offset + i] += 2 * reg * p[e->offset + i];
    }
  }
  for (int l = 1; l <= L; l++) free(acts[l]);
  return loss;
}

/* Narrow layers (at most 16 outputs) use shardml's own kernels, wider ones
 * BLAS: check_model covers both. */
static void check_model(const char *kind, const int64_t *hidden, int nhidden, int C) {
  enum { D = 37, B = 9 };
  const double reg = 0.01;
  sml_model m;
  sml_err err;
  EXPECT(sml_model_init(&m, kind, D, C, hidden, nhidden, &err) == SML_OK, "%s", err.msg);
  float *pf = malloc((size_t)m.nweights * sizeof(float)), *gf = calloc((size_t)m.nweights, sizeof(float));
  double *pd = malloc((size_t)m.nweights * sizeof(double)), *gd = malloc((size_t)m.nweights * sizeof(double));
  sml_model_init_params(&m, pf, 3, 0.3);
  sml_rng r = sml_rng_stream(99, 0, 0);
  for (int64_t i = 0; i < m.nweights; i++) {
    if (pf[i] == 0) pf[i] = (float)(0.1 * sml_rng_normal(&r)); /* non-zero biases */
    pd[i] = pf[i];
  }
  float *xf = malloc(sizeof(float) * B * D);
  double *xd = malloc(sizeof(double) * B * D);
  uint8_t y[B];
  for (int i = 0; i < B * D; i++) xd[i] = xf[i] = (float)sml_rng_normal(&r);
  for (int i = 0; i < B; i++) y[i] = (uint8_t)(sml_rng_next(&r) % C);

  sml_workspace ws;
  sml_workspace_init(&ws, &m, B);
  double lf = sml_model_loss_grad(&m, pf, gf, xf, y, B, NULL, &ws) / B;
  for (int64_t i = 0; i < m.nweights; i++) gf[i] /= B;
  lf += sml_model_regularize(&m, pf, gf, reg);
  double ld = ref_loss(&m, pd, gd, xd, y, B, reg);
  EXPECT(fabs(lf - ld) <= 1e-5 * fabs(ld), "%s: loss %.8g vs reference %.8g", kind, lf, ld);
  double gscale = 0;
  for (int64_t i = 0; i < m.nweights; i++) gscale = fmax(gscale, fabs(gd[i]));
  double worst = 0;
  for (int64_t i = 0; i < m.nweights; i++) worst = fmax(worst, fabs(gf[i] - gd[i]));
  EXPECT(worst <= 1e-5 * gscale, "%s: gradient differs from reference by %g (scale %g)", kind, worst, gscale);

  /* The reference gradient against centred differences, in double. */
  double worst_num = 0;
  const double h = 1e-6;
  for (int64_t i = 0; i < m.nweights; i++) {
    double keep = pd[i];
    pd[i] = keep + h;
    double up = ref_loss(&m, pd, NULL, xd, y, B, reg);
    pd[i] = keep - h;
    double down = ref_loss(&m, pd, NULL, xd, y, B, reg);
    pd[i] = keep;
    worst_num = fmax(worst_num, fabs((up - down) / (2 * h) - gd[i]));
  }
  EXPECT(worst_num <= 1e-6 * fmax(gscale, 1), "%s: reference gradient vs numerical: %g", kind, worst_num);
  printf("%-8s loss %.6f (ref %.6f), max |grad - ref| %.2e, max |ref - numeric| %.2e\n", kind, lf, ld, worst,
         worst_num);
  sml_workspace_free(&ws);
  free(pf);
  free(gf);
  free(pd);
  free(gd);
  free(xf);
  free(xd);
}

/* Dropout masks: the kept fraction is 1 - p, and masks of two steps, two
 * samples or two neighbouring units agree only as independent draws would
 * (p^2 + (1 - p)^2), not more. 300k draws: 6 sigma is about 0.005. */
static void check_dropout_masks(void) {
  const double p = 0.3;
  int64_t ids[200];
  for (int i = 0; i < 200; i++) ids[i] = 1000 + 7 * i;
  sml_dropout a = {.p = p, .seed = 5, .step = 12, .ids = ids}, b = a;
  b.step = 13;
  int64_t kept = 0, n = 0, same_step = 0, same_unit = 0, same_sample = 0;
  for (int layer = 1; layer <= 3; layer++)
    for (int i = 0; i < 200; i++)
      for (int j = 0; j < 500; j++, n++) {
        const int k = sml_dropout_keep(&a, ids[i], layer, j);
        kept += k;
        same_step += k == sml_dropout_keep(&b, ids[i], layer, j);
        same_unit += k == sml_dropout_keep(&a, ids[i], layer, j + 1);
        same_sample += k == sml_dropout_keep(&a, ids[i] + 1, layer, j);
      }
  const double independent = p * p + (1 - p) * (1 - p);
  EXPECT(fabs((double)kept / n - (1 - p)) < 0.005, "kept fraction %.4f, expected %.2f", (double)kept / n, 1 - p);
  EXPECT(fabs((double)same_step / n - independent) < 0.005, "masks of consecutive steps agree %.4f",
         (double)same_step / n);
  EXPECT(fabs((double)same_unit / n - independent) < 0.005, "neighbouring units agree %.4f", (double)same_unit / n);
  EXPECT(fabs((double)same_sample / n - independent) < 0.005, "neighbouring samples agree %.4f",
         (double)same_sample / n);
  printf("dropout p=%.1f: kept %.4f; agreement across steps %.4f, units %.4f, samples %.4f (independent: %.4f)\n", p,
         (double)kept / n, (double)same_step / n, (double)same_unit / n, (double)same_sample / n, independent);
}

/* Evaluation scores: each image's bits must not depend on which images
 * are scored with it (a shard: first, n) or on the thread count, with wide
 * layers going through BLAS; and they must be the model's scores. */
static void check_eval_blocks(void) {
  enum { D = 45, C = 21, N = 203 };
  const int64_t hidden[2] = {70, 33};
  sml_model m;
  sml_err err;
  EXPECT(sml_model_init(&m, "mlp", D, C, hidden, 2, &err) == SML_OK, "%s", err.msg);
  float *params = malloc((size_t)m.nweights * sizeof *params), mean[D];
  sml_model_init_params(&m, params, 5, 0.3);
  uint8_t *images = malloc((size_t)N * D);
  sml_rng r = sml_rng_stream(7, 0, 0);
  for (int64_t i = 0; i < (int64_t)N * D; i++) images[i] = (uint8_t)sml_rng_next(&r);
  for (int j = 0; j < D; j++) mean[j] = (float)j / D;
  const sml_prep prep = {.dim = D, .mean = mean};
  float *whole = malloc(sizeof(float) * N * C), *parts = malloc(sizeof(float) * N * C);
  omp_set_num_threads(1);
  sml_images_scores(&m, params, &prep, images, 0, N, whole);
  /* Against the plain forward pass of each image alone (double-checked values, not bits). */
  sml_workspace ws;
  sml_workspace_init(&ws, &m, 1);
  float x[D];
  double worst = 0;
  for (int64_t i = 0; i < N; i++) {
    sml_prep_batch(&prep, images + i * D, NULL, 1, x);
    const float *s = sml_model_forward(&m, params, x, 1, &ws);
    for (int j = 0; j < C; j++) worst = fmax(worst, fabs(s[j] - whole[i * C + j]) / (1 + fabs(s[j])));
  }
  sml_workspace_free(&ws);
  EXPECT(worst < 1e-5, "evaluation blocks: scores differ from the forward pass by %g", worst);
  const int64_t cuts[][4] = {{0, 37, 130, N}, {0, 1, 64, N}, {0, 100, 101, N}};
  for (int threads = 1; threads <= 2; threads++)
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
      omp_set_num_threads(threads);
      memset(parts, 0, sizeof(float) * N * C);
      for (int p = 0; p < 3; p++)
        sml_images_scores(&m, params, &prep, images + cuts[k][p] * D, cuts[k][p], cuts[k][p + 1] - cuts[k][p],
                          parts + cuts[k][p] * C);
      EXPECT(memcmp(whole, parts, sizeof(float) * N * C) == 0,
             "evaluation blocks: cut at %lld, %lld on %d thread(s) changes the scores' bits", (long long)cuts[k][1],
             (long long)cuts[k][2], threads);
    }
  free(params);
  free(images);
  free(whole);
  free(parts);
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  tests_check_ranks(argv[0]);
  tests_select_kernels("test_models");
  check_dropout_masks();
  check_model("softmax", NULL, 0, 4);
  check_model("svm", NULL, 0, 4);
  check_model("softmax", NULL, 0, 23); /* wider than the narrow kernels */
  check_model("svm", NULL, 0, 19);
  int64_t hidden[2] = {7, 5}, wide[2] = {33, 18};
  check_model("mlp", hidden, 2, 4);
  check_model("mlp", wide, 2, 21);
  check_eval_blocks();
  printf("test_models: %d failures\n", failures);
  sml_finalize();
  return failures ? 1 : 0;
}
