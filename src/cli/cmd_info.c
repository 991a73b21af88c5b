/* shardml info: the dataset, its splits and classes, the shards, the mean
 * pixel, the CPU, shardml's kernel level and the BLAS kernels in use. */
#include <stdio.h>
#include <stdlib.h>

#include "options.h"
#include "kernels/blas_core.h"
#include "kernels/kernels.h"
#include "shardml/prep.h"

static void print_shard_sizes(const sml_comm *c, const char *name, const sml_shard *sh) {
  int64_t *counts = c->rank == 0 ? SML_ALLOC(sizeof(int64_t) * (size_t)c->size) : NULL;
  sml_gather_i64(c, sh->count, counts, 0);
  if (c->rank == 0) {
    printf("  %-12s", name);
    for (int r = 0; r < c->size; r++) printf(" %lld", (long long)counts[r]);
    printf("\n");
  }
  free(counts);
}

static void class_counts(const sml_comm *c, const sml_shard *sh, int64_t *counts) {
  for (int64_t i = 0; i < sh->count; i++) counts[sh->labels[i]]++;
  sml_allreduce_sum_i64(c, counts, SML_MAX_CLASSES);
}

int cmd_info(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  const cli_option opts[] = {CLI_DATA_OPTIONS(&data), {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "info", "Describe a dataset and how it is sharded over the ranks.",
                    "  mpirun -n 2 shardml info\n"
                    "  shardml info --data cifar-10-batches-bin --val 5000\n",
                    argc, argv, opts, err));
  sml_data_options dopt;
  SML_TRY(cli_data_options(&data, 1, &dopt, err));

  double t0 = sml_now();
  sml_dataset ds;
  SML_TRY(sml_dataset_load(&ds, &dopt, world, err));
  sml_barrier(world);
  double t1 = sml_now();
  sml_prep prep;
  sml_prep_init(&prep, &ds.train, sml_dataset_dim(&ds), world);
  double t2 = sml_now();

  int64_t train_counts[SML_MAX_CLASSES] = {0}, test_counts[SML_MAX_CLASSES] = {0}, val_counts[SML_MAX_CLASSES] = {0};
  class_counts(world, &ds.train, train_counts);
  class_counts(world, &ds.val, val_counts);
  class_counts(world, &ds.test, test_counts);

  if (world->rank == 0) {
    printf("dataset      %s\n", ds.path);
    printf("source       %s\n", ds.source);
    printf("format       %s, images %dx%dx%d (HxWxC), uint8\n", sml_format_name(ds.format), ds.height, ds.width,
           ds.channels);
    printf("train        %lld images\n", (long long)ds.train.total);
    printf("validation   %lld images\n", (long long)ds.val.total);
    printf("test         %lld images\n", (long long)ds.test.total);
    printf("classes      %d\n", ds.num_classes);
    printf("  %-3s %-16s %8s %8s %8s\n", "id", "name", "train", "val", "test");
    for (int k = 0; k < ds.num_classes; k++)
      printf("  %-3d %-16s %8lld %8lld %8lld\n", k, ds.class_names[k], (long long)train_counts[k],
             (long long)val_counts[k], (long long)test_counts[k]);
    printf("ranks        %d (OpenMP threads per rank: %d)\n", world->size, sml_threads());
    printf("shard sizes\n");
  }
  print_shard_sizes(world, "train", &ds.train);
  print_shard_sizes(world, "validation", &ds.val);
  print_shard_sizes(world, "test", &ds.test);
  if (world->rank == 0) {
    const char *best = sml_cpu_best_core(), *cap = getenv(SML_ISA_ENV);
    printf("mean pixel   %.6f (mean training image, pixels scaled to [0,1])\n", sml_prep_mean_pixel(&prep));
    printf("load time    %.3f s (read and shard), preprocessing %.3f s\n", t1 - t0, t2 - t1);
    printf("cpu          %s (kernel levels it runs:", sml_cpu_model());
    for (int l = 0; l < SML_ISA_COUNT; l++)
      if (sml_kernels_for((sml_isa)l)) printf(" %s", sml_isa_name((sml_isa)l));
    printf(")\n");
    printf("kernels      %s (%s%s%s; best for this CPU: %s)\n", sml_kernels_active()->name, SML_ISA_ENV,
           cap && cap[0] ? "=" : " unset", cap && cap[0] ? cap : "", sml_isa_name(sml_isa_best()));
    /* OpenBLAS's kernel set is checked against the CPU (kernels/blas_core.h);
     * another CPU-dispatching BLAS is named with the file it came from. */
    const char *core = sml_blas_core_name();
    if (core)
      printf("blas         OpenBLAS core %s, level %s (best for this CPU: %s, level %s)\n", core,
             sml_blas_level_name(sml_blas_core_level(core)), best ? best : "unknown",
             sml_blas_level_name(sml_blas_core_level(best)));
    else printf("blas         %s (no OpenBLAS kernel check)\n", sml_blas_vendor());
    printf("blas library %s (%s)\n", sml_blas_library(), sml_blas_summary());
    fflush(stdout);
  }
  sml_prep_free(&prep);
  sml_dataset_free(&ds);
  return SML_OK;
}
