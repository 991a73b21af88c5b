/* PNG output via libpng, written atomically. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <unistd.h>

#include "shardml/io.h"

int sml_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                  sml_err *err) {
  char tmp[4160];
  sml_temp_name(tmp, sizeof tmp, path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return sml_fail(err, SML_ERUNTIME, "%s: cannot create", tmp);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    unlink(tmp);
    return sml_fail(err, SML_ERUNTIME, "%s: PNG encoding failed", path);
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
    unlink(tmp);
    return sml_fail(err, SML_ERUNTIME, "%s: write failed", path);
  }
  return sml_rename_into_place(tmp, path, err);
}
