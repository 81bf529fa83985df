#ifndef CPNG_SHIM_H
#define CPNG_SHIM_H
// libpng's simplified API (Debian's libpng-dev): whole-image reads and writes into 8-bit RGB.
#include <png.h>
#include <string.h>

// PNG_IMAGE_VERSION, PNG_FORMAT_* and PNG_IMAGE_FAILED are macros Swift does not import.
static inline void cpng_image_init(png_image *image) {
    memset(image, 0, sizeof *image);
    image->version = PNG_IMAGE_VERSION;
}
static inline png_uint_32 cpng_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 cpng_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline int cpng_image_failed(const png_image *image) { return PNG_IMAGE_FAILED(*image); }
#endif
