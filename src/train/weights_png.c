#include "train/weights_png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "plot/plot.h"

/* The smallest of v[0..n) and the span to the largest (1 when all equal):
 * each tile is drawn over its own range. */
static void value_range(const float *v, int64_t n, float *lo, float *span) {
  float hi = -INFINITY;
  *lo = INFINITY;
  for (int64_t i = 0; i < n; i++) {
    *lo = fminf(*lo, v[i]);
    hi = fmaxf(hi, v[i]);
  }
  *span = hi > *lo ? hi - *lo : 1.0f;
}

/* Each class's weight row drawn as an image (min to max of the row mapped
 * to black to white), its class name below it. */
int sml_weights_png(const char *path, const sml_model *m, const float *params, const sml_dataset *ds, sml_err *err) {
  static const uint8_t ink[3] = {0, 0, 0};
  const sml_param_entry *w0 = &m->param[0];
  const int H = ds->height, W = ds->width, C = ds->channels, classes = (int)w0->shape[0];
  const int scale = H <= 32 ? 4 : 1, gap = 4;
  const int tile_w = W * scale, tile_h = H * scale, label_h = SML_TEXT_H + 4;
  sml_canvas cv;
  sml_canvas_init(&cv, classes * tile_w + (classes + 1) * gap, tile_h + label_h + 2 * gap);
  for (int k = 0; k < classes; k++) {
    const float *row = params + w0->offset + (int64_t)k * w0->shape[1];
    float lo, span;
    value_range(row, w0->shape[1], &lo, &span);
    const int x0 = gap + k * (tile_w + gap);
    for (int y = 0; y < tile_h; y++)
      for (int x = 0; x < tile_w; x++) {
        uint8_t rgb[3];
        for (int ch = 0; ch < 3; ch++)
          rgb[ch] = (uint8_t)lrintf(255.0f * (row[((y / scale) * W + x / scale) * C + (C == 3 ? ch : 0)] - lo) / span);
        sml_canvas_fill(&cv, x0 + x, gap + y, 1, 1, rgb);
      }
    char unnamed[32];
    sml_canvas_text_centered(&cv, x0 + tile_w / 2, gap + tile_h + 3, sml_class_name(ds, k, unnamed, sizeof unnamed),
                             tile_w, ink);
  }
  int st = sml_canvas_write_png(&cv, path, err);
  sml_canvas_free(&cv);
  return st;
}

int sml_filters_png(const char *path, const sml_model *m, const float *params, sml_err *err) {
  static const uint8_t ink[3] = {0, 0, 0};
  const sml_op *op = &m->op[0];
  const sml_param_entry *w = &m->param[op->param]; /* [F, C*k*k], (c, i, j) order */
  const int F = op->oc, C = op->c, k = op->k, per_row = F < 16 ? F : 16, rows = (F + per_row - 1) / per_row;
  const int scale = k >= 24 ? 2 : 48 / k, gap = 4, tile = k * scale, top = SML_TEXT_H + 8;
  sml_canvas cv;
  sml_canvas_init(&cv, per_row * (tile + gap) + gap, top + rows * (tile + gap) + gap);
  char title[96];
  snprintf(title, sizeof title, "first-layer filters: %d, each %dx%dx%d", F, k, k, C);
  sml_canvas_text(&cv, gap, 4, title, 0, ink);
  for (int f = 0; f < F; f++) {
    const float *filter = params + w->offset + (int64_t)f * w->shape[1];
    float lo, span;
    value_range(filter, w->shape[1], &lo, &span);
    const int x0 = gap + (f % per_row) * (tile + gap), y0 = top + (f / per_row) * (tile + gap);
    for (int y = 0; y < tile; y++)
      for (int x = 0; x < tile; x++) {
        uint8_t rgb[3];
        for (int ch = 0; ch < 3; ch++) {
          const int c = C == 3 ? ch : 0;
          float v = filter[((int64_t)c * k + y / scale) * k + x / scale];
          if (C != 3 && C > 1) { /* neither grey nor RGB: the channels' mean */
            v = 0;
            for (int cc = 0; cc < C; cc++) v += filter[((int64_t)cc * k + y / scale) * k + x / scale] / (float)C;
          }
          rgb[ch] = (uint8_t)lrintf(fminf(fmaxf(255.0f * (v - lo) / span, 0.0f), 255.0f));
        }
        sml_canvas_fill(&cv, x0 + x, y0 + y, 1, 1, rgb);
      }
  }
  int st = sml_canvas_write_png(&cv, path, err);
  sml_canvas_free(&cv);
  return st;
}
