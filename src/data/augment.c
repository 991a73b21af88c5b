/* Data augmentation: random crops of zero-padded images and horizontal
 * flips, drawn per image from (seed, epoch, global index) (see
 * shardml/prep.h). They work on the uint8 images before preparation, so
 * the padding is black, as in torchvision's RandomCrop(padding=P). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/list.h"
#include "base/rng.h"
#include "shardml/prep.h"

int sml_augment_parse(const char *spec, sml_augment *a, sml_err *err) {
  *a = (sml_augment){0};
  if (!spec || !*spec) return sml_fail_quantity(err, SML_EINPUT, "augmentation", ": empty (e.g. crop2,flip or none)");
  if (strcmp(spec, "none") == 0) return SML_OK;
  char copy[128];
  if (strlen(spec) >= sizeof copy)
    return sml_fail_quantity(err, SML_EINPUT, "augmentation", ": longer than %d characters", (int)sizeof copy - 1);
  snprintf(copy, sizeof copy, "%s", spec);
  char *cursor = copy;
  for (char *e; (e = sml_list_next(&cursor));) {
    if (strcmp(e, "flip") == 0) {
      if (a->flip) return sml_fail_quantity(err, SML_EINPUT, "augmentation", " %s: flip given twice", spec);
      a->flip = 1;
      continue;
    }
    if (!*e) return sml_fail_quantity(err, SML_EINPUT, "augmentation", " %s: an empty element (a stray comma)", spec);
    char *end = NULL;
    const long p = strncmp(e, "crop", 4) == 0 && e[4] >= '0' && e[4] <= '9' ? strtol(e + 4, &end, 10) : -1;
    if (p < 0 || *end)
      return sml_fail_quantity(err, SML_EINPUT, "augmentation", " %s: '%s' is not crop<P> or flip (or none)", spec, e);
    if (a->crop) return sml_fail_quantity(err, SML_EINPUT, "augmentation", " %s: crop given twice", spec);
    if (p < 1 || p > SML_AUGMENT_MAX_CROP)
      return sml_fail_quantity(err, SML_EINPUT, "augmentation", " %s: '%s' needs a padding of 1 to %d pixels", spec, e,
                               SML_AUGMENT_MAX_CROP);
    a->crop = (int)p;
  }
  return SML_OK;
}

void sml_augment_format(const sml_augment *a, char *out, size_t len) {
  if (!a->crop && !a->flip) {
    snprintf(out, len, "%s", "");
  } else if (!a->crop) {
    snprintf(out, len, "flip");
  } else {
    snprintf(out, len, "crop%d%s", a->crop, a->flip ? ",flip" : "");
  }
}

void sml_augment_images(const sml_augment *a, uint64_t seed, int64_t epoch, const int64_t *ids,
                        const uint8_t *const *rows, int64_t n, int height, int width, int channels, uint8_t *out) {
  const uint64_t epoch_key = sml_rng_stream(seed, SML_STREAM_AUGMENT, (uint64_t)epoch).state;
  const int64_t row_bytes = (int64_t)width * channels, dim = row_bytes * height;
  const uint64_t span = 2 * (uint64_t)a->crop + 1;
#pragma omp parallel for schedule(static) if (n * dim >= (1 << 18))
  for (int64_t b = 0; b < n; b++) {
    const uint64_t r = sml_mix64(epoch_key ^ sml_mix64((uint64_t)ids[b] + 1));
    /* The crop's offset in the padded image, as a shift of -crop..crop
     * rows and columns; the flip from a bit the shifts do not use. */
    const int dy = (int)(((r & 0xffffffffu) * span) >> 32) - a->crop;
    const int dx = (int)((((r >> 32) & 0x7fffffffu) * span) >> 31) - a->crop;
    const int flip = a->flip && (r >> 63);
    const uint8_t *src = rows[b];
    uint8_t *dst = out + b * dim;
    for (int y = 0; y < height; y++) {
      uint8_t *drow = dst + (int64_t)y * row_bytes;
      const int sy = y + dy;
      if (sy < 0 || sy >= height) {
        memset(drow, 0, (size_t)row_bytes);
        continue;
      }
      const uint8_t *srow = src + (int64_t)sy * row_bytes;
      for (int x = 0; x < width; x++) {
        /* column x of the flipped image, shifted */
        const int fx = x + dx, sx = flip ? width - 1 - fx : fx;
        if (fx < 0 || fx >= width) {
          memset(drow + (int64_t)x * channels, 0, (size_t)channels);
        } else {
          memcpy(drow + (int64_t)x * channels, srow + (int64_t)sx * channels, (size_t)channels);
        }
      }
    }
  }
}
