#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>

/// `inflateInit2` is a macro over `inflateInit2_`; Swift imports functions only.
static inline int czlib_inflate_init_gzip(z_streamp stream) {
    // 15 window bits + 32: detect a gzip or zlib header automatically.
    return inflateInit2(stream, 15 + 32);
}
#endif
