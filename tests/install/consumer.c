/* Another project's program built against an installed shardml (tests/cli/
 * install.sh builds it with find_package and with pkg-config): one softmax
 * step through libshardml's BLAS-backed layers and one allreduce, checked. */
#include <math.h>
#include <stdio.h>

#include "shardml/comm.h"
#include "shardml/model.h"

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  sml_comm world = sml_comm_world();
  int failures = 0;

  int64_t ranks = world.rank + 1; /* 1 + 2 + ... + size */
  sml_allreduce_sum_i64(&world, &ranks, 1);
  if (ranks != (int64_t)world.size * (world.size + 1) / 2) failures++;

  sml_model model;
  sml_err err;
  if (sml_model_init(&model, "softmax", 4, 3, NULL, 0, &err) != SML_OK) {
    fprintf(stderr, "consumer: %s\n", err.msg);
    return 1;
  }
  float params[15], grad[15] = {0};
  sml_model_init_params(&model, params, 7, 0.1);
  const float x[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
  const uint8_t labels[2] = {0, 2};
  sml_workspace ws;
  sml_workspace_init(&ws, &model, 2);
  double loss = sml_model_loss_grad(&model, params, grad, x, labels, 2, NULL, &ws);
  /* Softmax: each sample's bias gradient (p - onehot) sums to zero. */
  double bias_sum = grad[12] + grad[13] + grad[14];
  if (!(loss > 0 && loss < 2 * 3.0) || fabs(bias_sum) > 1e-6) failures++;
  sml_workspace_free(&ws);

  if (world.rank == 0)
    printf("consumer: %d ranks, loss %.6f, bias gradient sum %.1e, %s\n", world.size, loss, bias_sum,
           failures ? "FAILED" : "ok");
  sml_finalize();
  return failures != 0;
}
