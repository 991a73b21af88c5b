#include "train/weights_png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "plot/plot.h"

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
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < w0->shape[1]; i++) {
      lo = fminf(lo, row[i]);
      hi = fmaxf(hi, row[i]);
    }
    const float span = hi > lo ? hi - lo : 1.0f;
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
