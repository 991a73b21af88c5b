/* Minimal SVG plots: axes with ticks, one polyline (or dots) per series,
 * optional error bars and a legend. Readable in any browser. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/plot.h"

#include "io/io.h"

#define W 720
#define H 440
#define ML 70
#define MR 170
#define MT 40
#define MB 55

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

static double tx(double x, double x0, double x1, int log_x) {
  if (log_x) {
    x = log10(x);
    x0 = log10(x0);
    x1 = log10(x1);
  }
  return ML + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (W - ML - MR);
}
static double ty(double y, double y0, double y1) {
  return H - MB - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (H - MT - MB);
}

/* Tick spacing of 1, 2 or 5 times a power of ten giving about `want`
 * intervals over [lo, hi]; at least 1 on an axis of whole numbers. */
static double nice_step(double lo, double hi, int want, int whole) {
  double raw = (hi - lo) / want;
  if (!(raw > 0)) raw = 1;
  const double mag = pow(10, floor(log10(raw))), r = raw / mag;
  double step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
  return whole && step < 1 ? 1 : step;
}

/* A tick label with as many decimals as the spacing needs: 0.85, 0.9, 1000. */
static void tick_label(double v, double step, char *out, size_t len) {
  int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (decimals > 6 || fabs(v) >= 1e6) snprintf(out, len, "%.3g", v);
  else snprintf(out, len, "%.*f", decimals, fabs(v) < step * 1e-6 ? 0.0 : v);
}

/* Ticks at nice values inside [lo, hi]: 1-2-5 steps on a linear axis;
 * 1, 2, 5 x 10^k on a log axis (every integer mantissa if that gives few). */
static int axis_ticks(double lo, double hi, int log_axis, int whole, double *ticks, double *step_out, int max) {
  int n = 0;
  if (log_axis) {
    static const int sparse[] = {1, 2, 5}, dense[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int pass = 0; pass < 2 && n < 3; pass++) {
      const int *ms = pass == 0 ? sparse : dense, nm = pass == 0 ? 3 : 9;
      n = 0;
      for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)) && n < max; e++)
        for (int i = 0; i < nm && n < max; i++) {
          const double v = ms[i] * pow(10, e);
          if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks[n++] = v;
        }
    }
    *step_out = n > 0 ? ticks[0] : 1; /* the smallest tick sets the decimals: 0.02, 0.05, 0.1 */
    return n;
  }
  const double step = nice_step(lo, hi, 5, whole);
  for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < max; v += step) ticks[n++] = v;
  *step_out = step;
  return n;
}

/* Markers differ in shape as well as colour, so that series stay apart in
 * print and for colour-blind readers: circle, square, triangle, diamond. */
static void marker(FILE *f, int shape, double x, double y, double r, const char *col, const char *opacity) {
  switch (shape % 4) {
    case 0:
      fprintf(f, "<circle cx='%.1f' cy='%.1f' r='%.1f' fill='%s' fill-opacity='%s'/>", x, y, r, col, opacity);
      break;
    case 1:
      fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s' fill-opacity='%s'/>", x - r, y - r,
              2 * r, 2 * r, col, opacity);
      break;
    case 2:
      fprintf(f, "<polygon points='%.1f,%.1f %.1f,%.1f %.1f,%.1f' fill='%s' fill-opacity='%s'/>", x, y - 1.2 * r,
              x - 1.1 * r, y + 0.8 * r, x + 1.1 * r, y + 0.8 * r, col, opacity);
      break;
    default:
      fprintf(f, "<polygon points='%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f' fill='%s' fill-opacity='%s'/>", x,
              y - 1.3 * r, x + 1.3 * r, y, x, y + 1.3 * r, x - 1.3 * r, y, col, opacity);
  }
  fprintf(f, "\n");
}

int sml_svg_plot(const char *path, const char *title, const char *xlabel, const char *ylabel, int log_x,
                 const sml_svg_series *series, int nseries, sml_err *err) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  int whole_x = 1;
  for (int s = 0; s < nseries; s++)
    for (int64_t i = 0; i < series[s].n; i++) {
      double e = series[s].yerr ? series[s].yerr[i] : 0;
      if (!isfinite(series[s].y[i])) continue;
      x0 = fmin(x0, series[s].x[i]);
      x1 = fmax(x1, series[s].x[i]);
      y0 = fmin(y0, series[s].y[i] - e);
      y1 = fmax(y1, series[s].y[i] + e);
      whole_x &= series[s].x[i] == floor(series[s].x[i]);
    }
  if (!isfinite(x0)) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (log_x && x0 <= 0) log_x = 0;
  if (x1 <= x0) {
    x0 -= 1;
    x1 += 1;
  }
  double pad = (y1 - y0) * 0.05 + 1e-12;
  y0 -= pad;
  y1 += pad;
  if (log_x) {
    x0 /= 1.15;
    x1 *= 1.15;
  } /* room for the first and last points' error bars */
  else {
    const double xpad = (x1 - x0) * 0.03;
    x0 -= xpad;
    x1 += xpad;
  }

  sml_atomic_file a;
  SML_TRY(sml_atomic_open(&a, path, err));
  FILE *f = a.f;
  fprintf(f,
          "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='12'>\n",
          W, H);
  fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
  fprintf(f, "<text x='%d' y='24' font-size='15' text-anchor='middle'>%s</text>\n", (W - MR + ML) / 2, title);
  fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n", ML, MT, W - ML - MR,
          H - MT - MB);
  double ticks[64], step;
  char label[32];
  int nt = axis_ticks(y0, y1, 0, 0, ticks, &step, 64);
  for (int t = 0; t < nt; t++) {
    const double yp = ty(ticks[t], y0, y1);
    tick_label(ticks[t], step, label, sizeof label);
    fprintf(f, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ddd'/>", ML, W - MR, yp, yp);
    fprintf(f, "<text x='%d' y='%.1f' text-anchor='end'>%s</text>\n", ML - 5, yp + 4, label);
  }
  nt = axis_ticks(x0, x1, log_x, whole_x, ticks, &step, 64);
  for (int t = 0; t < nt; t++) {
    const double xp = tx(ticks[t], x0, x1, log_x);
    tick_label(ticks[t], step, label, sizeof label);
    fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#444'/>", xp, xp, H - MB, H - MB + 4);
    fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%s</text>\n", xp, H - MB + 17, label);
  }
  fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s%s</text>\n", (W - MR + ML) / 2, H - 12, xlabel,
          log_x ? " (log scale)" : "");
  fprintf(f, "<text transform='translate(16,%d) rotate(-90)' text-anchor='middle'>%s</text>\n", (H - MB + MT) / 2,
          ylabel);
  for (int s = 0; s < nseries; s++) {
    const sml_svg_series *se = &series[s];
    const int ci = se->color > 0 ? se->color - 1 : s;
    const char *col = palette[ci % 6];
    const char *opacity = se->points_only ? "0.45" : "1";
    const double r = se->points_only ? 2.5 : 3.5;
    if (!se->points_only) {
      fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", col);
      for (int64_t i = 0; i < se->n; i++)
        if (isfinite(se->y[i])) fprintf(f, "%.1f,%.1f ", tx(se->x[i], x0, x1, log_x) + se->dx, ty(se->y[i], y0, y1));
      fprintf(f, "'/>\n");
    }
    for (int64_t i = 0; i < se->n; i++) {
      if (!isfinite(se->y[i])) continue;
      double xp = tx(se->x[i], x0, x1, log_x) + se->dx, yp = ty(se->y[i], y0, y1);
      if (se->yerr) {
        double lo = ty(se->y[i] - se->yerr[i], y0, y1), hi = ty(se->y[i] + se->yerr[i], y0, y1);
        fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s'/>", xp, xp, lo, hi, col);
        fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s'/>", xp - 3, xp + 3, lo, lo, col);
        fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s'/>\n", xp - 3, xp + 3, hi, hi, col);
      }
      if (se->points_only || se->yerr || se->n <= 60) marker(f, ci, xp, yp, r, col, opacity);
    }
    /* The legend entry drawn as the series is: a line with its marker, or loose dots. */
    const int ly = MT + 14 + 22 * s, lx = W - MR + 12;
    if (se->points_only) {
      marker(f, ci, lx + 4, ly - 4, r, col, opacity);
      marker(f, ci, lx + 12, ly - 1, r, col, opacity);
      marker(f, ci, lx + 20, ly - 6, r, col, opacity);
    } else {
      fprintf(f, "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='%s' stroke-width='1.5'/>", lx, lx + 24, ly - 4, ly - 4,
              col);
      marker(f, ci, lx + 12, ly - 4, r, col, opacity);
    }
    fprintf(f, "<text x='%d' y='%d'>%s</text>\n", lx + 32, ly, se->name);
  }
  fprintf(f, "</svg>\n");
  return sml_atomic_commit(&a, err);
}

const char *sml_heat_colour(double u, char *out) {
  /* viridis (dark blue, teal, green, yellow): readable in grey and by colour-blind readers */
  static const int anchors[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  if (!(u >= 0)) u = 0;
  if (u > 1) u = 1;
  const int seg = u >= 1 ? 3 : (int)(u * 4);
  const double w = u * 4 - seg;
  snprintf(out, 24, "rgb(%d,%d,%d)", (int)lrint(anchors[seg][0] + w * (anchors[seg + 1][0] - anchors[seg][0])),
           (int)lrint(anchors[seg][1] + w * (anchors[seg + 1][1] - anchors[seg][1])),
           (int)lrint(anchors[seg][2] + w * (anchors[seg + 1][2] - anchors[seg][2])));
  return out;
}

const char *sml_heat_text(double u) { return u > 0.6 ? "black" : "white"; }

void sml_svg_colour_bar(FILE *f, int x, int y, int h, double lo, double hi, int nticks, int decimals) {
  const int steps = 20;
  char colour[24];
  for (int k = 0; k < steps; k++)
    fprintf(f, "<rect x='%d' y='%.1f' width='16' height='%.1f' fill='%s'/>", x, y + h - (k + 1) * (double)h / steps,
            (double)h / steps + 0.5, sml_heat_colour((k + 0.5) / steps, colour));
  fprintf(f, "<rect x='%d' y='%d' width='16' height='%d' fill='none' stroke='#444'/>\n", x, y, h);
  for (int k = 0; k <= nticks && isfinite(lo); k++)
    fprintf(f, "<text x='%d' y='%d'>%.*f</text>\n", x + 22, y + h - k * h / nticks + 4, decimals,
            lo + (hi - lo) * k / nticks);
}

void sml_svg_escaped(FILE *f, const char *text) {
  for (const char *p = text; *p; p++) {
    switch (*p) {
      case '&':
        fputs("&amp;", f);
        break;
      case '<':
        fputs("&lt;", f);
        break;
      case '>':
        fputs("&gt;", f);
        break;
      case '\'':
        fputs("&apos;", f);
        break;
      case '"':
        fputs("&quot;", f);
        break;
      default:
        fputc(*p, f);
    }
  }
}

int sml_svg_confusion(const char *path, const int64_t *counts, int C, const char *const *names, sml_err *err) {
  size_t longest = 1;
  for (int k = 0; k < C; k++)
    if (strlen(names[k]) > longest) longest = strlen(names[k]);
  /* About 7 pixels a character at 12 px; column names run at -45 degrees. */
  const int cell = 52, name_px = (int)longest * 7 + 10, ml = name_px + 30, mt = 56;
  const int grid = C * cell, bar_x = ml + grid + 24, mb = (int)(name_px * 0.72) + 44;
  sml_atomic_file a;
  int st = sml_atomic_open(&a, path, err);
  if (st != SML_OK) return st;
  FILE *f = a.f;
  char colour[24];
  fprintf(f,
          "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='12'>\n",
          bar_x + 110, mt + grid + mb);
  fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
  fprintf(f, "<text x='%d' y='22' font-size='15'>confusion matrix</text>\n", ml);
  fprintf(f, "<text x='%d' y='40' fill='#444'>rows: true class; columns: predicted; colour: share of the row</text>\n",
          ml);
  for (int t = 0; t < C; t++) {
    int64_t row = 0;
    for (int p = 0; p < C; p++) row += counts[(int64_t)t * C + p];
    for (int p = 0; p < C; p++) {
      const int64_t n = counts[(int64_t)t * C + p];
      const double share = row ? (double)n / (double)row : 0;
      const int x = ml + p * cell, y = mt + t * cell;
      fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='%s' stroke='white'/>", x, y, cell, cell,
              sml_heat_colour(share, colour));
      if (p == t) /* the diagonal: correct */
        fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='black' stroke-width='2'/>", x + 2,
                y + 2, cell - 4, cell - 4);
      fprintf(f, "<text x='%d' y='%d' text-anchor='middle' fill='%s'>%lld</text>\n", x + cell / 2, y + cell / 2 + 4,
              sml_heat_text(share), (long long)n);
    }
    fprintf(f, "<text x='%d' y='%d' text-anchor='end'>", ml - 6, mt + t * cell + cell / 2 + 4);
    sml_svg_escaped(f, names[t]);
    fprintf(f, "</text>\n");
  }
  for (int p = 0; p < C; p++) {
    const int x = ml + p * cell + cell / 2, y = mt + grid + 12;
    fprintf(f, "<text x='%d' y='%d' text-anchor='end' transform='rotate(-45 %d %d)'>", x, y, x, y);
    sml_svg_escaped(f, names[p]);
    fprintf(f, "</text>\n");
  }
  fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>predicted class</text>\n", ml + grid / 2, mt + grid + mb - 10);
  fprintf(f, "<text transform='translate(14,%d) rotate(-90)' text-anchor='middle'>true class</text>\n", mt + grid / 2);
  sml_svg_colour_bar(f, bar_x, mt, grid, 0.0, 1.0, 4, 2);
  fprintf(f, "<text transform='translate(%d,%d) rotate(-90)' text-anchor='middle'>share of the true class</text>\n",
          bar_x + 68, mt + grid / 2);
  fprintf(f, "</svg>\n");
  return sml_atomic_commit(&a, err);
}
