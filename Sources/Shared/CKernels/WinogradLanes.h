// Winograd F(4x4, 3x3) for one channel-block width: included by Winograd.c once with L 8 (AVX2 +
// FMA, nChw8c) and once with L 16 (AVX-512, nChw16c). The functions it defines carry the width
// in their names (forward_8, forward_16, ...); Winograd.c says what they compute.
#if L == 8
#define VF __m256
#define VI __m256i
#define TARGET __attribute__((target("avx2,fma")))
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, a) _mm256_storeu_ps(p, a)
#define VSTREAM(p, a) _mm256_stream_ps(p, a)
#define VSET1(x) _mm256_set1_ps(x)
#define VZERO() _mm256_setzero_ps()
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VFMADD(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VFNMADD(a, b, c) _mm256_fnmadd_ps(a, b, c)
#define VLANES(stride) _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride))
#define VGATHER(base, lanes) _mm256_i32gather_ps(base, lanes, 4)
#elif L == 16
#define VF __m512
#define VI __m512i
#define TARGET __attribute__((target("avx512f")))
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, a) _mm512_storeu_ps(p, a)
#define VSTREAM(p, a) _mm512_stream_ps(p, a)
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO() _mm512_setzero_ps()
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VFMADD(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VFNMADD(a, b, c) _mm512_fnmadd_ps(a, b, c)
#define VLANES(stride)                                                                                           \
    _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(stride))
#define VGATHER(base, lanes) _mm512_i32gather_ps(lanes, base, 4)
#else
#error "WinogradLanes.h: define L as 8 or 16"
#endif

#define FN_CAT2(name, lanes) name##_##lanes
#define FN_CAT(name, lanes) FN_CAT2(name, lanes)
#define FN(name) FN_CAT(name, L)
#define INLINE TARGET static inline __attribute__((always_inline))

// MARK: - Weights

/// G applied to three vectors (a column or a row of a 3x3 kernel): six.
INLINE void FN(weights_1d)(const VF g[3], VF u[6]) {
    VF q = VMUL(g[0], VSET1(1.0f / 4)), s = VADD(g[0], g[2]);
    VF a = VFMADD(g[0], VSET1(1.0f / 24), VMUL(g[2], VSET1(1.0f / 6)));
    VF b = VMUL(g[1], VSET1(1.0f / 12));
    u[0] = q;
    u[1] = VMUL(VADD(s, g[1]), VSET1(-1.0f / 6));
    u[2] = VMUL(VSUB(s, g[1]), VSET1(-1.0f / 6));
    u[3] = VADD(a, b);
    u[4] = VSUB(a, b);
    u[5] = g[2];
}

/// The 36 transformed kernels G g G^T of output channels [L kb, L kb + L) from input channel c
/// (one per lane) into u (xi = 6 r + c), where lane l's 3x3 kernel starts at `g + l * laneStride`
/// and tap t lies at `tapStep * t` (-1 for a kernel rotated 180 degrees, read from its last tap).
INLINE void FN(transform_block)(const float *g, int laneStride, int tapStep, VF u[36]) {
    VI lanes = VLANES(laneStride);
    VF cols[3][6];  // cols[c] = G times column c of the kernels
    for (int c = 0; c < 3; c++) {
        VF k[3];
        for (int r = 0; r < 3; r++) k[r] = VGATHER(g + tapStep * (r * 3 + c), lanes);
        FN(weights_1d)(k, cols[c]);
    }
    for (int r = 0; r < 6; r++) {
        VF row[3] = {cols[0][r], cols[1][r], cols[2][r]};
        FN(weights_1d)(row, u + r * 6);
    }
}

/// Input channels whose blocks of L floats fill one 64-byte cache line.
#define PACK_CHANNELS (16 / L)

/// transform_block for input channels c .. c + PACK_CHANNELS - 1 (the next one's kernels
/// `channelStep` floats on), stored at `out` (64-byte aligned), the channels side by side.
/// The stores bypass the caches, a whole line at a time: a 512 x 512 layer's 38 MB of
/// transformed weights packed three times faster so than through the caches (Zen 4), and one
/// channel's 32 bytes at a time, 36 rows 1 MB apart, left half-written lines in the write
/// combining buffers that went to memory as partial writes (one Intel Xeon core: 86 ms against
/// 3.5 for nChw16c).
TARGET static void FN(pack_line)(const float *g, size_t channelStep, int laneStride, int tapStep, float *out,
                                 size_t xiStride) {
    VF u[PACK_CHANNELS][36];
    for (int j = 0; j < PACK_CHANNELS; j++) FN(transform_block)(g + j * channelStep, laneStride, tapStep, u[j]);
    for (int xi = 0; xi < 36; xi++)
        for (int j = 0; j < PACK_CHANNELS; j++) VSTREAM(out + (size_t)xi * xiStride + j * L, u[j][xi]);
}

static void FN(pack)(const float *w, float *packed, int outC, int inC, int transpose, int chunk0, int chunkK, int k0,
                     int k1) {
    int C = transpose ? outC : inC;  // a multiple of 16, so of PACK_CHANNELS
    size_t xiStride = (size_t)(chunkK / L) * C * L;
    for (int kb = k0 / L; kb < k1 / L; kb++)
        for (int c = 0; c < C; c += PACK_CHANNELS) {
            float *out = packed + ((size_t)(kb - chunk0 / L) * C + c) * L;
            if (!transpose)  // w[k][c]: lanes (output channels) C * 9 apart
                FN(pack_line)(w + ((size_t)kb * L * inC + c) * 9, 9, C * 9, 1, out, xiStride);
            else  // w[c][k] rotated: lanes (input channels of w) 9 apart
                FN(pack_line)(w + ((size_t)c * inC + kb * L) * 9 + 8, (size_t)inC * 9, 9, -1, out, xiStride);
        }
}

// MARK: - Transforms

/// B^T applied to six vectors (a column or a row of a 6x6 input block).
INLINE void FN(input_1d)(const VF d[6], VF r[6]) {
    VF four = VSET1(4), five = VSET1(5), two = VSET1(2);
    r[0] = VFNMADD(five, d[2], VFMADD(four, d[0], d[4]));
    r[1] = VFNMADD(four, VADD(d[1], d[2]), VADD(d[3], d[4]));
    r[2] = VFMADD(four, VSUB(d[1], d[2]), VSUB(d[4], d[3]));
    r[3] = VFMADD(two, VSUB(d[3], d[1]), VSUB(d[4], d[2]));
    r[4] = VFMADD(two, VSUB(d[1], d[3]), VSUB(d[4], d[2]));
    r[5] = VFNMADD(five, d[3], VFMADD(four, d[1], d[5]));
}

/// A^T applied to six vectors: four outputs.
INLINE void FN(output_1d)(const VF m[6], VF o[4]) {
    VF s12 = VADD(m[1], m[2]), d12 = VSUB(m[1], m[2]);
    VF s34 = VADD(m[3], m[4]), d34 = VSUB(m[3], m[4]);
    o[0] = VADD(VADD(m[0], s12), s34);
    o[1] = VFMADD(VSET1(2), d34, d12);
    o[2] = VFMADD(VSET1(4), s34, s12);
    o[3] = VADD(VFMADD(VSET1(8), d34, d12), m[5]);
}

/// Prefetches the part inside the image of the size x size block from row r0, column c0 of one
/// channel block's plane p: an input block before its transform (6x6 from oy - 1, ox - 1), an
/// output-gradient block (4x4 from oy, ox), or a tile's outputs before they are stored.
TARGET static inline void FN(prefetch_block)(const float *p, int height, int width, int r0, int c0, int size) {
    int first = c0 < 0 ? 0 : c0, last = c0 + size - 1 < width ? c0 + size - 1 : width - 1;
    for (int r = r0 < 0 ? 0 : r0; r < r0 + size && r < height; r++)
        prefetch_span(p + ((size_t)r * width + first) * L, (last - first + 1) * L * (int)sizeof(float));
}

/// prefetch_block for tile `at` in channel blocks [cb0, cb1) of image at.n in x (`channels`
/// channels of planes of hw pixels): the block from row at.oy + offset, column at.ox + offset.
TARGET static inline void FN(prefetch_tile)(const float *x, int channels, int cb0, int cb1, size_t hw, int height,
                                            int width, tile_at at, int offset, int size) {
    for (int cb = cb0; cb < cb1; cb++)
        FN(prefetch_block)(x + ((size_t)at.n * channels + cb * L) * hw, height, width, at.oy + offset, at.ox + offset, size);
}

/// V[xi][group][cb][slot][L] for the L channels of block cb of one tile: its 6x6 input block
/// (rows oy - 1 .., columns ox - 1 .., zero outside the image), transformed.
TARGET static void FN(input_tile)(const float *xb, float *v, size_t xiStride, int height, int width, int oy, int ox) {
    VF cols[6][6];  // cols[c] = B^T times column c of the block
    if (oy >= 1 && ox >= 1 && oy + 5 <= height && ox + 5 <= width) {  // inside the image: no checks
        const float *p = xb + ((size_t)(oy - 1) * width + ox - 1) * L;
        for (int c = 0; c < 6; c++) {
            VF d[6];
            for (int r = 0; r < 6; r++) d[r] = VLOAD(p + ((size_t)r * width + c) * L);
            FN(input_1d)(d, cols[c]);
        }
    } else {
        for (int c = 0; c < 6; c++) {
            int ix = ox - 1 + c;
            VF d[6];
            for (int r = 0; r < 6; r++) {
                int iy = oy - 1 + r;
                d[r] = (unsigned)iy < (unsigned)height && (unsigned)ix < (unsigned)width
                           ? VLOAD(xb + ((size_t)iy * width + ix) * L)
                           : VZERO();
            }
            FN(input_1d)(d, cols[c]);
        }
    }
    for (int r = 0; r < 6; r++) {
        VF row[6] = {cols[0][r], cols[1][r], cols[2][r], cols[3][r], cols[4][r], cols[5][r]}, out[6];
        FN(input_1d)(row, out);
        for (int c = 0; c < 6; c++) VSTORE(v + (size_t)(r * 6 + c) * xiStride, out[c]);
    }
}

/// The 4x4 outputs of one tile for the L channels of block kb, from m[xi * xiStride], plus bias,
/// through ReLU when asked, stored where they fall inside the image.
TARGET static void FN(output_tile)(const float *m, size_t xiStride, VF bias, int relu, float *yb, int height,
                                   int width, int oy, int ox) {
    VF cols[6][4];  // cols[c] = A^T times column c of the 6x6 block
    for (int c = 0; c < 6; c++) {
        VF d[6];
        for (int r = 0; r < 6; r++) d[r] = VLOAD(m + (size_t)(r * 6 + c) * xiStride);
        FN(output_1d)(d, cols[c]);
    }
    for (int r = 0; r < 4 && oy + r < height; r++) {
        VF row[6] = {cols[0][r], cols[1][r], cols[2][r], cols[3][r], cols[4][r], cols[5][r]}, out[4];
        FN(output_1d)(row, out);
        float *yr = yb + ((size_t)(oy + r) * width + ox) * L;
        for (int c = 0; c < 4 && ox + c < width; c++) {
            VF o = VADD(out[c], bias);
            if (relu) o = VMAX(o, VZERO());
            VSTORE(yr + c * L, o);
        }
    }
}

// MARK: - The channel sums

/// For one position xi: m[b] ([6 NG][L] each, b mNext apart) = the sums over input channels c of
/// u[b][c] * v[c] for NB output blocks (u: [K/L][C][L], blocks uNext apart) and NG groups of 6
/// tiles (v: [C/L][6][L] per group, groups vNext apart). Per channel, NB weight loads and 6 NG
/// broadcasts feed 6 NB NG FMAs, as in the direct kernel; NB NG is 2 (12 accumulators), or 4
/// (24 of AVX-512's 32 registers).
INLINE void FN(gemm_tile)(const float *v, size_t vNext, const float *u, size_t uNext, float *m, size_t mNext, int C,
                          const int NB, const int NG) {
    VF a[4][12];
    _Pragma("GCC unroll 4") for (int b = 0; b < NB; b++)
        _Pragma("GCC unroll 12") for (int s = 0; s < 6 * NG; s++) a[b][s] = VZERO();
    for (int cb = 0; cb < C / L; cb++) {
        _Pragma("GCC unroll 2") for (int j = 0; j < L; j++) {
            VF w[4];
            _Pragma("GCC unroll 4") for (int b = 0; b < NB; b++) w[b] = VLOAD(u + b * uNext + (size_t)(cb * L + j) * L);
            _Pragma("GCC unroll 12") for (int s = 0; s < 6 * NG; s++) {
                VF x = VBCAST(v + (s / 6) * vNext + (size_t)cb * 6 * L + (s % 6) * L + j);
                _Pragma("GCC unroll 4") for (int b = 0; b < NB; b++) a[b][s] = VFMADD(w[b], x, a[b][s]);
            }
        }
    }
    _Pragma("GCC unroll 4") for (int b = 0; b < NB; b++)
        _Pragma("GCC unroll 12") for (int s = 0; s < 6 * NG; s++) VSTORE(m + b * mNext + s * L, a[b][s]);
}

TARGET static void FN(gemm_4x1)(const float *v, size_t vNext, const float *u, size_t uNext, float *m, size_t mNext, int C) {
    FN(gemm_tile)(v, vNext, u, uNext, m, mNext, C, 4, 1);
}
TARGET static void FN(gemm_2x1)(const float *v, size_t vNext, const float *u, size_t uNext, float *m, size_t mNext, int C) {
    FN(gemm_tile)(v, vNext, u, uNext, m, mNext, C, 2, 1);
}
TARGET static void FN(gemm_1x2)(const float *v, size_t vNext, const float *u, size_t uNext, float *m, size_t mNext, int C) {
    FN(gemm_tile)(v, vNext, u, uNext, m, mNext, C, 1, 2);
}
TARGET static void FN(gemm_1x1)(const float *v, size_t vNext, const float *u, size_t uNext, float *m, size_t mNext, int C) {
    FN(gemm_tile)(v, vNext, u, uNext, m, mNext, C, 1, 1);
}

// MARK: - Forward

/// Output blocks [kb0, kb1) of y (K channels) from tiles [t0, t0 + count) of the batch,
/// count <= T (the block size V and M were laid out for); U packed for those channels.
TARGET static void FN(forward_block)(const float *x, const float *U, const float *bias, float *y, float *V, float *M,
                                     int t0, int count, int kb0, int kb1, int T, int C, int K, int height, int width,
                                     int relu) {
    int tilesY = (height + 3) / 4, tilesX = (width + 3) / 4, groups = (count + 5) / 6, KB = kb1 - kb0;
    size_t hw = (size_t)height * width;
    size_t vXi = (size_t)(T / 6) * C * 6;  // V: [36][T/6][C/L][6][L]
    size_t mXi = (size_t)KB * L * T;       // M: [36][KB][T][L]
    size_t vGroup = (size_t)C * 6, uBlock = (size_t)C * L, mBlock = (size_t)T * L;
    for (int t = 0; t < groups * 6; t++) {
        float *vt = V + (size_t)(t / 6) * vGroup + (t % 6) * L;
        if (t >= count) {  // the last group's empty slots: zeros, so the GEMM reads numbers
            for (int cb = 0; cb < C / L; cb++)
                for (int xi = 0; xi < 36; xi++) memset(vt + xi * vXi + cb * 6 * L, 0, L * sizeof(float));
            continue;
        }
        tile_at at = locate(t0 + t, tilesY, tilesX);
        if (t + PREFETCH_TILES < count)
            FN(prefetch_tile)(x, C, 0, C / L, hw, height, width, locate(t0 + t + PREFETCH_TILES, tilesY, tilesX), -1, 6);
        for (int cb = 0; cb < C / L; cb++)
            FN(input_tile)(x + ((size_t)at.n * C + cb * L) * hw, vt + cb * 6 * L, vXi, height, width, at.oy, at.ox);
    }
    for (int xi = 0; xi < 36; xi++) {
        const float *Vx = V + xi * vXi, *Ux = U + (size_t)xi * KB * uBlock;
        float *Mx = M + xi * mXi;
        int kb = 0;
        if (L == 16)  // four output blocks by 6 tiles (24 of 32 registers)
            for (; kb + 4 <= KB; kb += 4)
                for (int g = 0; g < groups; g++)
                    FN(gemm_4x1)(Vx + g * vGroup, vGroup, Ux + kb * uBlock, uBlock, Mx + kb * mBlock + g * 6 * L, mBlock, C);
        for (; kb + 2 <= KB; kb += 2)  // two output blocks by 6 tiles
            for (int g = 0; g < groups; g++)
                FN(gemm_2x1)(Vx + g * vGroup, vGroup, Ux + kb * uBlock, uBlock, Mx + kb * mBlock + g * 6 * L, mBlock, C);
        if (kb < KB) {  // one output block by 12 tiles
            int g = 0;
            for (; g + 2 <= groups; g += 2)
                FN(gemm_1x2)(Vx + g * vGroup, vGroup, Ux + kb * uBlock, uBlock, Mx + kb * mBlock + g * 6 * L, mBlock, C);
            if (g < groups)
                FN(gemm_1x1)(Vx + g * vGroup, vGroup, Ux + kb * uBlock, uBlock, Mx + kb * mBlock + g * 6 * L, mBlock, C);
        }
    }
    for (int kb = 0; kb < KB; kb++) {
        VF b = bias ? VLOAD(bias + (kb0 + kb) * L) : VZERO();
        float *yk = y + (size_t)(kb0 + kb) * L * hw;
        for (int t = 0; t < count; t++) {
            tile_at at = locate(t0 + t, tilesY, tilesX);
            if (t + PREFETCH_TILES < count) {
                tile_at nx = locate(t0 + t + PREFETCH_TILES, tilesY, tilesX);
                FN(prefetch_block)(yk + (size_t)nx.n * K * hw, height, width, nx.oy, nx.ox, 4);
            }
            FN(output_tile)(M + ((size_t)kb * T + t) * L, mXi, b, relu, yk + (size_t)at.n * K * hw, height, width,
                            at.oy, at.ox);
        }
    }
}

static void FN(forward)(const float *x, const float *U, const float *bias, float *y, float *scratch, int t0, int t1,
                        int tileBlock, int inC, int outC, int k0, int k1, int height, int width, int relu) {
    float *V = scratch, *M = scratch + 36L * tileBlock * inC;
    for (int t = t0; t < t1; t += tileBlock) {
        int count = t1 - t < tileBlock ? t1 - t : tileBlock;
        FN(forward_block)(x, U, bias, y, V, M, t, count, k0 / L, k1 / L, tileBlock, inC, outC, height, width, relu);
    }
}

// MARK: - Backward weights

/// A applied to four vectors (a column or a row of a 4x4 output-gradient block): six.
INLINE void FN(gradient_1d)(const VF y[4], VF z[6]) {
    VF s02 = VADD(y[0], y[2]), s13 = VADD(y[1], y[3]);
    VF q0 = VFMADD(VSET1(4), y[2], y[0]);
    VF q1 = VFMADD(VSET1(8), y[3], VADD(y[1], y[1]));
    z[0] = y[0];
    z[1] = VADD(s02, s13);
    z[2] = VSUB(s02, s13);
    z[3] = VADD(q0, q1);
    z[4] = VSUB(q0, q1);
    z[5] = y[3];
}

/// G^T applied to six vectors: three.
INLINE void FN(kernel_gradient_1d)(const VF u[6], VF h[3]) {
    VF s12 = VADD(u[1], u[2]), d12 = VSUB(u[2], u[1]);
    VF s34 = VADD(u[3], u[4]), d34 = VSUB(u[3], u[4]);
    h[0] = VFMADD(u[0], VSET1(1.0f / 4), VFMADD(s34, VSET1(1.0f / 24), VMUL(s12, VSET1(-1.0f / 6))));
    h[1] = VFMADD(d12, VSET1(1.0f / 6), VMUL(d34, VSET1(1.0f / 12)));
    h[2] = VADD(VMUL(VSUB(s34, s12), VSET1(1.0f / 6)), u[5]);
}

/// Z[xi][kb][slot][L] for one tile and output block: A dy A^T of its 4x4 output gradients
/// (zero outside the image).
TARGET static void FN(gradient_tile)(const float *dyb, float *z, size_t xiStride, int height, int width, int oy, int ox) {
    VF cols[4][6];  // cols[c] = A times column c of the 4x4 block
    for (int c = 0; c < 4; c++) {
        VF d[4];
        for (int r = 0; r < 4; r++)
            d[r] = oy + r < height && ox + c < width ? VLOAD(dyb + ((size_t)(oy + r) * width + ox + c) * L) : VZERO();
        FN(gradient_1d)(d, cols[c]);
    }
    for (int r = 0; r < 6; r++) {
        VF row[4] = {cols[0][r], cols[1][r], cols[2][r], cols[3][r]}, out[6];
        FN(gradient_1d)(row, out);
        for (int c = 0; c < 6; c++) VSTORE(z + (size_t)(r * 6 + c) * xiStride, out[c]);
    }
}

/// acc[b] (L output channels each, for input channels [c0, c0 + CW), accNext apart, NB blocks)
/// += the sums over `count` tiles of z[b][t] * v[t][c] (z: [K/L][T][L], blocks zNext apart;
/// v: [T][C]). Per tile, NB gradient loads and CW broadcasts feed NB CW FMAs.
INLINE void FN(weights_gemm)(const float *z, size_t zNext, const float *v, int C, float *acc, size_t accNext, int count,
                             const int NB, const int CW) {
    VF a[2][12];
    _Pragma("GCC unroll 2") for (int b = 0; b < NB; b++)
        _Pragma("GCC unroll 12") for (int s = 0; s < CW; s++) a[b][s] = VLOAD(acc + b * accNext + s * L);
    for (int t = 0; t < count; t++) {
        VF y[2];
        _Pragma("GCC unroll 2") for (int b = 0; b < NB; b++) y[b] = VLOAD(z + b * zNext + t * L);
        const float *vt = v + (size_t)t * C;
        _Pragma("GCC unroll 12") for (int s = 0; s < CW; s++) {
            VF x = VBCAST(vt + s);
            _Pragma("GCC unroll 2") for (int b = 0; b < NB; b++) a[b][s] = VFMADD(y[b], x, a[b][s]);
        }
    }
    _Pragma("GCC unroll 2") for (int b = 0; b < NB; b++)
        _Pragma("GCC unroll 12") for (int s = 0; s < CW; s++) VSTORE(acc + b * accNext + s * L, a[b][s]);
}

#define WEIGHTS_GEMM(NB, CW)                                                                                     \
    TARGET static void FN(weights_gemm_##NB##x##CW)(const float *z, size_t zNext, const float *v, int C, float *acc, \
                                                    size_t accNext, int count) {                                 \
        FN(weights_gemm)(z, zNext, v, C, acc, accNext, count, NB, CW);                                           \
    }
WEIGHTS_GEMM(2, 6)
WEIGHTS_GEMM(2, 4)
WEIGHTS_GEMM(2, 2)
WEIGHTS_GEMM(1, 12)
WEIGHTS_GEMM(1, 4)
#undef WEIGHTS_GEMM

/// Tiles [t0, t0 + count) of the batch into acc ([36][kb1 - kb0][C][L]) for output blocks
/// [kb0, kb1); V: [36][T][C], Z: [36][kb1 - kb0][T][L].
TARGET static void FN(weights_block)(const float *x, const float *dy, float *acc, float *V, float *Z, int t0, int count,
                                     int kb0, int kb1, int T, int C, int K, int height, int width) {
    int tilesY = (height + 3) / 4, tilesX = (width + 3) / 4, KB = kb1 - kb0;
    size_t hw = (size_t)height * width, vXi = (size_t)T * C, zXi = (size_t)KB * T * L, accXi = (size_t)KB * C * L;
    for (int t = 0; t < count; t++) {
        tile_at at = locate(t0 + t, tilesY, tilesX);
        if (t + PREFETCH_TILES < count) {
            tile_at next = locate(t0 + t + PREFETCH_TILES, tilesY, tilesX);
            FN(prefetch_tile)(x, C, 0, C / L, hw, height, width, next, -1, 6);
            FN(prefetch_tile)(dy, K, kb0, kb1, hw, height, width, next, 0, 4);
        }
        for (int cb = 0; cb < C / L; cb++)
            FN(input_tile)(x + ((size_t)at.n * C + cb * L) * hw, V + (size_t)t * C + cb * L, vXi, height, width, at.oy, at.ox);
        for (int kb = kb0; kb < kb1; kb++)
            FN(gradient_tile)(dy + ((size_t)at.n * K + kb * L) * hw, Z + ((size_t)(kb - kb0) * T + t) * L, zXi, height,
                              width, at.oy, at.ox);
    }
    size_t zNext = (size_t)T * L, accNext = (size_t)C * L;
    for (int xi = 0; xi < 36; xi++) {
        const float *v = V + xi * vXi;
        int kb = kb0;
        for (; kb + 2 <= kb1; kb += 2) {  // two output blocks by 6, 4 or 2 input channels
            const float *z = Z + xi * zXi + (size_t)(kb - kb0) * T * L;
            float *a = acc + xi * accXi + (size_t)(kb - kb0) * C * L;
            int c = 0;
            for (; c + 6 <= C; c += 6) FN(weights_gemm_2x6)(z, zNext, v + c, C, a + c * L, accNext, count);
            for (; c + 4 <= C; c += 4) FN(weights_gemm_2x4)(z, zNext, v + c, C, a + c * L, accNext, count);
            for (; c < C; c += 2) FN(weights_gemm_2x2)(z, zNext, v + c, C, a + c * L, accNext, count);
        }
        if (kb < kb1) {  // one output block by 12 or 4 input channels
            const float *z = Z + xi * zXi + (size_t)(kb - kb0) * T * L;
            float *a = acc + xi * accXi + (size_t)(kb - kb0) * C * L;
            int c = 0;
            for (; c + 12 <= C; c += 12) FN(weights_gemm_1x12)(z, zNext, v + c, C, a + c * L, accNext, count);
            for (; c < C; c += 4) FN(weights_gemm_1x4)(z, zNext, v + c, C, a + c * L, accNext, count);
        }
    }
}

static void FN(backward_weights)(const float *x, const float *dy, float *acc, float *scratch, int t0, int t1, int k0,
                                 int k1, int tileBlock, int inC, int outC, int height, int width) {
    float *V = scratch, *Z = scratch + 36L * tileBlock * inC;
    for (int t = t0; t < t1; t += tileBlock) {
        int count = t1 - t < tileBlock ? t1 - t : tileBlock;
        FN(weights_block)(x, dy, acc, V, Z, t, count, k0 / L, k1 / L, tileBlock, inC, outC, height, width);
    }
}

TARGET static void FN(reduce_weights)(const float *parts, int threads, float *grad, int inC, int chunk0, int chunkK,
                                      int k0, int k1) {
    size_t perThread = 36L * chunkK * inC, xiStride = (size_t)chunkK * inC;
    for (int kb = k0 / L; kb < k1 / L; kb++)
        for (int c = 0; c < inC; c++) {
            const float *p = parts + ((size_t)(kb - chunk0 / L) * inC + c) * L;
            VF u[36];
            for (int xi = 0; xi < 36; xi++) {
                u[xi] = VLOAD(p + xi * xiStride);
                for (int t = 1; t < threads; t++) u[xi] = VADD(u[xi], VLOAD(p + t * perThread + xi * xiStride));
            }
            VF cols[6][3];  // cols[j] = G^T times column j of dU
            for (int j = 0; j < 6; j++) {
                VF col[6] = {u[j], u[6 + j], u[12 + j], u[18 + j], u[24 + j], u[30 + j]};
                FN(kernel_gradient_1d)(col, cols[j]);
            }
            float taps[9][L];
            for (int i = 0; i < 3; i++) {
                VF row[6] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]}, h[3];
                FN(kernel_gradient_1d)(row, h);
                for (int j = 0; j < 3; j++) VSTORE(taps[i * 3 + j], h[j]);
            }
            for (int l = 0; l < L; l++)
                for (int tap = 0; tap < 9; tap++) grad[((size_t)(kb * L + l) * inC + c) * 9 + tap] += taps[tap][l];
        }
}

/// biasAcc[outC] += the sums of dy ([N][outC/L][H][W][L]) over images [n0, n1) and pixels.
TARGET static void FN(bias_sums)(const float *dy, float *biasAcc, int n0, int n1, int outC, int height, int width) {
    size_t hw = (size_t)height * width;
    for (int n = n0; n < n1; n++)
        for (int kb = 0; kb < outC / L; kb++) {
            const float *d = dy + ((size_t)n * outC + kb * L) * hw;
            VF s0 = VZERO(), s1 = VZERO();
            size_t p = 0;
            for (; p + 2 <= hw; p += 2) {
                s0 = VADD(s0, VLOAD(d + p * L));
                s1 = VADD(s1, VLOAD(d + p * L + L));
            }
            if (p < hw) s0 = VADD(s0, VLOAD(d + p * L));
            VSTORE(biasAcc + kb * L, VADD(VLOAD(biasAcc + kb * L), VADD(s0, s1)));
        }
}

#undef VF
#undef VI
#undef TARGET
#undef VLOAD
#undef VSTORE
#undef VSTREAM
#undef VSET1
#undef VZERO
#undef VBCAST
#undef VADD
#undef VSUB
#undef VMUL
#undef VMAX
#undef VFMADD
#undef VFNMADD
#undef VLANES
#undef VGATHER
#undef INLINE
#undef FN
#undef FN_CAT
#undef FN_CAT2
