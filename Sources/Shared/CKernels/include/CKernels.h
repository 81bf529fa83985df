// The engine's own compute kernels in C, for AVX2 + FMA machines where oneDNN 2.6's kernels are
// slower (measured: BENCHMARKS.md, issues 8 and 26) or missing (Winograd below AVX-512), and a
// Winograd kernel for AVX-512 too, faster than oneDNN's. Swift builds for baseline x86-64 and
// has no per-function target attributes; C has them, so these functions carry
// `target("avx2,fma")` or `target("avx512f")` and the engine calls them only after
// `kd_cpu_has_avx2_fma()` or `kd_cpu_has_avx512f()`.
//
// Layout: nChw8c (oneDNN's `aBcd8b` on AVX2): [N][C/8][H][W][8], the 8 channels of a block
// innermost (nChw16c for the Winograd kernels' AVX-512 build); the `_plain` functions take a
// plain [N][C][H][W] input instead (a first layer on grey or RGB images, which oneDNN leaves
// plain). Convolutions here are 3x3, stride 1, zero padding 1, no dilation, no groups.
// Each function does one thread's share of the batch, images [n0, n1) (tiles [t0, t1) for
// Winograd); the caller runs them on oneDNN's OpenMP team.
#ifndef KD_CKERNELS_H
#define KD_CKERNELS_H

/// 1 when the CPU runs AVX2 and FMA instructions.
int kd_cpu_has_avx2_fma(void);

/// Floats of scratch one thread needs: a zero-padded copy of one image of `channels` channels.
long kd_conv3x3_scratch_floats(int channels, int height, int width);

/// y = relu?(conv(x, w) + bias) for images [n0, n1). x: [N][inC/8][H][W][8]; y: [N][outC/8][H][W][8];
/// w packed as [outC/8][inC][3][3][8] (kd_conv3x3_pack); bias: outC floats or NULL.
/// inC % 8 == 0, outC % 16 == 0. Each output is summed in one fixed order (input channel, kernel
/// row, kernel column), whatever the thread count or batch split.
void kd_conv3x3_forward(const float *x, const float *w, const float *bias, float *y, float *scratch,
                        int n0, int n1, int inC, int outC, int height, int width, int relu);

/// acc += the weight gradient of images [n0, n1): acc[outC/8][inC][3][3][8] (8 output channels
/// innermost); biasAcc[outC] += the output gradient's sums when not NULL.
/// x: [N][inC/8][H][W][8]; dy: [N][outC/8][H][W][8]. inC % 8 == 0, outC % 16 == 0.
void kd_conv3x3_backward_weights(const float *x, const float *dy, float *acc, float *biasAcc, float *scratch,
                                 int n0, int n1, int inC, int outC, int height, int width);

/// kd_conv3x3_forward for a plain input x: [N][inC][H][W], any inC (a first layer's 1 or 3).
void kd_conv3x3_forward_plain(const float *x, const float *w, const float *bias, float *y, float *scratch,
                              int n0, int n1, int inC, int outC, int height, int width, int relu);

/// kd_conv3x3_backward_weights for a plain input x: [N][inC][H][W], any inC; outC % 8 == 0.
void kd_conv3x3_backward_weights_plain(const float *x, const float *dy, float *acc, float *biasAcc, float *scratch,
                                       int n0, int n1, int inC, int outC, int height, int width);

/// Adds the threads' weight-gradient parts (each [outC/8][inC][3][3][8], `threads` of them one
/// after another) into the plain gradient grad[outC][inC][3][3], for output channels [o0, o1).
/// Each sum runs in thread order.
void kd_conv3x3_reduce_weights(const float *parts, int threads, float *grad, int outC, int inC, int o0, int o1);

/// Packs plain weights w[outC][inC][3][3] for kd_conv3x3_forward. With `transpose`, packs the
/// weights of the backward-data convolution instead: dx = conv(dy, w') with
/// w'[inC][outC][kh][kw] = w[outC][inC][2 - kh][2 - kw], so `packed` is [inC/8][outC][3][3][8].
void kd_conv3x3_pack(const float *w, float *packed, int outC, int inC, int transpose);

// MARK: - Winograd F(4x4, 3x3) (Winograd.c)
//
// On nChw8c with AVX2 + FMA (`lanes` 8) or on nChw16c with AVX-512 (`lanes` 16, only after
// kd_cpu_has_avx512f()): L below is `lanes`, and channel counts are multiples of L.

/// 1 when the CPU runs AVX-512 Foundation instructions.
int kd_cpu_has_avx512f(void);

/// Floats of the packed weights: [36][K/L][C][L] for K output and C input channels.
long kd_wino_weights_floats(int inC, int outC);

/// Packs plain weights w[outC][inC][3][3] for kd_wino_forward: output channels [k0, k1) of the
/// convolution into `packed` ([36][chunkK/L][C][L], 64-byte aligned), which holds its output
/// channels [chunk0, chunk0 + chunkK) (all multiples of L). The convolution is the forward one
/// (K = outC, C = inC), or with `transpose` the backward-data one (K = inC, C = outC; kernels
/// rotated as in kd_conv3x3_pack).
void kd_wino_pack(const float *w, float *packed, int outC, int inC, int transpose, int chunk0, int chunkK, int k0,
                  int k1, int lanes);

/// Tiles (4x4 output blocks) per block of work for these channel counts: a multiple of 6.
int kd_wino_tile_block(int inC, int outC);

/// Floats of scratch one thread needs for blocks of `tileBlock` tiles (outC: the output channels
/// of one call).
long kd_wino_scratch_floats(int inC, int outC, int tileBlock);

/// y = relu?(conv(x, w) + bias) for output channels [k0, k1) (multiples of L) and tiles
/// [t0, t1) of the batch, tile t covering image t / (ty * tx), outputs from row
/// 4 * (t % (ty * tx) / tx), column 4 * (t % tx), where ty = ceil(H / 4), tx = ceil(W / 4).
/// x: [N][inC/L][H][W][L]; y: [N][outC/L][H][W][L]; w from kd_wino_pack, holding the chunk
/// [k0, k1); bias: outC floats or NULL; scratch: kd_wino_scratch_floats(inC, k1 - k0, tileBlock).
/// Each output is computed in one fixed order, whatever the thread count, split or chunk.
void kd_wino_forward(const float *x, const float *w, const float *bias, float *y, float *scratch, int t0, int t1,
                     int tileBlock, int inC, int outC, int k0, int k1, int height, int width, int relu, int lanes);

/// acc += the weight gradient of output channels [k0, k1) (multiples of L) from tiles [t0, t1)
/// of the batch (tiles as in kd_wino_forward), in the transformed domain: acc
/// [36][(k1 - k0)/L][inC][L], to be brought back by kd_wino_reduce_weights.
/// x: [N][inC/L][H][W][L]; dy: [N][outC/L][H][W][L]; scratch: kd_wino_scratch_floats(inC,
/// k1 - k0, tileBlock).
void kd_wino_backward_weights(const float *x, const float *dy, float *acc, float *scratch, int t0, int t1, int k0,
                              int k1, int tileBlock, int inC, int outC, int height, int width, int lanes);

/// Adds `threads` sums of kd_wino_backward_weights for output channels [chunk0, chunk0 + chunkK)
/// (one after another in `parts`), transformed back, into the plain gradient
/// grad[outC][inC][3][3], for output channels [k0, k1) of that chunk (multiples of L). The sums
/// are added in order.
void kd_wino_reduce_weights(const float *parts, int threads, float *grad, int inC, int chunk0, int chunkK, int k0, int k1,
                            int lanes);

/// biasAcc[outC] += the sums of dy ([N][outC/L][H][W][L]) over images [n0, n1) and pixels.
void kd_wino_bias_sums(const float *dy, float *biasAcc, int n0, int n1, int outC, int height, int width, int lanes);

#endif
