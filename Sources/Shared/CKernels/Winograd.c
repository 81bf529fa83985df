// Winograd F(4x4, 3x3) convolutions on nChw8c (AVX2 + FMA) and nChw16c (AVX-512) (CKernels.h):
// each 4x4 block of outputs ("tile") comes from a 6x6 block of inputs in 36 multiplies per
// channel pair instead of 144, at the cost of three transforms (Lavin & Gray 2016, points 0,
// +-1, +-2, infinity):
//   V = B^T d B (input, 6x6)   U = G g G^T (weights, 6x6)   y = A^T (sum over channels of U . V) A
// The channel sums are 36 independent GEMMs, one per position xi of the 6x6 transform, computed
// by a register tile of 12 accumulators (two output blocks by 6 tiles, as the direct kernel in
// Conv3x3.c, or one block by 12 tiles).
//
// For the weight gradient, with y = A^T [(G g G^T) . (B^T d B)] A, the gradient of kernel g is
// G^T dU G where dU = sum over tiles of (A dy A^T) . (B^T d B): per position xi, a GEMM over
// tiles of the transformed output gradients (K) and inputs (C).
//
// WinogradLanes.h holds the kernels, written once for a channel block of L lanes and included
// here for L = 8 and L = 16; the functions below pick one by `lanes`.
#include "CKernels.h"
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

/// Where tile t of the whole batch lies: image n, top-left output (oy, ox).
typedef struct { int n, oy, ox; } tile_at;
static tile_at locate(int t, int tilesY, int tilesX) {
    int perImage = tilesY * tilesX, r = t % perImage;
    return (tile_at){t / perImage, (r / tilesX) * 4, (r % tilesX) * 4};
}

/// How many tiles ahead the transforms prefetch their input blocks and output tiles. Without
/// it the loads of six rows at once missed the cache: with it, on one Zen 5 core, resnet20's
/// 16-channel layers on 28x28 ran 1.45x (forward) and 1.9x (weight gradient) faster, 32
/// channels on 14x14 1.03x and 1.15x, 256 on 8x8 weight gradient 1.12x; 2 to 4 tiles ahead
/// measured alike.
#define PREFETCH_TILES 3

/// Prefetches every cache line of the `bytes` bytes from p.
static inline void prefetch_span(const float *p, int bytes) {
    const char *c = (const char *)p;
    for (int b = 0; b < bytes; b += 64) _mm_prefetch(c + b, _MM_HINT_T0);
    _mm_prefetch(c + bytes - 1, _MM_HINT_T0);
}

#define L 8
#include "WinogradLanes.h"
#undef L
#define L 16
#include "WinogradLanes.h"
#undef L

long kd_wino_weights_floats(int inC, int outC) { return 36L * inC * outC; }

void kd_wino_pack(const float *w, float *packed, int outC, int inC, int transpose, int chunk0, int chunkK, int k0,
                  int k1, int lanes) {
    if (lanes == 16) pack_16(w, packed, outC, inC, transpose, chunk0, chunkK, k0, k1);
    else pack_8(w, packed, outC, inC, transpose, chunk0, chunkK, k0, k1);
    _mm_sfence();  // the streaming stores, visible before another thread reads them
}

long kd_wino_scratch_floats(int inC, int outC, int tileBlock) { return 36L * tileBlock * (inC + outC); }

int kd_wino_tile_block(int inC, int outC) {
    // Measured on one Zen 4 core from 16 to 512 channels: 12 to 36 tiles run alike up to 256
    // channels; at 512, where every block reads all 38 MB of weights, 36 ran 2.1x faster than 6.
    (void)inC, (void)outC;
    return 36;
}

void kd_wino_forward(const float *x, const float *U, const float *bias, float *y, float *scratch, int t0, int t1,
                     int tileBlock, int inC, int outC, int k0, int k1, int height, int width, int relu, int lanes) {
    if (lanes == 16) forward_16(x, U, bias, y, scratch, t0, t1, tileBlock, inC, outC, k0, k1, height, width, relu);
    else forward_8(x, U, bias, y, scratch, t0, t1, tileBlock, inC, outC, k0, k1, height, width, relu);
}

void kd_wino_backward_weights(const float *x, const float *dy, float *acc, float *scratch, int t0, int t1, int k0,
                              int k1, int tileBlock, int inC, int outC, int height, int width, int lanes) {
    if (lanes == 16) backward_weights_16(x, dy, acc, scratch, t0, t1, k0, k1, tileBlock, inC, outC, height, width);
    else backward_weights_8(x, dy, acc, scratch, t0, t1, k0, k1, tileBlock, inC, outC, height, width);
}

void kd_wino_reduce_weights(const float *parts, int threads, float *grad, int inC, int chunk0, int chunkK, int k0, int k1,
                            int lanes) {
    if (lanes == 16) reduce_weights_16(parts, threads, grad, inC, chunk0, chunkK, k0, k1);
    else reduce_weights_8(parts, threads, grad, inC, chunk0, chunkK, k0, k1);
}

void kd_wino_bias_sums(const float *dy, float *biasAcc, int n0, int n1, int outC, int height, int width, int lanes) {
    if (lanes == 16) bias_sums_16(dy, biasAcc, n0, n1, outC, height, width);
    else bias_sums_8(dy, biasAcc, n0, n1, outC, height, width);
}
