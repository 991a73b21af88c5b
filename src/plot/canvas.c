/* An RGB raster for the PNG figures: filled boxes, frames and text in a
 * 6x10 bitmap font, so that images carry their own labels (class names). */
#include <stdlib.h>
#include <string.h>

#include "font6x10.h"
#include "plot/plot.h"

#include "io/io.h"

_Static_assert(SML_FONT_W == SML_TEXT_W && SML_FONT_H == SML_TEXT_H, "io.h's text size is the font's");

void sml_canvas_init(sml_canvas *c, int width, int height) {
  c->width = width;
  c->height = height;
  c->rgb = SML_ALLOC((size_t)width * height * 3 + 1);
  memset(c->rgb, 255, (size_t)width * height * 3);
}

void sml_canvas_free(sml_canvas *c) {
  free(c->rgb);
  c->rgb = NULL;
}

void sml_canvas_fill(sml_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3]) {
  for (int yy = y < 0 ? 0 : y; yy < y + h && yy < c->height; yy++)
    for (int xx = x < 0 ? 0 : x; xx < x + w && xx < c->width; xx++)
      memcpy(c->rgb + ((size_t)yy * c->width + xx) * 3, rgb, 3);
}

void sml_canvas_frame(sml_canvas *c, int x, int y, int w, int h, int t, const uint8_t rgb[3]) {
  sml_canvas_fill(c, x - t, y - t, w + 2 * t, t, rgb);
  sml_canvas_fill(c, x - t, y + h, w + 2 * t, t, rgb);
  sml_canvas_fill(c, x - t, y, t, h, rgb);
  sml_canvas_fill(c, x + w, y, t, h, rgb);
}

int sml_canvas_text(sml_canvas *c, int x, int y, const char *text, int max_chars, const uint8_t rgb[3]) {
  int n = 0;
  for (const char *p = text; *p && (max_chars <= 0 || n < max_chars); p++, n++) {
    const unsigned char ch = (unsigned char)*p;
    const uint8_t *glyph = sml_font6x10[ch >= 32 && ch < 127 ? ch - 32 : '?' - 32];
    for (int row = 0; row < SML_FONT_H; row++)
      for (int col = 0; col < SML_FONT_W; col++)
        if (glyph[row] & (1u << (SML_FONT_W - 1 - col)))
          sml_canvas_fill(c, x + n * SML_FONT_W + col, y + row, 1, 1, rgb);
  }
  return n * SML_FONT_W;
}

int sml_canvas_text_centered(sml_canvas *c, int center_x, int y, const char *text, int max_width,
                             const uint8_t rgb[3]) {
  int chars = (int)strlen(text), fit = max_width / SML_FONT_W;
  if (chars > fit) chars = fit;
  return sml_canvas_text(c, center_x - chars * SML_FONT_W / 2, y, text, chars, rgb);
}

int sml_canvas_write_png(const sml_canvas *c, const char *path, sml_err *err) {
  return sml_png_write(path, c->rgb, c->width, c->height, 3, err);
}
