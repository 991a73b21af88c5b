/* shardml info: the dataset, its splits and classes, the shards, the mean
 * pixel, the CPU, shardml's kernel level and the BLAS kernels in use, and
 * what a support ticket asks first: the MPI, HDF5 and BLAS libraries and
 * their versions, the hosts, and each rank's CPU binding and threads. As
 * text, or as one JSON object (--json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "base/cpu.h"
#include "io/io.h"
#include "kernels/blas_core.h"
#include "kernels/kernels.h"
#include "shardml/prep.h"
#include "shardml/version.h"

/* Where one rank runs, gathered to rank 0 as fixed-size bytes. */
typedef struct {
  char host[64];
  char cpus[184]; /* "0-3,8" */
  int ncpus, threads;
} rank_place;

static rank_place my_place(void) {
  rank_place p;
  memset(&p, 0, sizeof p);
  if (gethostname(p.host, sizeof p.host - 1) != 0) snprintf(p.host, sizeof p.host, "unknown");
  p.ncpus = sml_cpu_binding(p.cpus, sizeof p.cpus);
  p.threads = sml_threads();
  return p;
}

/* Every rank's place (rank 0 only), with the hosts in order of first
 * appearance: host h is places[host_first[h]].host, holding host_ranks[h]. */
typedef struct {
  rank_place *places;
  int nranks, nhosts;
  int *host_first, *host_ranks;
} placement;

static void count_hosts(placement *p) {
  p->host_first = SML_ALLOC(sizeof(int) * (size_t)p->nranks);
  p->host_ranks = SML_ALLOC(sizeof(int) * (size_t)p->nranks);
  p->nhosts = 0;
  for (int r = 0; r < p->nranks; r++) {
    int h = 0;
    while (h < p->nhosts && strcmp(p->places[p->host_first[h]].host, p->places[r].host) != 0) h++;
    if (h == p->nhosts) {
      p->host_first[p->nhosts] = r;
      p->host_ranks[p->nhosts++] = 0;
    }
    p->host_ranks[h]++;
  }
}

static const char *const split_names[3] = {"train", "validation", "test"};

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void json_key(const char *key, const char *value, int comma) {
  printf("  ");
  json_string(key);
  printf(": ");
  json_string(value);
  printf("%s\n", comma ? "," : "");
}

static void class_counts(const sml_comm *c, const sml_shard *sh, int64_t *counts) {
  for (int64_t i = 0; i < sh->count; i++) counts[sh->labels[i]]++;
  sml_allreduce_sum_i64(c, counts, SML_MAX_CLASSES);
}

static void print_text(const sml_comm *world, const sml_dataset *ds, const int64_t counts[3][SML_MAX_CLASSES]) {
  printf("dataset      %s\n", ds->path);
  printf("source       %s\n", ds->source);
  printf("format       %s, images %dx%dx%d (HxWxC), uint8\n", sml_format_name(ds->format), ds->height, ds->width,
         ds->channels);
  printf("train        %lld images\n", (long long)ds->train.total);
  printf("validation   %lld images\n", (long long)ds->val.total);
  printf("test         %lld images\n", (long long)ds->test.total);
  printf("classes      %d\n", ds->num_classes);
  printf("  %-3s %-16s %8s %8s %8s\n", "id", "name", "train", "val", "test");
  for (int k = 0; k < ds->num_classes; k++)
    printf("  %-3d %-16s %8lld %8lld %8lld\n", k, ds->class_names[k], (long long)counts[0][k], (long long)counts[1][k],
           (long long)counts[2][k]);
  printf("ranks        %d (OpenMP threads per rank: %d)\n", world->size, sml_threads());
  printf("shard sizes\n");
}

/* The library and CPU lines and the placement, rank 0 only. */
static void print_runtime_text(const placement *p) {
  const rank_place *places = p->places;
  const char *best = sml_cpu_best_core(), *cap = getenv(SML_ISA_ENV);
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
  printf("shardml      %s\n", SHARDML_VERSION);
  printf("mpi          %s (MPI %s)\n", sml_mpi_library(), sml_mpi_standard());
  const char *settings = sml_mpi_tuning(); /* asks the library (MPI_T) each time */
  if (*settings) printf("mpi settings %s\n", settings);
  printf("hdf5         %s (%s)\n", sml_h5_version(), sml_h5_is_parallel() ? "parallel" : "serial");
  printf("hosts        %d:", p->nhosts);
  for (int h = 0; h < p->nhosts; h++)
    printf("%s %s (%d rank%s)", h ? "," : "", places[p->host_first[h]].host, p->host_ranks[h],
           p->host_ranks[h] == 1 ? "" : "s");
  printf("\n");
  for (int r = 0; r < p->nranks; r++)
    printf("rank %-7d %s, cpus %s (%d), %d OpenMP thread%s\n", r, places[r].host, places[r].cpus, places[r].ncpus,
           places[r].threads, places[r].threads == 1 ? "" : "s");
}

static void print_json(const sml_comm *world, const sml_dataset *ds, const int64_t counts[3][SML_MAX_CLASSES],
                       const int64_t *shards, double mean_pixel, const placement *p) {
  const rank_place *places = p->places;
  const int64_t totals[3] = {ds->train.total, ds->val.total, ds->test.total};
  printf("{\n");
  json_key("shardml", SHARDML_VERSION, 1);
  json_key("dataset", ds->path, 1);
  json_key("source", ds->source, 1);
  json_key("format", sml_format_name(ds->format), 1);
  printf("  \"image_shape\": [%d, %d, %d],\n", ds->height, ds->width, ds->channels);
  for (int s = 0; s < 3; s++) {
    printf("  \"%s\": {\"images\": %lld, \"shards\": [", split_names[s], (long long)totals[s]);
    for (int r = 0; r < world->size; r++)
      printf("%s%lld", r ? ", " : "", (long long)shards[(int64_t)s * world->size + r]);
    printf("], \"per_class\": [");
    for (int k = 0; k < ds->num_classes; k++) printf("%s%lld", k ? ", " : "", (long long)counts[s][k]);
    printf("]},\n");
  }
  printf("  \"classes\": [");
  for (int k = 0; k < ds->num_classes; k++) {
    printf("%s", k ? ", " : "");
    json_string(ds->class_names[k]);
  }
  printf("],\n  \"mean_pixel\": %.9g,\n", mean_pixel);
  json_key("cpu", sml_cpu_model(), 1);
  json_key("kernels", sml_kernels_active()->name, 1);
  json_key("blas", sml_blas_vendor(), 1);
  json_key("blas_core", sml_blas_core_name() ? sml_blas_core_name() : "", 1);
  json_key("blas_library", sml_blas_library(), 1);
  json_key("mpi", sml_mpi_library(), 1);
  json_key("mpi_standard", sml_mpi_standard(), 1);
  json_key("mpi_settings", sml_mpi_tuning(), 1);
  json_key("hdf5", sml_h5_version(), 1);
  printf("  \"hdf5_parallel\": %s,\n", sml_h5_is_parallel() ? "true" : "false");
  printf("  \"hosts\": [");
  for (int h = 0; h < p->nhosts; h++) {
    printf("%s{\"host\": ", h ? ", " : "");
    json_string(places[p->host_first[h]].host);
    printf(", \"ranks\": %d}", p->host_ranks[h]);
  }
  printf("],\n  \"ranks\": [\n");
  for (int r = 0; r < world->size; r++) {
    printf("    {\"rank\": %d, \"host\": ", r);
    json_string(places[r].host);
    printf(", \"cpus\": ");
    json_string(places[r].cpus);
    printf(", \"ncpus\": %d, \"threads\": %d}%s\n", places[r].ncpus, places[r].threads, r + 1 < world->size ? "," : "");
  }
  printf("  ]\n}\n");
}

int cmd_info(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  int json = 0;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of text (for scripts and support tickets)"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "info",
                    "Describe a dataset and how it is sharded over the ranks, and what the job runs on: MPI,\n"
                    "HDF5 and BLAS libraries with their versions, hosts, and each rank's CPU binding and threads\n"
                    "(paste it into a support ticket).",
                    "  mpirun -n 2 shardml info\n"
                    "  shardml info --data cifar-10-batches-bin --val 5000\n"
                    "  mpirun -n 4 shardml info --json > info.json\n",
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

  int64_t counts[3][SML_MAX_CLASSES] = {{0}}; /* train, validation, test */
  const sml_shard *splits[3] = {&ds.train, &ds.val, &ds.test};
  int64_t *shards = world->rank == 0 ? SML_ALLOC(sizeof(int64_t) * 3 * (size_t)world->size) : NULL;
  for (int s = 0; s < 3; s++) {
    class_counts(world, splits[s], counts[s]);
    sml_gather_i64(world, splits[s]->count, shards ? shards + (int64_t)s * world->size : NULL, 0);
  }
  rank_place mine = my_place();
  placement where = {.places = world->rank == 0 ? SML_ALLOC(sizeof(rank_place) * (size_t)world->size) : NULL,
                     .nranks = world->size};
  sml_gather_bytes(world, &mine, (int64_t)sizeof mine, where.places, 0);
  if (world->rank == 0) count_hosts(&where);

  if (world->rank == 0 && json) {
    print_json(world, &ds, (const int64_t(*)[SML_MAX_CLASSES])counts, shards, sml_prep_mean_pixel(&prep), &where);
  } else if (world->rank == 0) {
    print_text(world, &ds, (const int64_t(*)[SML_MAX_CLASSES])counts);
    for (int s = 0; s < 3; s++) {
      printf("  %-12s", split_names[s]);
      for (int r = 0; r < world->size; r++) printf(" %lld", (long long)shards[(int64_t)s * world->size + r]);
      printf("\n");
    }
    printf("mean pixel   %.6f (mean training image, pixels scaled to [0,1])\n", sml_prep_mean_pixel(&prep));
    printf("load time    %.3f s (read and shard), preprocessing %.3f s\n", t1 - t0, t2 - t1);
    print_runtime_text(&where);
  }
  if (world->rank == 0) fflush(stdout);
  free(where.places);
  free(where.host_first);
  free(where.host_ranks);
  free(shards);
  sml_prep_free(&prep);
  sml_dataset_free(&ds);
  return SML_OK;
}
