// A C++ program against the installed shardml: the public headers compile
// as C++ (C linkage, no MPI C++ bindings needed) and the library links.
#include <shardml/shardml.h>

#include <cstdio>

int main(int argc, char **argv) {
  sml_init(&argc, &argv);
  sml_comm world = sml_comm_world();
  int64_t ranks = 1;
  sml_allreduce_sum_i64(&world, &ranks, 1);
  sml_model model;
  sml_err err;
  const int status = sml_model_init(&model, "softmax", 4, 3, nullptr, 0, &err);
  const bool ok = ranks == world.size && status == SML_OK && model.nweights == 15;
  if (world.rank == 0) std::printf("c++ consumer: shardml %s, %d ranks, %s\n", SHARDML_VERSION, world.size, ok ? "ok" : "FAILED");
  sml_finalize();
  return ok ? 0 : 1;
}
