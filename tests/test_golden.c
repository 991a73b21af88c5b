/* Golden tests, to 1e-5 relative:
 * - golden/mlp_step.txt (golden/make_golden.py, numpy float64): a forward
 *   pass, two steps of every optimizer, and a training-mode pass with
 *   dropout of a 6-5-4-3 MLP on fixed inputs and weights;
 * - golden/cnn_step.txt (golden/make_golden_cnn.py, PyTorch float64): the
 *   scores, loss and gradient of a small convolutional network (padding,
 *   stride 2, max and average pooling, odd sizes) and two steps of SGD
 *   with momentum and of Adam. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/comm.h"
#include "shardml/model.h"
#include "nn/net.h"
#include "shardml/optimizer.h"
#include "shardml/train.h"

#include "expect.h"

#define MAXV 4096
typedef struct {
  char name[32];
  int n;
  double v[MAXV];
} array;
#define MAXARRAYS 256
static array arrays[MAXARRAYS];
static int narrays;

static const array *get(const char *name) {
  for (int i = 0; i < narrays; i++)
    if (strcmp(arrays[i].name, name) == 0) return &arrays[i];
  fprintf(stderr, "golden file lacks %s\n", name);
  exit(1);
}

static double worst, worst_step;
/* |got - want| / max(|want|, floor) <= bound for each entry. */
static void compare_within(const char *what, const float *got, const double *want, int n, double floor, double bound,
                           double *worst_seen) {
  for (int i = 0; i < n; i++) {
    double rel = fabs(got[i] - want[i]) / fmax(fabs(want[i]), floor);
    if (rel > *worst_seen) *worst_seen = rel;
    if (rel > bound) {
      failures++;
      fprintf(stderr, "FAIL %s[%d]: %.9g vs golden %.9g (relative %.2e, bound %.0e)\n", what, i, got[i], want[i], rel,
              bound);
    }
  }
}
/* With batch normalization, float32 rounding upstream is scaled by 1/std
 * and lands in small entries as 1e-4 of themselves (seen; the formula
 * in double does the same), while staying within 1.1e-6 of the tensor's
 * largest entry: there each entry is judged against that largest one. */
static int judge_by_largest;
static void compare(const char *what, const float *got, const double *want, int n) {
  double floor = 1e-3;
  for (int i = 0; judge_by_largest && i < n; i++) floor = fmax(floor, fabs(want[i]));
  compare_within(what, got, want, n, floor, 1e-5, &worst);
}

/* Loads named parameter tensors ("<prefix>W0", ...) into a flat buffer. */
static void load_tensors(const sml_model *m, const char *prefix, float *buf) {
  for (int p = 0; p < m->nparams; p++) {
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, m->param[p].name);
    const array *a = get(name);
    for (int i = 0; i < a->n; i++) buf[m->param[p].offset + i] = (float)a->v[i];
  }
}

/* floor 0: compare() itself; else parameters after optimizer steps of rate
 * `floor`, judged against the size of a step: Adam divides each gradient by
 * the root of its second moment, so an entry whose gradients nearly cancel
 * amplifies the float32 gradient's rounding (seen: 7e-6 of the rate), while
 * a wrong formula (a missing bias correction, say) changes whole steps. */
static void compare_tensors(const sml_model *m, const char *prefix, const float *buf, double floor) {
  for (int p = 0; p < m->nparams; p++) {
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, m->param[p].name);
    if (floor > 0)
      compare_within(name, buf + m->param[p].offset, get(name)->v, (int)m->param[p].size, floor, 1e-4, &worst_step);
    else compare(name, buf + m->param[p].offset, get(name)->v, (int)m->param[p].size);
  }
}

/* Two steps of one optimizer from the file's parameters and state, the
 * gradient recomputed at the new parameters for the second, as numpy did. */
static void check_optimizer(const sml_model *m, const char *name, const float *x, const uint8_t *y, int B, double reg,
                            const sml_dropout *train, sml_workspace *ws) {
  const sml_optimizer *o = sml_optimizer_find(name);
  char key[64];
  snprintf(key, sizeof key, "%s_hyper", name);
  const array *hy = get(key);
  const sml_opt_hyper h = {
      .momentum = hy->v[1], .beta1 = hy->v[2], .beta2 = hy->v[3], .eps = hy->v[4], .weight_decay = hy->v[5]};
  float *params = calloc((size_t)m->nweights, sizeof *params), *grad = calloc((size_t)m->nweights, sizeof *grad);
  float *state[SML_OPT_MAX_STATE] = {0};
  load_tensors(m, "", params);
  for (int k = 0; k < o->nstate; k++) {
    state[k] = calloc((size_t)m->nweights, sizeof *state[k]);
    snprintf(key, sizeof key, "%s_s%d_", name, k);
    char probe[80];
    snprintf(probe, sizeof probe, "%sW0", key);
    int present = 0;
    for (int i = 0; i < narrays; i++) present |= strcmp(arrays[i].name, probe) == 0;
    if (present) load_tensors(m, key, state[k]); /* else zeros, as torch starts */
  }
  for (int t = 1; t <= 2; t++) {
    memset(grad, 0, (size_t)m->nweights * sizeof *grad);
    sml_model_loss_grad(m, params, grad, x, y, B, train, ws);
    sml_optimizer_step(o, m, params, state, &(sml_grad_sum){.floats = grad}, B, hy->v[0], reg, t, &h);
    if (m->nops > 0) sml_net_update_running(m, params, ws); /* batch normalization, as a training step */
    snprintf(key, sizeof key, "%s_t%d_", name, t);
    compare_tensors(m, key, params, hy->v[0]);
  }
  for (int k = 0; k < o->nstate; k++) free(state[k]);
  free(params);
  free(grad);
}

/* The network of cnn_step.txt: torch's scores, loss, gradient and steps. */
static int check_cnn(const char *net_spec) {
  const array *dims = get("dims");
  const double reg = get("reg")->v[0];
  const int B = (int)dims->v[0], CH = (int)dims->v[1], H = (int)dims->v[2], W = (int)dims->v[3], C = (int)dims->v[4];
  sml_model m;
  sml_err err;
  judge_by_largest = strstr(net_spec, "bn") != NULL;
  if (sml_model_init_net(&m, net_spec, H, W, CH, C, &err) != SML_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  float *params = calloc((size_t)m.nweights, sizeof *params), *grad = calloc((size_t)m.nweights, sizeof *grad);
  load_tensors(&m, "", params);
  const int64_t D = (int64_t)CH * H * W;
  float *x = malloc((size_t)(B * D) * sizeof *x); /* HWC, as images arrive; torch's x is NCHW */
  uint8_t *y = malloc((size_t)B);
  const int64_t hw = (int64_t)H * W;
  for (int64_t b = 0; b < B; b++)
    for (int c = 0; c < CH; c++)
      for (int64_t q = 0; q < hw; q++) x[(b * hw + q) * CH + c] = (float)get("x")->v[(b * CH + c) * hw + q];
  for (int i = 0; i < B; i++) y[i] = (uint8_t)get("y")->v[i];
  sml_workspace ws;
  sml_workspace_init(&ws, &m, B);
  /* Scores as evaluation computes them; the loss and the steps as
   * training does (batch normalization: the batch's statistics; no
   * dropout layer here, so no mask). */
  compare("scores", sml_model_forward(&m, params, x, B, &ws), get("scores")->v, B * C);
  int64_t *ids = malloc((size_t)B * sizeof *ids);
  for (int i = 0; i < B; i++) ids[i] = i;
  const sml_dropout train = {.ids = ids};
  const double data_loss = sml_model_loss_grad(&m, params, grad, x, y, B, &train, &ws);
  for (int64_t i = 0; i < m.nweights; i++) grad[i] /= (float)B;
  const float lossf = (float)(data_loss / B + sml_model_regularize(&m, params, grad, reg));
  compare("loss", &lossf, get("loss")->v, 1);
  compare_tensors(&m, "grad_", grad, 0);
  check_optimizer(&m, "sgd", x, y, B, reg, &train, &ws);
  check_optimizer(&m, "adam", x, y, B, reg, &train, &ws);
  printf(
      "test_golden: %s against PyTorch: %d mismatches, worst relative error %.2e (bound 1e-5); optimizer "
      "steps: worst %.2e of max(|w|, lr) (bound 1e-4)\n",
      net_spec, failures, worst, worst_step);
  sml_workspace_free(&ws);
  free(params);
  free(grad);
  free(x);
  free(y);
  free(ids);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  tests_check_ranks(argv[0]);
  tests_select_kernels("test_golden");
  if (argc != 2) {
    fprintf(stderr, "usage: test_golden golden/mlp_step.txt|golden/cnn_step.txt\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  static char line[200000];
  static char net_spec[SML_NET_LEN]; /* the file's "net <spec>" line: a convolutional network */
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    if (strncmp(line, "net ", 4) == 0) {
      const size_t len = strcspn(line + 4, "\n");
      if (len >= sizeof net_spec) {
        fprintf(stderr, "%s: a net line longer than %d characters\n", argv[1], (int)sizeof net_spec - 1);
        return 2;
      }
      memcpy(net_spec, line + 4, len);
      net_spec[len] = '\0';
      continue;
    }
    if (narrays == MAXARRAYS) {
      fprintf(stderr, "%s: more than %d arrays\n", argv[1], MAXARRAYS);
      return 2;
    }
    array *a = &arrays[narrays++];
    char *p = line;
    int used;
    if (sscanf(p, "%31s %d%n", a->name, &a->n, &used) != 2 || a->n < 0 || a->n > MAXV) {
      fprintf(stderr, "%s: malformed line for %s\n", argv[1], a->name);
      return 2;
    }
    p += used;
    for (int i = 0; i < a->n; i++) {
      a->v[i] = strtod(p, &p);
    }
  }
  fclose(f);
  if (net_spec[0]) {
    const int st = check_cnn(net_spec);
    sml_finalize();
    return st;
  }
  const array *dims = get("dims");
  const double reg = get("reg")->v[0];
  const int B = (int)dims->v[0], D = (int)dims->v[1], C = (int)dims->v[4];
  int64_t hidden[2] = {(int64_t)dims->v[2], (int64_t)dims->v[3]};
  sml_model m;
  sml_err err;
  if (sml_model_init(&m, "mlp", D, C, hidden, 2, &err) != SML_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  float *params = calloc((size_t)m.nweights, sizeof *params), *grad = calloc((size_t)m.nweights, sizeof *grad);
  load_tensors(&m, "", params);
  float *x = malloc((size_t)(B * D) * sizeof *x);
  uint8_t *y = malloc((size_t)B);
  for (int i = 0; i < B * D; i++) x[i] = (float)get("x")->v[i];
  for (int i = 0; i < B; i++) y[i] = (uint8_t)get("y")->v[i];

  sml_workspace ws;
  sml_workspace_init(&ws, &m, B);
  compare("scores", sml_model_forward(&m, params, x, B, &ws), get("scores")->v, B * C);
  float lossf = (float)(sml_model_loss_grad(&m, params, grad, x, y, B, NULL, &ws) / B +
                        sml_model_regularize(&m, params, NULL, reg));
  compare("loss", &lossf, get("loss")->v, 1);

  /* Every registered optimizer must have its numpy steps in the file. */
  for (int i = 0; i < sml_optimizer_count(); i++)
    check_optimizer(&m, sml_optimizer_at(i)->name, x, y, B, reg, NULL, &ws);

  /* Dropout: the masks are shardml's hash of (seed, step, id, layer, unit),
   * which make_golden.py re-implements; training-mode scores, loss and
   * gradient through the masks. */
  const array *dr = get("dropout"), *ids_a = get("dropout_ids");
  int64_t ids[64];
  for (int i = 0; i < B; i++) ids[i] = (int64_t)ids_a->v[i];
  const sml_dropout drop = {.p = dr->v[0], .seed = (uint64_t)dr->v[1], .step = (int64_t)dr->v[2], .ids = ids};
  memset(grad, 0, (size_t)m.nweights * sizeof *grad);
  const double data_loss = sml_model_loss_grad(&m, params, grad, x, y, B, &drop, &ws);
  compare("dropout_scores", ws.act[m.nlayers], get("dropout_scores")->v, B * C);
  for (int64_t i = 0; i < m.nweights; i++) grad[i] /= (float)B;
  lossf = (float)(data_loss / B + sml_model_regularize(&m, params, grad, reg));
  compare("dropout_loss", &lossf, get("dropout_loss")->v, 1);
  compare_tensors(&m, "dropout_grad_", grad, 0);

  printf(
      "test_golden: %d mismatches, worst relative error %.2e (bound 1e-5); optimizer steps: worst %.2e of "
      "max(|w|, lr) (bound 1e-4)\n",
      failures, worst, worst_step);
  sml_workspace_free(&ws);
  free(params);
  free(grad);
  free(x);
  free(y);
  sml_finalize();
  return failures ? 1 : 0;
}
