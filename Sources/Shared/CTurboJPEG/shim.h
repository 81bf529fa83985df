#ifndef CTURBOJPEG_SHIM_H
#define CTURBOJPEG_SHIM_H
// libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0-dev): JPEG decoding and encoding, and
// tjLoadImage for BMP, PPM and PGM files.
#include <turbojpeg.h>
#endif
