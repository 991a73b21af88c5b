/* Minimal SVG plots: axes with ticks, one polyline (or dots) per series,
 * optional error bars and a legend. Readable in any browser. */
#include <math.h>
#include <stdio.h>

#include "shardml/io.h"

#define W 720
#define H 440
#define ML 70
#define MR 170
#define MT 40
#define MB 55

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

static double tx(double x, double x0, double x1, int log_x) {
  if (log_x) { x = log10(x); x0 = log10(x0); x1 = log10(x1); }
  return ML + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (W - ML - MR);
}
static double ty(double y, double y0, double y1) {
  return H - MB - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (H - MT - MB);
}

int sml_svg_plot(const char *path, const char *title, const char *xlabel, const char *ylabel,
                 int log_x, const sml_svg_series *series, int nseries, sml_err *err) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int s = 0; s < nseries; s++)
    for (int64_t i = 0; i < series[s].n; i++) {
      double e = series[s].yerr ? series[s].yerr[i] : 0;
      if (!isfinite(series[s].y[i])) continue;
      x0 = fmin(x0, series[s].x[i]); x1 = fmax(x1, series[s].x[i]);
      y0 = fmin(y0, series[s].y[i] - e); y1 = fmax(y1, series[s].y[i] + e);
    }
  if (!isfinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (log_x && x0 <= 0) log_x = 0;
  double pad = (y1 - y0) * 0.05 + 1e-12;
  y0 -= pad; y1 += pad;

  sml_atomic_file a;
  SML_TRY(sml_atomic_open(&a, path, err));
  FILE *f = a.f;
  fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='12'>\n", W, H);
  fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
  fprintf(f, "<text x='%d' y='24' font-size='15' text-anchor='middle'>%s</text>\n", (W - MR + ML) / 2, title);
  fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n", ML, MT, W - ML - MR, H - MT - MB);
  for (int t = 0; t <= 5; t++) {
    double yv = y0 + (y1 - y0) * t / 5.0, yp = ty(yv, y0, y1);
    fprintf(f, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ddd'/>", ML, W - MR, yp, yp);
    fprintf(f, "<text x='%d' y='%.1f' text-anchor='end'>%.4g</text>\n", ML - 5, yp + 4, yv);
    double xv = log_x ? pow(10, log10(x0) + (log10(x1) - log10(x0)) * t / 5.0) : x0 + (x1 - x0) * t / 5.0;
    double xp = tx(xv, x0, x1, log_x);
    fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%.4g</text>\n", xp, H - MB + 16, xv);
  }
  fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>\n", (W - MR + ML) / 2, H - 12, xlabel);
  fprintf(f, "<text transform='translate(16,%d) rotate(-90)' text-anchor='middle'>%s</text>\n", (H - MB + MT) / 2, ylabel);
  for (int s = 0; s < nseries; s++) {
    const char *col = palette[(series[s].color > 0 ? series[s].color - 1 : s) % 6];
    const sml_svg_series *se = &series[s];
    if (!se->points_only) {
      fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", col);
      for (int64_t i = 0; i < se->n; i++)
        if (isfinite(se->y[i])) fprintf(f, "%.1f,%.1f ", tx(se->x[i], x0, x1, log_x), ty(se->y[i], y0, y1));
      fprintf(f, "'/>\n");
    }
    for (int64_t i = 0; i < se->n; i++) {
      if (!isfinite(se->y[i])) continue;
      double xp = tx(se->x[i], x0, x1, log_x), yp = ty(se->y[i], y0, y1);
      if (se->yerr) {
        double lo = ty(se->y[i] - se->yerr[i], y0, y1), hi = ty(se->y[i] + se->yerr[i], y0, y1);
        fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s'/>", xp, xp, lo, hi, col);
        fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s'/>", xp - 4, xp + 4, lo, lo, col);
        fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s'/>\n", xp - 4, xp + 4, hi, hi, col);
      }
      if (se->points_only || se->yerr || se->n <= 60)
        fprintf(f, "<circle cx='%.1f' cy='%.1f' r='%d' fill='%s' fill-opacity='%s'/>\n", xp, yp,
                se->points_only ? 2 : 3, col, se->points_only ? "0.5" : "1");
    }
    fprintf(f, "<rect x='%d' y='%d' width='12' height='12' fill='%s'/><text x='%d' y='%d'>%s</text>\n",
            W - MR + 12, MT + 8 + 20 * s, col, W - MR + 30, MT + 18 + 20 * s, se->name);
  }
  fprintf(f, "</svg>\n");
  return sml_atomic_commit(&a, err);
}
