/* src/plot/: figures: SVG plots and labelled PNG images. */
/* Figures: PNG rasters with labels in a 6x10 bitmap font, and SVG plots.
 * Each is written through io/'s atomic files (temporary name, rename). */
#ifndef SHARDML_PLOT_H
#define SHARDML_PLOT_H

#include <stdint.h>
#include <stdio.h>

#include "shardml/error.h"

/* 8-bit PNG, channels 1 (gray) or 3 (RGB), rows top to bottom. */
int sml_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels, sml_err *err);

/* An RGB raster for PNG figures (white to start), with text in a 6x10
 * bitmap font: images that carry their labels. Coordinates in pixels, top
 * left origin; drawing is clipped to the canvas. */
typedef struct {
  uint8_t *rgb; /* [height, width, 3] */
  int width, height;
} sml_canvas;
#define SML_TEXT_W 6  /* pixels per character */
#define SML_TEXT_H 10 /* pixels per line */
void sml_canvas_init(sml_canvas *c, int width, int height);
void sml_canvas_free(sml_canvas *c);
void sml_canvas_fill(sml_canvas *c, int x, int y, int w, int h, const uint8_t rgb[3]);
/* A frame t pixels wide just outside the box (x, y, w, h). */
void sml_canvas_frame(sml_canvas *c, int x, int y, int w, int h, int t, const uint8_t rgb[3]);
/* Text with its top left at (x, y), at most max_chars characters (<= 0: all);
 * returns its width. */
int sml_canvas_text(sml_canvas *c, int x, int y, const char *text, int max_chars, const uint8_t rgb[3]);
/* Text centred on center_x, cut to fit max_width pixels; returns its width. */
int sml_canvas_text_centered(sml_canvas *c, int center_x, int y, const char *text, int max_width, const uint8_t rgb[3]);
int sml_canvas_write_png(const sml_canvas *c, const char *path, sml_err *err);

/* An SVG line/scatter plot: ticks at 1-2-5 values (whole numbers on an
 * axis of whole numbers), log_x for a logarithmic x axis. */
typedef struct {
  const char *name;
  int64_t n;
  const double *x, *y;
  const double *yerr; /* optional: +/- error bars */
  int points_only;    /* dots without a line */
  int color;          /* palette index + 1 (also picks the marker shape); 0: by position */
  double dx;          /* horizontal offset in pixels, to set overlapping error bars apart */
} sml_svg_series;
int sml_svg_plot(const char *path, const char *title, const char *xlabel, const char *ylabel, int log_x,
                 const sml_svg_series *series, int nseries, sml_err *err);
/* Heat maps (the search grid, the confusion matrix) share one scale:
 * viridis for u in [0, 1] (worst/none to best/all) into out[24] (returned),
 * the text colour readable on it, and a vertical colour bar at (x, y),
 * h pixels tall, labelled lo..hi at nticks + 1 places with `decimals`
 * (no labels when lo is not finite). */
const char *sml_heat_colour(double u, char *out);
const char *sml_heat_text(double u);
void sml_svg_colour_bar(FILE *f, int x, int y, int h, double lo, double hi, int nticks, int decimals);
/* Text with &, <, > and quotes escaped for SVG/XML. */
void sml_svg_escaped(FILE *f, const char *text);
/* A confusion matrix [C, C] (rows the true class, columns the predicted
 * one) as an SVG heat map: class names on both axes, each cell's count on
 * the colour of its share of the row (recall on the diagonal, which is
 * framed), a colour bar for the shares. */
int sml_svg_confusion(const char *path, const int64_t *counts, int C, const char *const *names, sml_err *err);

#endif
