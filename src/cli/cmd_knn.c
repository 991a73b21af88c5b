/* shardml knn: classify the test set (or validation split) by its k nearest
 * training images; one search answers every k asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "io/io.h"
#include "plot/plot.h"
#include "shardml/knn.h"

#define MAX_KS 64

/* Rank 0 draws the first rows queries and their k nearest training images;
 * the images live on whichever rank holds them, so they are collected with
 * one reduction (every other rank contributes zeros). */
static int neighbors_image(const char *path, const sml_dataset *ds, const sml_shard *queries, const sml_neighbor *nb,
                           int K, int k, int rows, const sml_comm *c, sml_err *err) {
  const int64_t dim = sml_dataset_dim(ds);
  int64_t nrows = rows;
  int64_t have = c->rank == 0 ? (queries->count < rows ? queries->count : rows) : 0;
  sml_bcast_bytes(c, &have, sizeof have, 0);
  nrows = have;
  int64_t *ids = SML_CALLOC((size_t)(nrows * k) + 1, sizeof *ids);
  int *labels = SML_CALLOC((size_t)(nrows * k) + 1, sizeof *labels);
  if (c->rank == 0)
    for (int64_t r = 0; r < nrows; r++)
      for (int j = 0; j < k; j++) {
        ids[r * k + j] = nb[r * K + j].index;
        labels[r * k + j] = nb[r * K + j].label;
      }
  sml_bcast_bytes(c, ids, nrows * k * (int64_t)sizeof *ids, 0);
  uint8_t *imgs = SML_CALLOC((size_t)(nrows * k * dim) + 1, 1);
  for (int64_t i = 0; i < nrows * k; i++) {
    int64_t local = ids[i] - ds->train.first;
    if (ids[i] != INT64_MAX && local >= 0 && local < ds->train.count)
      memcpy(imgs + i * dim, ds->train.images + local * dim, (size_t)dim);
  }
  sml_reduce_max_u8(c, imgs, nrows * k * dim, 0);
  int st = SML_OK;
  if (c->rank == 0) {
    /* Column 0: the query, framed blue; then its neighbours, nearest first,
     * framed red when of another class. Every image has its class name below. */
    static const uint8_t ink[3] = {0, 0, 0}, blue[3] = {31, 119, 180}, red[3] = {214, 39, 40};
    const int H = ds->height, W = ds->width, C = ds->channels, s = 2, gap = 6, border = 2;
    const int tw = W * s, th = H * s, cols = k + 1, label_h = SML_TEXT_H + 3, head_h = SML_TEXT_H + 6;
    int longest = 7; /* "nearest" */
    for (int cl = 0; cl < ds->num_classes; cl++) {
      char unnamed[32];
      const int len = (int)strlen(sml_class_name(ds, cl, unnamed, sizeof unnamed));
      if (len > longest) longest = len;
    }
    /* Every class name whole under its image ("T-shirt/top" was cut to "T-shirt/to"). */
    const int name_w = (longest + 1) * SML_TEXT_W + 2;
    const int cell_w = tw + gap > name_w ? tw + gap : name_w, cell_h = th + label_h + gap;
    const int query_gap = 3 * gap; /* sets the query column apart */
    sml_canvas cv;
    sml_canvas_init(&cv, gap + cols * cell_w + query_gap, head_h + (int)nrows * cell_h + 2 * SML_TEXT_H);
    sml_canvas_text_centered(&cv, gap + tw / 2, 3, "query", cell_w, blue);
    for (int col = 1; col < cols; col++) {
      char head[16];
      snprintf(head, sizeof head, "%d", col);
      sml_canvas_text_centered(&cv, gap + col * cell_w + query_gap + tw / 2, 3, col == 1 ? "nearest" : head, cell_w,
                               ink);
    }
    for (int64_t r = 0; r < nrows; r++)
      for (int col = 0; col < cols; col++) {
        const uint8_t *img = col == 0 ? queries->images + r * dim : imgs + (r * k + col - 1) * dim;
        const int label = col == 0 ? queries->labels[r] : labels[r * k + col - 1];
        const int x0 = gap + col * cell_w + (col > 0 ? query_gap : 0), y0 = head_h + (int)r * cell_h;
        for (int y = 0; y < th; y++)
          for (int x = 0; x < tw; x++) {
            uint8_t rgb[3];
            for (int ch = 0; ch < 3; ch++) rgb[ch] = img[((y / s) * W + x / s) * C + (C == 3 ? ch : 0)];
            sml_canvas_fill(&cv, x0 + x, y0 + y, 1, 1, rgb);
          }
        if (col == 0) sml_canvas_frame(&cv, x0, y0, tw, th, border, blue);
        else if (label != queries->labels[r]) sml_canvas_frame(&cv, x0, y0, tw, th, border, red);
        char unnamed[32];
        const char *name = sml_class_name(ds, label, unnamed, sizeof unnamed);
        sml_canvas_text_centered(&cv, x0 + tw / 2, y0 + th + 3, name, cell_w - 2,
                                 col > 0 && label != queries->labels[r] ? red : ink);
      }
    sml_canvas_text(&cv, gap, cv.height - SML_TEXT_H - 4, "blue: query; red: a neighbour of another class", 0, ink);
    st = sml_canvas_write_png(&cv, path, err);
    sml_canvas_free(&cv);
  }
  free(ids);
  free(labels);
  free(imgs);
  return sml_agree(c, st, err);
}

/* index, true label, then the prediction for each k, in query order. */
static int write_predictions(const char *path, const sml_shard *queries, const sml_neighbor *nb, int K,
                             const int64_t *ks, int nk, int num_classes, const sml_comm *c, sml_err *err) {
  const int64_t n = queries->count, width = nk + 1;
  uint8_t *rows = SML_ALLOC((size_t)(n * width) + 1), *pred = SML_ALLOC((size_t)n + 1);
  for (int i = 0; i < nk; i++) {
    sml_knn_vote(nb, n, K, (int)ks[i], num_classes, pred);
    for (int64_t q = 0; q < n; q++) rows[q * width + 1 + i] = pred[q];
  }
  for (int64_t q = 0; q < n; q++) rows[q * width] = queries->labels[q];
  int64_t *bytes = c->rank == 0 ? SML_ALLOC((size_t)c->size * sizeof *bytes) : NULL;
  sml_gather_i64(c, n * width, bytes, 0);
  uint8_t *all = c->rank == 0 ? SML_ALLOC((size_t)(queries->total * width) + 1) : NULL;
  sml_gatherv_bytes(c, rows, n * width, all, bytes, 0);
  int st = SML_OK;
  if (c->rank == 0) {
    sml_atomic_file a;
    st = sml_atomic_open(&a, path, err);
    if (st == SML_OK) {
      fprintf(a.f, "index,true_label");
      for (int i = 0; i < nk; i++) fprintf(a.f, ",k%lld", (long long)ks[i]);
      fprintf(a.f, "\n");
      for (int64_t q = 0; q < queries->total; q++) {
        fprintf(a.f, "%lld", (long long)q);
        for (int64_t j = 0; j < width; j++) fprintf(a.f, ",%d", all[q * width + j]);
        fprintf(a.f, "\n");
      }
      st = sml_atomic_commit(&a, err);
    }
  }
  free(rows);
  free(pred);
  free(bytes);
  free(all);
  return sml_agree(c, st, err);
}

int cmd_knn(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  const char *klist = "1", *metric_name = "l2", *image = NULL, *pred_out = NULL;
  int64_t rows = 10;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      {"k", OPT_STRING, &klist, "K[,K...]", "neighbours to vote over; several k share one search (default 1)"},
      {"metric", OPT_WORD, &metric_name, "l1|l2", "distance: l1 (Manhattan) or l2 (Euclidean) (default l2)"},
      {"neighbors-image", OPT_STRING, &image, "FILE.png",
       "draw the first queries with their k nearest (largest k); other classes framed red"},
      {"rows", OPT_INT, &rows, "N", "queries drawn by --neighbors-image (default 10)"},
      {"out", OPT_STRING, &pred_out, "FILE.csv", "write index, true label and the prediction for every k"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "knn",
                    "Classify the test split (the validation split with --val) by k nearest neighbours.\n"
                    "Distances are exact integers on raw pixels; equal distances are ordered by training\n"
                    "index. A tied vote goes to the tied class with the smallest summed distance, then to\n"
                    "the smallest label. Results are identical for any number of ranks and threads.",
                    "  mpirun -n 2 shardml knn --k 1,5,10 --metric l1\n"
                    "  mpirun -n 2 shardml knn --subset 10000 --k 5 --neighbors-image nn.png\n",
                    argc, argv, opts, err));
  int64_t ks[MAX_KS];
  int nk;
  SML_TRY(cli_int_list("k", klist, ks, MAX_KS, &nk, err));
  sml_metric metric;
  if (sml_metric_parse(metric_name, &metric) != 0)
    return sml_fail(err, SML_EINPUT, "--metric %s: unknown metric (l1, l2)", metric_name);
  if (rows < 1) return sml_fail(err, SML_EINPUT, "--rows %lld: must be at least 1", (long long)rows);
  SML_TRY(cli_check_outputs(world, (const char *const[]){image, pred_out}, 2, err));

  sml_data_options dopt;
  SML_TRY(cli_data_options(&data, 1, &dopt, err));
  sml_dataset ds;
  SML_TRY(sml_dataset_load(&ds, &dopt, world, err));
  const sml_shard *queries = ds.val.total > 0 ? &ds.val : &ds.test;
  int64_t K = 0;
  for (int i = 0; i < nk; i++) K = ks[i] > K ? ks[i] : K;
  int st = SML_OK;
  if (K > ds.train.total)
    st = sml_fail(err, SML_EINPUT, "--k %lld: larger than the training set (%lld images)", (long long)K,
                  (long long)ds.train.total);
  else if (queries->total == 0)
    st = sml_fail(err, SML_EINPUT, "%s: no test split to classify (use --test-data or --val)", ds.path);
  if (st != SML_OK) {
    sml_dataset_free(&ds);
    return st;
  }

  const int64_t dim = sml_dataset_dim(&ds);
  sml_knn_stats stats = {0};
  sml_knn_ref ref = {.stats = &stats,
                     .images = ds.train.images,
                     .labels = ds.train.labels,
                     .id_base = ds.train.first,
                     .count = ds.train.count};
  sml_neighbor *nb = SML_ALLOC((size_t)(queries->count * K + 1) * sizeof *nb);
  double *acc = SML_ALLOC((size_t)nk * sizeof *acc);
  const double t0 = sml_now();
  sml_knn_accuracy(&ref, queries->images, queries->labels, queries->count, dim, ks, nk, metric, ds.num_classes, world,
                   acc, NULL, 0, nb);
  const double secs = sml_now() - t0;
  if (world->rank == 0) {
    for (int i = 0; i < nk; i++)
      printf("k=%lld metric=%s accuracy %.4f\n", (long long)ks[i], sml_metric_name(metric), acc[i]);
    fflush(stdout);
  }
  sml_log(world, "knn: %lld queries x %lld references, %s, K=%lld: %.2fs on %d ranks x %d threads",
          (long long)queries->total, (long long)ds.train.total, sml_metric_name(metric), (long long)K, secs,
          world->size, sml_threads());
  /* Rank 0's breakdown (ranks do equal work). */
  if (metric == SML_METRIC_L2)
    sml_log(world,
            "knn rank 0: gemm %.2fs (%.1f GFLOP/s), selection %.2fs, exact re-scoring %.2fs of %.1f candidates/query, "
            "communication %.2fs",
            stats.gemm_s, stats.gemm_s > 0 ? stats.gemm_flops / stats.gemm_s * 1e-9 : 0.0, stats.select_s,
            stats.rescore_s, (double)stats.candidates / (double)(queries->total ? queries->total : 1), stats.comm_s);
  else
    sml_log(world,
            "knn rank 0: distances and selection %.2fs (%.0f exact distances per query; the rest pruned by "
            "a lower bound), communication %.2fs",
            stats.select_s, (double)stats.candidates / (double)(queries->total ? queries->total : 1), stats.comm_s);
  if (image) st = neighbors_image(image, &ds, queries, nb, (int)K, (int)K, (int)rows, world, err);
  if (st == SML_OK && pred_out)
    st = write_predictions(pred_out, queries, nb, (int)K, ks, nk, ds.num_classes, world, err);
  free(nb);
  free(acc);
  sml_dataset_free(&ds);
  return st;
}
