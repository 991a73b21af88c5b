/* PNG output via libpng, written atomically. */
#include <png.h>
#include <errno.h>
#include <setjmp.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "plot/plot.h"

#include "io/io.h"

/* libpng reports through these instead of printing to stderr itself, so
 * that a failure is shardml's one error line, with the reason (errno of the
 * write that failed: a full disk is "No space left on device"). */
typedef struct {
  char message[128];
  int write_errno;
} png_failure;

static void png_on_error(png_structp png, png_const_charp message) {
  png_failure *why = png_get_error_ptr(png);
  why->write_errno = errno;
  snprintf(why->message, sizeof why->message, "%s", message);
  png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message) {
  (void)png;
  (void)message;
}

int sml_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels, sml_err *err) {
  char tmp[4160];
  sml_temp_name(tmp, sizeof tmp, path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return sml_fail(err, SML_ERUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
  png_failure why = {"", 0};
  errno = 0;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &why, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    unlink(tmp);
    if (why.write_errno) return sml_fail(err, SML_ERUNTIME, "%s: write failed: %s", path, strerror(why.write_errno));
    return sml_fail(err, SML_ERUNTIME, "%s: PNG encoding failed%s%s", path, why.message[0] ? ": " : "", why.message);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  if (fclose(f) != 0) {
    const int e = errno;
    unlink(tmp);
    return sml_fail(err, SML_ERUNTIME, "%s: write failed: %s", path, strerror(e));
  }
  return sml_rename_into_place(tmp, path, err);
}
