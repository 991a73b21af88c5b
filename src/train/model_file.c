#include "shardml/model_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shardml/io.h"

int sml_weights_png(const char *path, const sml_model *m, const float *params,
                    const sml_dataset *ds, sml_err *err) {
  const sml_param_entry *w0 = &m->param[0];
  const int H = ds->height, W = ds->width, C = ds->channels, classes = (int)w0->shape[0];
  const int scale = H <= 32 ? 4 : 1, gap = 2;
  const int tile_w = W * scale, tile_h = H * scale;
  const int out_w = classes * tile_w + (classes + 1) * gap, out_h = tile_h + 2 * gap;
  const int out_c = C == 3 ? 3 : 1;
  uint8_t *img = SML_CALLOC((size_t)out_w * out_h * out_c, 1);
  memset(img, 255, (size_t)out_w * out_h * out_c);
  for (int k = 0; k < classes; k++) {
    const float *row = params + w0->offset + (int64_t)k * w0->shape[1];
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < w0->shape[1]; i++) { lo = fminf(lo, row[i]); hi = fmaxf(hi, row[i]); }
    const float span = hi > lo ? hi - lo : 1.0f;
    for (int y = 0; y < tile_h; y++)
      for (int x = 0; x < tile_w; x++)
        for (int ch = 0; ch < out_c; ch++) {
          float v = row[((y / scale) * W + x / scale) * C + (C == 3 ? ch : 0)];
          int ox = gap + k * (tile_w + gap) + x, oy = gap + y;
          img[((size_t)oy * out_w + ox) * out_c + ch] = (uint8_t)lrintf(255.0f * (v - lo) / span);
        }
  }
  int st = sml_png_write(path, img, out_w, out_h, out_c, err);
  free(img);
  return st;
}
