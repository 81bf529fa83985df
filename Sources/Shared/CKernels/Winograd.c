// Winograd F(4x4, 3x3) convolutions on nChw8c for AVX2 + FMA (CKernels.h): each 4x4 block of
// outputs ("tile") comes from a 6x6 block of inputs in 36 multiplies per channel pair instead of
// 144, at the cost of three transforms (Lavin & Gray 2016, points 0, +-1, +-2, infinity):
//   V = B^T d B (input, 6x6)   U = G g G^T (weights, 6x6)   y = A^T (sum over channels of U . V) A
// The channel sums are 36 independent GEMMs, one per position xi of the 6x6 transform,
// computed by the same 6 x 16 register tile as the direct kernel (Conv3x3.c).
#include "CKernels.h"
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma")))

// MARK: - Weights

/// G applied to three vectors (a column or a row of a 3x3 kernel): six.
#define WEIGHTS_1D(g, u)                                                                                         \
    do {                                                                                                         \
        __m256 q = _mm256_mul_ps(g[0], _mm256_set1_ps(1.0f / 4)), s = _mm256_add_ps(g[0], g[2]);                 \
        __m256 a = _mm256_fmadd_ps(g[0], _mm256_set1_ps(1.0f / 24), _mm256_mul_ps(g[2], _mm256_set1_ps(1.0f / 6))); \
        __m256 b = _mm256_mul_ps(g[1], _mm256_set1_ps(1.0f / 12));                                               \
        u[0] = q;                                                                                                \
        u[1] = _mm256_mul_ps(_mm256_add_ps(s, g[1]), _mm256_set1_ps(-1.0f / 6));                                 \
        u[2] = _mm256_mul_ps(_mm256_sub_ps(s, g[1]), _mm256_set1_ps(-1.0f / 6));                                 \
        u[3] = _mm256_add_ps(a, b);                                                                              \
        u[4] = _mm256_sub_ps(a, b);                                                                              \
        u[5] = g[2];                                                                                             \
    } while (0)

long kd_wino_weights_floats(int inC, int outC) { return 36L * inC * outC; }

/// The 36 transformed kernels G g G^T of output channels [8 kb, 8 kb + 8) from input channel c
/// (one per lane), where lane l's 3x3 kernel starts at `g + l * laneStride` and tap t lies at
/// `tapStep * t` (-1 for a kernel rotated 180 degrees, read from its last tap). The stores bypass
/// the caches: a 512 x 512 layer's 38 MB of transformed weights packed three times faster so.
AVX2 static void pack_block(const float *g, int laneStride, int tapStep, float *out, size_t xiStride) {
    __m256i lanes = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(laneStride));
    __m256 cols[3][6];  // cols[c] = G times column c of the kernels
    for (int c = 0; c < 3; c++) {
        __m256 k[3];
        for (int r = 0; r < 3; r++) k[r] = _mm256_i32gather_ps(g + tapStep * (r * 3 + c), lanes, 4);
        WEIGHTS_1D(k, cols[c]);
    }
    for (int r = 0; r < 6; r++) {
        __m256 row[3] = {cols[0][r], cols[1][r], cols[2][r]}, u[6];
        WEIGHTS_1D(row, u);
        for (int c = 0; c < 6; c++) _mm256_stream_ps(out + (size_t)(r * 6 + c) * xiStride, u[c]);
    }
}

void kd_wino_pack(const float *w, float *packed, int outC, int inC, int transpose, int k0, int k1) {
    int K = transpose ? inC : outC, C = transpose ? outC : inC;
    size_t xiStride = (size_t)(K / 8) * C * 8;
    for (int kb = k0 / 8; kb < k1 / 8; kb++)
        for (int c = 0; c < C; c++) {
            float *out = packed + ((size_t)kb * C + c) * 8;
            if (!transpose)  // w[k][c]: lanes (output channels) C * 9 apart
                pack_block(w + ((size_t)kb * 8 * inC + c) * 9, C * 9, 1, out, xiStride);
            else  // w[c][k] rotated: lanes (input channels of w) 9 apart
                pack_block(w + ((size_t)c * inC + kb * 8) * 9 + 8, 9, -1, out, xiStride);
        }
    _mm_sfence();  // the streaming stores, visible before another thread reads them
}

// MARK: - Transforms

/// B^T applied to six vectors (a column or a row of a 6x6 input block).
#define INPUT_1D(d, r)                                                                                           \
    do {                                                                                                         \
        __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5), two = _mm256_set1_ps(2);                      \
        r[0] = _mm256_fnmadd_ps(five, d[2], _mm256_fmadd_ps(four, d[0], d[4]));                                  \
        r[1] = _mm256_fnmadd_ps(four, _mm256_add_ps(d[1], d[2]), _mm256_add_ps(d[3], d[4]));                     \
        r[2] = _mm256_fmadd_ps(four, _mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));                      \
        r[3] = _mm256_fmadd_ps(two, _mm256_sub_ps(d[3], d[1]), _mm256_sub_ps(d[4], d[2]));                       \
        r[4] = _mm256_fmadd_ps(two, _mm256_sub_ps(d[1], d[3]), _mm256_sub_ps(d[4], d[2]));                       \
        r[5] = _mm256_fnmadd_ps(five, d[3], _mm256_fmadd_ps(four, d[1], d[5]));                                  \
    } while (0)

/// A^T applied to six vectors: four outputs.
#define OUTPUT_1D(m, o)                                                                                          \
    do {                                                                                                         \
        __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);                                 \
        __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);                                 \
        o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);                                                     \
        o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2), d34, d12);                                                     \
        o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4), s34, s12);                                                     \
        o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8), d34, d12), m[5]);                                \
    } while (0)

/// Where tile t of the whole batch lies: image n, top-left output (oy, ox).
typedef struct { int n, oy, ox; } tile_at;
static tile_at locate(int t, int tilesY, int tilesX) {
    int perImage = tilesY * tilesX, r = t % perImage;
    return (tile_at){t / perImage, (r / tilesX) * 4, (r % tilesX) * 4};
}

/// V[xi][group][cb][slot][8] for the 8 channels of block cb of one tile: its 6x6 input block
/// (rows oy - 1 .., columns ox - 1 .., zero outside the image), transformed.
AVX2 static void input_tile(const float *xb, float *v, size_t xiStride, int height, int width, int oy, int ox) {
    __m256 cols[6][6];  // cols[c] = B^T times column c of the block
    for (int c = 0; c < 6; c++) {
        int ix = ox - 1 + c;
        __m256 d[6];
        for (int r = 0; r < 6; r++) {
            int iy = oy - 1 + r;
            d[r] = (unsigned)iy < (unsigned)height && (unsigned)ix < (unsigned)width
                       ? _mm256_loadu_ps(xb + ((size_t)iy * width + ix) * 8)
                       : _mm256_setzero_ps();
        }
        INPUT_1D(d, cols[c]);
    }
    for (int r = 0; r < 6; r++) {
        __m256 row[6] = {cols[0][r], cols[1][r], cols[2][r], cols[3][r], cols[4][r], cols[5][r]}, out[6];
        INPUT_1D(row, out);
        for (int c = 0; c < 6; c++) _mm256_storeu_ps(v + (size_t)(r * 6 + c) * xiStride, out[c]);
    }
}

/// The 4x4 outputs of one tile for the 8 channels of block kb, from m[xi * xiStride], plus bias,
/// through ReLU when asked, stored where they fall inside the image.
AVX2 static void output_tile(const float *m, size_t xiStride, __m256 bias, int relu, float *yb, int height,
                             int width, int oy, int ox) {
    __m256 cols[6][4];  // cols[c] = A^T times column c of the 6x6 block
    for (int c = 0; c < 6; c++) {
        __m256 d[6];
        for (int r = 0; r < 6; r++) d[r] = _mm256_loadu_ps(m + (size_t)(r * 6 + c) * xiStride);
        OUTPUT_1D(d, cols[c]);
    }
    for (int r = 0; r < 4 && oy + r < height; r++) {
        __m256 row[6] = {cols[0][r], cols[1][r], cols[2][r], cols[3][r], cols[4][r], cols[5][r]}, out[4];
        OUTPUT_1D(row, out);
        float *yr = yb + ((size_t)(oy + r) * width + ox) * 8;
        for (int c = 0; c < 4 && ox + c < width; c++) {
            __m256 o = _mm256_add_ps(out[c], bias);
            if (relu) o = _mm256_max_ps(o, _mm256_setzero_ps());
            _mm256_storeu_ps(yr + c * 8, o);
        }
    }
}

// MARK: - The channel sums

/// For one position xi and 6 tiles: m[kb], m[kb + 1] ([6][8] each, mNext apart) = the sums over
/// input channels c of u[kb][c] * v[c] (u: [K/8][C][8], v: [C/8][6][8]). Per channel, 2 weight
/// loads and 6 broadcasts feed 12 FMAs, as in the direct kernel.
AVX2 static void gemm_tile(const float *v, const float *u, float *m, size_t mNext, int C) {
    __m256 a0[6], a1[6];
    for (int s = 0; s < 6; s++) { a0[s] = _mm256_setzero_ps(); a1[s] = _mm256_setzero_ps(); }
    const float *u1 = u + (size_t)C * 8;
    for (int cb = 0; cb < C / 8; cb++) {
        const float *vb = v + (size_t)cb * 48;
        _Pragma("GCC unroll 2") for (int j = 0; j < 8; j++) {
            __m256 w0 = _mm256_loadu_ps(u + (size_t)(cb * 8 + j) * 8);
            __m256 w1 = _mm256_loadu_ps(u1 + (size_t)(cb * 8 + j) * 8);
            _Pragma("GCC unroll 6") for (int s = 0; s < 6; s++) {
                __m256 x = _mm256_broadcast_ss(vb + s * 8 + j);
                a0[s] = _mm256_fmadd_ps(w0, x, a0[s]);
                a1[s] = _mm256_fmadd_ps(w1, x, a1[s]);
            }
        }
    }
    for (int s = 0; s < 6; s++) {
        _mm256_storeu_ps(m + s * 8, a0[s]);
        _mm256_storeu_ps(m + mNext + s * 8, a1[s]);
    }
}

// MARK: - Forward

long kd_wino_scratch_floats(int inC, int outC, int tileBlock) { return 36L * tileBlock * (inC + outC); }

int kd_wino_tile_block(int inC, int outC) {
    // Measured on one Zen 4 core from 16 to 512 channels: 12 to 36 tiles run alike up to 256
    // channels; at 512, where every block reads all 38 MB of weights, 36 ran 2.1x faster than 6.
    (void)inC, (void)outC;
    return 36;
}

/// Tiles [t0, t0 + count) of the batch, count <= T (the block size V and M were laid out for).
AVX2 static void forward_block(const float *x, const float *U, const float *bias, float *y, float *V, float *M, int t0,
                          int count, int T, int C, int K, int height, int width, int relu) {
    int tilesY = (height + 3) / 4, tilesX = (width + 3) / 4, groups = (count + 5) / 6;
    size_t hw = (size_t)height * width;
    size_t vXi = (size_t)(T / 6) * C * 6;  // V: [36][T/6][C/8][6][8]
    size_t mXi = (size_t)K * T;            // M: [36][K/8][T][8]
    for (int t = 0; t < groups * 6; t++) {
        float *vt = V + (size_t)(t / 6) * C * 6 + (t % 6) * 8;
        if (t >= count) {  // the last group's empty slots: zeros, so the GEMM reads numbers
            for (int cb = 0; cb < C / 8; cb++)
                for (int xi = 0; xi < 36; xi++) memset(vt + xi * vXi + cb * 48, 0, 8 * sizeof(float));
            continue;
        }
        tile_at at = locate(t0 + t, tilesY, tilesX);
        for (int cb = 0; cb < C / 8; cb++)
            input_tile(x + ((size_t)at.n * C + cb * 8) * hw, vt + cb * 48, vXi, height, width, at.oy, at.ox);
    }
    for (int xi = 0; xi < 36; xi++)
        for (int kb = 0; kb < K / 8; kb += 2)
            for (int g = 0; g < groups; g++)
                gemm_tile(V + xi * vXi + (size_t)g * C * 6, U + ((size_t)xi * (K / 8) + kb) * C * 8,
                          M + xi * mXi + ((size_t)kb * T + g * 6) * 8, (size_t)T * 8, C);
    for (int kb = 0; kb < K / 8; kb++) {
        __m256 b = bias ? _mm256_loadu_ps(bias + kb * 8) : _mm256_setzero_ps();
        for (int t = 0; t < count; t++) {
            tile_at at = locate(t0 + t, tilesY, tilesX);
            output_tile(M + ((size_t)kb * T + t) * 8, mXi, b, relu, y + ((size_t)at.n * K + kb * 8) * hw, height,
                        width, at.oy, at.ox);
        }
    }
}

void kd_wino_forward(const float *x, const float *U, const float *bias, float *y, float *scratch, int t0, int t1,
                     int tileBlock, int inC, int outC, int height, int width, int relu) {
    float *V = scratch, *M = scratch + 36L * tileBlock * inC;
    for (int t = t0; t < t1; t += tileBlock) {
        int count = t1 - t < tileBlock ? t1 - t : tileBlock;
        forward_block(x, U, bias, y, V, M, t, count, tileBlock, inC, outC, height, width, relu);
    }
}

// MARK: - Backward weights
//
// With y = A^T [(G g G^T) . (B^T d B)] A, the gradient of kernel g is G^T dU G where
// dU = sum over tiles of (A dy A^T) . (B^T d B): per position xi, a GEMM over tiles of the
// transformed output gradients (K) and inputs (C).

/// A applied to four vectors (a column or a row of a 4x4 output-gradient block): six.
#define GRADIENT_1D(y, z)                                                                                        \
    do {                                                                                                         \
        __m256 s02 = _mm256_add_ps(y[0], y[2]), s13 = _mm256_add_ps(y[1], y[3]);                                 \
        __m256 q0 = _mm256_fmadd_ps(_mm256_set1_ps(4), y[2], y[0]);                                              \
        __m256 q1 = _mm256_fmadd_ps(_mm256_set1_ps(8), y[3], _mm256_add_ps(y[1], y[1]));                         \
        z[0] = y[0];                                                                                             \
        z[1] = _mm256_add_ps(s02, s13);                                                                          \
        z[2] = _mm256_sub_ps(s02, s13);                                                                          \
        z[3] = _mm256_add_ps(q0, q1);                                                                            \
        z[4] = _mm256_sub_ps(q0, q1);                                                                            \
        z[5] = y[3];                                                                                             \
    } while (0)

/// G^T applied to six vectors: three.
#define KERNEL_GRADIENT_1D(u, h)                                                                                 \
    do {                                                                                                         \
        __m256 s12 = _mm256_add_ps(u[1], u[2]), d12 = _mm256_sub_ps(u[2], u[1]);                                 \
        __m256 s34 = _mm256_add_ps(u[3], u[4]), d34 = _mm256_sub_ps(u[3], u[4]);                                 \
        h[0] = _mm256_fmadd_ps(u[0], _mm256_set1_ps(1.0f / 4),                                                   \
                               _mm256_fmadd_ps(s34, _mm256_set1_ps(1.0f / 24), _mm256_mul_ps(s12, _mm256_set1_ps(-1.0f / 6)))); \
        h[1] = _mm256_fmadd_ps(d12, _mm256_set1_ps(1.0f / 6), _mm256_mul_ps(d34, _mm256_set1_ps(1.0f / 12)));  \
        h[2] = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(s34, s12), _mm256_set1_ps(1.0f / 6)), u[5]);            \
    } while (0)

/// Z[xi][kb][slot][8] for one tile and output block: A dy A^T of its 4x4 output gradients
/// (zero outside the image).
AVX2 static void gradient_tile(const float *dyb, float *z, size_t xiStride, int height, int width, int oy, int ox) {
    __m256 cols[4][6];  // cols[c] = A times column c of the 4x4 block
    for (int c = 0; c < 4; c++) {
        __m256 d[4];
        for (int r = 0; r < 4; r++)
            d[r] = oy + r < height && ox + c < width ? _mm256_loadu_ps(dyb + ((size_t)(oy + r) * width + ox + c) * 8)
                                                     : _mm256_setzero_ps();
        GRADIENT_1D(d, cols[c]);
    }
    for (int r = 0; r < 6; r++) {
        __m256 row[4] = {cols[0][r], cols[1][r], cols[2][r], cols[3][r]}, out[6];
        GRADIENT_1D(row, out);
        for (int c = 0; c < 6; c++) _mm256_storeu_ps(z + (size_t)(r * 6 + c) * xiStride, out[c]);
    }
}

/// acc[kb], acc[kb + 1] (8 output channels each, for input channels [c0, c0 + CW), `accNext`
/// apart) += the sums over `count` tiles of z[kb][t] * v[t][c] (z: [K/8][T][8], v: [T][C]).
/// Per tile, 2 gradient loads and CW broadcasts feed 2 x CW FMAs.
#define WEIGHTS_GEMM(CW)                                                                                         \
    AVX2 static void weights_gemm_##CW(const float *z, size_t zNext, const float *v, int C, float *acc,          \
                                       size_t accNext, int count) {                                             \
        __m256 a0[CW], a1[CW];                                                                                   \
        _Pragma("GCC unroll 6") for (int s = 0; s < CW; s++) {                                                   \
            a0[s] = _mm256_loadu_ps(acc + s * 8);                                                                \
            a1[s] = _mm256_loadu_ps(acc + accNext + s * 8);                                                      \
        }                                                                                                        \
        for (int t = 0; t < count; t++) {                                                                        \
            __m256 y0 = _mm256_loadu_ps(z + t * 8), y1 = _mm256_loadu_ps(z + zNext + t * 8);                     \
            const float *vt = v + (size_t)t * C;                                                                 \
            _Pragma("GCC unroll 6") for (int s = 0; s < CW; s++) {                                               \
                __m256 x = _mm256_broadcast_ss(vt + s);                                                          \
                a0[s] = _mm256_fmadd_ps(y0, x, a0[s]);                                                           \
                a1[s] = _mm256_fmadd_ps(y1, x, a1[s]);                                                           \
            }                                                                                                    \
        }                                                                                                        \
        _Pragma("GCC unroll 6") for (int s = 0; s < CW; s++) {                                                   \
            _mm256_storeu_ps(acc + s * 8, a0[s]);                                                                \
            _mm256_storeu_ps(acc + accNext + s * 8, a1[s]);                                                      \
        }                                                                                                        \
    }
WEIGHTS_GEMM(6)
WEIGHTS_GEMM(4)
WEIGHTS_GEMM(2)

/// Tiles [t0, t0 + count) of the batch into acc ([36][K/8][C][8]); V: [36][T][C], Z: [36][K/8][T][8].
AVX2 static void weights_block(const float *x, const float *dy, float *acc, float *V, float *Z, int t0, int count,
                               int T, int C, int K, int height, int width) {
    int tilesY = (height + 3) / 4, tilesX = (width + 3) / 4;
    size_t hw = (size_t)height * width, vXi = (size_t)T * C, zXi = (size_t)K * T, accXi = (size_t)K * C;
    for (int t = 0; t < count; t++) {
        tile_at at = locate(t0 + t, tilesY, tilesX);
        for (int cb = 0; cb < C / 8; cb++)
            input_tile(x + ((size_t)at.n * C + cb * 8) * hw, V + (size_t)t * C + cb * 8, vXi, height, width, at.oy, at.ox);
        for (int kb = 0; kb < K / 8; kb++)
            gradient_tile(dy + ((size_t)at.n * K + kb * 8) * hw, Z + ((size_t)kb * T + t) * 8, zXi, height, width,
                          at.oy, at.ox);
    }
    for (int xi = 0; xi < 36; xi++)
        for (int kb = 0; kb < K / 8; kb += 2) {
            const float *z = Z + xi * zXi + (size_t)kb * T * 8, *v = V + xi * vXi;
            float *a = acc + xi * accXi + (size_t)kb * C * 8;
            int c = 0;
            for (; c + 6 <= C; c += 6) weights_gemm_6(z, (size_t)T * 8, v + c, C, a + c * 8, (size_t)C * 8, count);
            for (; c + 4 <= C; c += 4) weights_gemm_4(z, (size_t)T * 8, v + c, C, a + c * 8, (size_t)C * 8, count);
            for (; c < C; c += 2) weights_gemm_2(z, (size_t)T * 8, v + c, C, a + c * 8, (size_t)C * 8, count);
        }
}

void kd_wino_backward_weights(const float *x, const float *dy, float *acc, float *scratch, int t0, int t1,
                              int tileBlock, int inC, int outC, int height, int width) {
    float *V = scratch, *Z = scratch + 36L * tileBlock * inC;
    for (int t = t0; t < t1; t += tileBlock) {
        int count = t1 - t < tileBlock ? t1 - t : tileBlock;
        weights_block(x, dy, acc, V, Z, t, count, tileBlock, inC, outC, height, width);
    }
}

AVX2 void kd_wino_reduce_weights(const float *parts, int threads, float *grad, int outC, int inC, int k0, int k1) {
    size_t perThread = 36L * outC * inC, xiStride = (size_t)outC * inC;
    for (int kb = k0 / 8; kb < k1 / 8; kb++)
        for (int c = 0; c < inC; c++) {
            const float *p = parts + ((size_t)kb * inC + c) * 8;
            __m256 u[36];
            for (int xi = 0; xi < 36; xi++) {
                u[xi] = _mm256_loadu_ps(p + xi * xiStride);
                for (int t = 1; t < threads; t++) u[xi] = _mm256_add_ps(u[xi], _mm256_loadu_ps(p + t * perThread + xi * xiStride));
            }
            __m256 cols[6][3];  // cols[j] = G^T times column j of dU
            for (int j = 0; j < 6; j++) {
                __m256 col[6] = {u[j], u[6 + j], u[12 + j], u[18 + j], u[24 + j], u[30 + j]};
                KERNEL_GRADIENT_1D(col, cols[j]);
            }
            float taps[9][8];
            for (int i = 0; i < 3; i++) {
                __m256 row[6] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]}, h[3];
                KERNEL_GRADIENT_1D(row, h);
                for (int j = 0; j < 3; j++) _mm256_storeu_ps(taps[i * 3 + j], h[j]);
            }
            for (int l = 0; l < 8; l++)
                for (int tap = 0; tap < 9; tap++) grad[((size_t)(kb * 8 + l) * inC + c) * 9 + tap] += taps[tap][l];
        }
}
