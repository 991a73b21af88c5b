/* shardml gradcheck: the analytic gradient of a model (data loss averaged
 * over a batch, plus L2) against centred differences, on small random data.
 * Prints the largest relative error per tensor; exit 1 above --bound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"
#include "options.h"
#include "base/rng.h"

/* Mean data loss + L2, and (if grad) its gradient, in the trainer's way. */
static double full_loss(const sml_model *m, const float *params, float *grad, const float *x, const uint8_t *y,
                        int64_t B, double reg, const sml_dropout *drop, sml_workspace *ws) {
  float *g = grad ? grad : SML_CALLOC((size_t)m->nweights, sizeof *g);
  if (grad) memset(grad, 0, (size_t)m->nweights * sizeof *grad);
  double loss = sml_model_loss_grad(m, params, g, x, y, B, drop, ws) / (double)B;
  if (grad)
    for (int64_t i = 0; i < m->nweights; i++) grad[i] /= (float)B;
  loss += sml_model_regularize(m, params, grad, reg);
  if (!grad) free(g);
  return loss;
}

/* Which side of every kink the last evaluation was on: the ReLUs' on/off
 * pattern, which input won each max-pooling window and, for the SVM, which
 * margins were violated. A centred
 * difference whose two evaluations straddle a kink measures no derivative
 * (CS231n's "kinks"); such entries are skipped and counted, not compared. */
static uint64_t kink_side(const sml_model *m, const sml_workspace *ws, const uint8_t *y, int64_t B) {
  uint64_t h = 1469598103934665603ull;
  for (int l = 1; l < m->nlayers; l++)
    for (int64_t i = 0; i < B * m->width[l]; i++) h = (h ^ (uint64_t)(ws->act[l][i] > 0)) * 1099511628211ull;
  for (int l = 0; l < m->nops; l++)
    if (m->op[l].kind == SML_OP_MAXPOOL)
      for (int64_t i = 0; i < B * m->width[l + 1]; i++) h = (h ^ (uint64_t)ws->argmax[l][i]) * 1099511628211ull;
  if (m->loss == SML_LOSS_SVM) {
    const int64_t C = m->width[m->nlayers];
    const float *s = ws->act[m->nlayers];
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < C; j++)
        h = (h ^ (uint64_t)(s[b * C + j] - s[b * C + y[b]] + m->svm_margin > 0)) * 1099511628211ull;
  }
  return h;
}

int cmd_gradcheck(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_model_args marg = {0};
  int64_t inputs = 20, classes = 5, batch = 8, checks = 20, seed = 7;
  const char *image = NULL; /* a cnn's default: 6x6x2 */
  double reg = 1e-2, step = 1e-2, bound = 1e-2, dropout = 0;
  const cli_option opts[] = {
      CLI_MODEL_OPTIONS(&marg),
      {"inputs", OPT_INT, &inputs, "D", "input dimension of the random problem (default 20)"},
      {"image", OPT_STRING, &image, "HxWxC", "image shape of a cnn's random problem (default 6x6x2)"},
      {"classes", OPT_INT, &classes, "C", "classes (default 5)"},
      {"batch", OPT_INT, &batch, "B", "samples (default 8)"},
      {"reg", OPT_REAL, &reg, "LAMBDA", "L2 strength (default 1e-2)"},
      {"checks", OPT_INT, &checks, "N", "random entries checked per tensor (default 20)"},
      {"step", OPT_REAL, &step, "H", "finite-difference step (default 1e-2)"},
      {"bound", OPT_REAL, &bound, "E", "largest relative error accepted (default 1e-2)"},
      {"seed", OPT_INT, &seed, "S", "seed (default 7)"},
      {"dropout", OPT_REAL, &dropout, "P", "check with dropout on the hidden layers (a fixed mask)"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "gradcheck",
                    "Compare a model's analytic gradient with centred differences on random data.\n"
                    "relative error = |analytic - numeric| / max(|analytic| + |numeric|, floor), floor = 1 % of\n"
                    "the tensor's largest gradient entry (at least 1e-6); float32 model, so errors around 1e-3\n"
                    "are expected and the default bound is 1e-2. Entries whose two evaluations straddle a kink\n"
                    "(ReLU, hinge) are skipped and counted.",
                    "  shardml gradcheck --model mlp --hidden 16x8\n"
                    "  shardml gradcheck --model svm --bound 1e-2\n",
                    argc, argv, opts, err));
  if (inputs < 1 || classes < 2 || classes > 255 || batch < 1 || checks < 1 || !(step > 0))
    return sml_fail(err, SML_EINPUT,
                    "gradcheck: need --inputs >= 1, 2 <= --classes <= 255, --batch >= 1, --checks >= 1, --step > 0");
  if (!(reg >= 0)) return sml_fail(err, SML_EINPUT, "--reg %g: must not be negative", reg);
  if (seed < 0) return sml_fail(err, SML_EINPUT, "--seed %lld: must not be negative", (long long)seed);
  if (!(bound > 0)) return sml_fail(err, SML_EINPUT, "--bound %g: must be positive", bound);
  if (inputs > (1 << 24) || batch > (1 << 24) || checks > (1 << 24))
    return sml_fail(err, SML_EINPUT, "gradcheck: --inputs, --batch and --checks are at most %d", 1 << 24);
  sml_train_config cfg = sml_train_unset();
  SML_TRY(cli_model_config(&marg, &cfg, err));
  sml_train_defaults(&cfg);
  cfg.dropout = dropout;
  sml_model m;
  int h = 6, w = 6, c = 2;
  char tail;
  if (image &&
      (sscanf(image, "%dx%dx%d%c", &h, &w, &c, &tail) != 3 || h < 1 || w < 1 || c < 1 || h > 4096 || w > 4096 || c > 4))
    return sml_fail(err, SML_EINPUT, "--image %s: expected HxWxC, sides 1 to 4096, 1 to 4 channels", image);
  if (image && strcmp(cfg.model, "cnn") != 0)
    return sml_fail(err, SML_EINPUT, "--image %s: only for a cnn (--net); a %s takes --inputs", image, cfg.model);
  if (strcmp(cfg.model, "cnn") == 0) { /* a network's input is an image */
    SML_TRY(sml_train_model_image(&cfg, h, w, c, (int)classes, &m, err));
    inputs = m.width[0];
  } else {
    SML_TRY(sml_train_model(&cfg, inputs, (int)classes, &m, err));
  }
  cfg.batch = batch;
  cfg.epochs = 1;
  SML_TRY(sml_train_memory_check(&m, &cfg, batch, 1, err)); /* --hidden 1e6: refused, not "out of memory" */
  if (dropout < 0 || dropout >= 1 || (dropout > 0 && m.nlayers == 1))
    return sml_fail(err, SML_EINPUT, "--dropout %g: must be in [0, 1), on an mlp", dropout);
  /* Every rank checks the same problem (it is tiny); only rank 0 reports. */
  sml_rng rng = sml_rng_stream((uint64_t)seed, SML_STREAM_GRADCHECK, 0);
  float *params = SML_ALLOC((size_t)m.nweights * sizeof *params);
  sml_model_init_params(&m, params, (uint64_t)seed, m.nlayers == 1 ? 0.1 : 0);
  for (int p = 0; p < m.nparams; p++) /* non-zero biases, so their gradient path is exercised */
    if (!m.param[p].regularized)
      for (int64_t i = 0; i < m.param[p].size; i++) params[m.param[p].offset + i] = (float)(0.1 * sml_rng_normal(&rng));
  float *x = SML_ALLOC((size_t)(batch * inputs) * sizeof *x);
  uint8_t *y = SML_ALLOC((size_t)batch);
  for (int64_t i = 0; i < batch * inputs; i++) x[i] = (float)sml_rng_normal(&rng);
  for (int64_t i = 0; i < batch; i++) y[i] = (uint8_t)(sml_rng_next(&rng) % (uint64_t)classes);
  float *grad = SML_ALLOC((size_t)m.nweights * sizeof *grad);
  sml_workspace ws;
  sml_workspace_init(&ws, &m, batch);
  /* With dropout, one step's mask (fixed: the same ids and step for every
   * evaluation), so the loss stays a differentiable function of the weights. */
  int64_t *ids = SML_ALLOC((size_t)batch * sizeof *ids);
  for (int64_t i = 0; i < batch; i++) ids[i] = i;
  const sml_dropout drop = {.p = dropout, .seed = (uint64_t)seed, .step = 0, .ids = ids};
  const sml_dropout *dp = dropout > 0 || m.nops > 0 ? &drop : NULL; /* a network's dropout layers: on */
  full_loss(&m, params, grad, x, y, batch, reg, dp, &ws);

  double worst = 0, largest = 0;
  int64_t kinks = 0, compared = 0;
  for (int64_t i = 0; i < m.nweights; i++) largest = fmax(largest, fabs(grad[i]));
  for (int p = 0; p < m.nparams; p++) {
    const sml_param_entry *e = &m.param[p];
    double tensor_worst = 0, scale = 0;
    for (int64_t i = 0; i < e->size; i++) scale = fmax(scale, fabs(grad[e->offset + i]));
    /* Float32 sums leave noise of ~1e-7 times the terms' size in every
     * entry, so entries far below the tensor's largest (an exactly
     * cancelling bias gradient, say) are judged against 1 % of it; a
     * tensor whose gradient is zero in exact arithmetic (a bias right
     * before a batch normalization, which removes any per-channel
     * constant) is noise throughout, judged against 0.1 % of the model's
     * largest entry. */
    const double floor = fmax(fmax(1e-2 * scale, 1e-3 * largest), 1e-6);
    for (int64_t k = 0; k < checks; k++) {
      int64_t i = e->offset + (int64_t)(sml_rng_next(&rng) % (uint64_t)e->size);
      const float saved = params[i];
      params[i] = saved + (float)step;
      double up = full_loss(&m, params, NULL, x, y, batch, reg, dp, &ws);
      const uint64_t side_up = kink_side(&m, &ws, y, batch);
      params[i] = saved - (float)step;
      double down = full_loss(&m, params, NULL, x, y, batch, reg, dp, &ws);
      params[i] = saved;
      if (kink_side(&m, &ws, y, batch) != side_up) {
        kinks++;
        continue;
      }
      compared++;
      double numeric = (up - down) / (2 * step), analytic = grad[i];
      double rel = fabs(analytic - numeric) / fmax(fabs(analytic) + fabs(numeric), floor);
      if (rel > tensor_worst) tensor_worst = rel;
    }
    if (world->rank == 0)
      printf("%-4s [%lld x %lld]  max relative error %.3e\n", e->name, (long long)e->shape[0], (long long)e->shape[1],
             tensor_worst);
    if (tensor_worst > worst) worst = tensor_worst;
  }
  if (world->rank == 0)
    printf(
        "gradcheck %s: max relative error %.3e over %lld entries (bound %.1e) %s; "
        "%lld entries skipped, their differences straddling a kink\n",
        m.kind, worst, (long long)compared, bound, worst <= bound ? "PASS" : "FAIL", (long long)kinks);
  sml_workspace_free(&ws);
  free(params);
  free(x);
  free(y);
  free(grad);
  free(ids);
  if (compared < kinks)
    return sml_fail(err, SML_ERUNTIME, "gradcheck %s: %lld of %lld entries straddle a kink; try a smaller --step",
                    m.kind, (long long)kinks, (long long)(kinks + compared));
  if (worst > bound) /* bound > 0: checked with the options */
    return sml_fail(err, SML_ERUNTIME, "gradcheck %s: relative error %.3e exceeds the bound %.1e", m.kind, worst,
                    bound);
  return SML_OK;
}
