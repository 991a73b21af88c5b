/* Golden test: a forward pass and one SGD step of a 6-5-4-3 MLP on fixed
 * inputs and weights match numpy's float64 values (golden/mlp_step.txt,
 * written by golden/make_golden.py) to 1e-5 relative. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/dist.h"
#include "shardml/model.h"
#include "shardml/train.h"

#include "expect.h"

#define MAXV 4096
typedef struct { char name[32]; int n; double v[MAXV]; } array;
static array arrays[64];
static int narrays;

static const array *get(const char *name) {
  for (int i = 0; i < narrays; i++) if (strcmp(arrays[i].name, name) == 0) return &arrays[i];
  fprintf(stderr, "golden file lacks %s\n", name);
  exit(1);
}

static double worst;
static void compare(const char *what, const float *got, const double *want, int n) {
  for (int i = 0; i < n; i++) {
    double rel = fabs(got[i] - want[i]) / fmax(fabs(want[i]), 1e-3);
    if (rel > worst) worst = rel;
    if (rel > 1e-5) {
      failures++;
      fprintf(stderr, "FAIL %s[%d]: %.9g vs golden %.9g (relative %.2e)\n", what, i, got[i], want[i], rel);
    }
  }
}

int main(int argc, char **argv) {
  sml_dist_init(&argc, &argv);
  tests_select_kernels("test_golden");
  if (argc != 2) { fprintf(stderr, "usage: test_golden golden/mlp_step.txt\n"); return 2; }
  FILE *f = fopen(argv[1], "r");
  if (!f) { perror(argv[1]); return 2; }
  char line[200000];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    array *a = &arrays[narrays++];
    char *p = line;
    int used;
    sscanf(p, "%31s %d%n", a->name, &a->n, &used);
    p += used;
    for (int i = 0; i < a->n; i++) { a->v[i] = strtod(p, &p); }
  }
  fclose(f);
  const array *dims = get("dims"), *hyper = get("hyper");
  const int B = (int)dims->v[0], D = (int)dims->v[1], C = (int)dims->v[4];
  int64_t hidden[2] = {(int64_t)dims->v[2], (int64_t)dims->v[3]};
  sml_model m;
  sml_err err;
  if (sml_model_init(&m, "mlp", D, C, hidden, 2, &err) != SML_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
  float *params = calloc((size_t)m.nweights, sizeof *params), *vel = calloc((size_t)m.nweights, sizeof *vel);
  float *grad = calloc((size_t)m.nweights, sizeof *grad);
  for (int p = 0; p < m.nparams; p++) {
    char vname[40];
    const array *a = get(m.param[p].name);
    snprintf(vname, sizeof vname, "v_%s", m.param[p].name);
    const array *v = get(vname);
    for (int i = 0; i < a->n; i++) {
      params[m.param[p].offset + i] = (float)a->v[i];
      vel[m.param[p].offset + i] = (float)v->v[i];
    }
  }
  float *x = malloc((size_t)(B * D) * sizeof *x);
  uint8_t *y = malloc((size_t)B);
  for (int i = 0; i < B * D; i++) x[i] = (float)get("x")->v[i];
  for (int i = 0; i < B; i++) y[i] = (uint8_t)get("y")->v[i];

  sml_workspace ws;
  sml_workspace_init(&ws, &m, B);
  compare("scores", sml_model_forward(&m, params, x, B, &ws), get("scores")->v, B * C);
  double data_loss = sml_model_loss_grad(&m, params, grad, x, y, B, &ws);
  double loss = data_loss / B + sml_sgd_step(&m, params, vel, grad, B, hyper->v[0], hyper->v[1], hyper->v[2]);
  float lossf = (float)loss;
  compare("loss", &lossf, get("loss")->v, 1);
  for (int p = 0; p < m.nparams; p++) {
    char name[40];
    snprintf(name, sizeof name, "new_%s", m.param[p].name);
    compare(name, params + m.param[p].offset, get(name)->v, (int)m.param[p].size);
  }
  printf("test_golden: %d mismatches, worst relative error %.2e (bound 1e-5)\n", failures, worst);
  sml_workspace_free(&ws);
  free(params); free(vel); free(grad); free(x); free(y);
  sml_dist_finalize();
  return failures ? 1 : 0;
}
