// FMA peak of this machine: single-precision GFLOP/s of independent fused multiply-adds on
// `threads` threads, for 256-bit (AVX2/FMA3) and, where the CPU has it, 512-bit (AVX-512)
// registers. `make bench` divides the engine's arithmetic rate by it.
// Build: gcc -O2 -pthread fma_peak.c -o fma_peak; run: fma_peak [threads] [seconds]
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// 12 independent accumulator chains hide the FMA latency (4-5 cycles, 2 ports).
#define CHAINS 12
#define ROUNDS (1 << 20)

// The chains are written out so they stay in registers at any optimisation level.
#define FMA_LOOP(T, SET1, FMA)                                                                     \
    T a = SET1(0.999999f), b = SET1(1e-7f);                                                        \
    T c0 = SET1(0), c1 = SET1(1), c2 = SET1(2), c3 = SET1(3), c4 = SET1(4), c5 = SET1(5);          \
    T c6 = SET1(6), c7 = SET1(7), c8 = SET1(8), c9 = SET1(9), c10 = SET1(10), c11 = SET1(11);      \
    for (long r = 0; r < rounds; r++) {                                                            \
        c0 = FMA(c0, a, b); c1 = FMA(c1, a, b); c2 = FMA(c2, a, b); c3 = FMA(c3, a, b);            \
        c4 = FMA(c4, a, b); c5 = FMA(c5, a, b); c6 = FMA(c6, a, b); c7 = FMA(c7, a, b);            \
        c8 = FMA(c8, a, b); c9 = FMA(c9, a, b); c10 = FMA(c10, a, b); c11 = FMA(c11, a, b);        \
    }                                                                                              \
    T s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;

__attribute__((target("avx2,fma"))) static float fma256(long rounds) {
    FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps)
    return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) static float fma512(long rounds) {
    FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps)
    return _mm512_reduce_add_ps(s);
}

typedef struct { int wide; double seconds; double flops; float sink; } job;

static void *worker(void *p) {
    job *j = p;
    double start = now(), flops = 0;
    while (now() - start < j->seconds) {
        j->sink += j->wide ? fma512(ROUNDS / 16) : fma256(ROUNDS / 16);
        flops += (double)(ROUNDS / 16) * CHAINS * (j->wide ? 16 : 8) * 2;
    }
    j->flops = flops / (now() - start);
    return NULL;
}

static double peak(int threads, int wide, double seconds) {
    pthread_t t[64];
    job jobs[64] = {0};
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){wide, seconds, 0, 0};
        pthread_create(&t[i], NULL, worker, &jobs[i]);
    }
    double total = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); total += jobs[i].flops; }
    return total / 1e9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || threads > 64) { fprintf(stderr, "fma_peak: threads must be 1..64\n"); return 2; }
    __builtin_cpu_init();
    printf("{\"threads\": %d, \"avx2_fma_gflops\": %.1f", threads, peak(threads, 0, seconds));
    if (__builtin_cpu_supports("avx512f")) printf(", \"avx512_fma_gflops\": %.1f", peak(threads, 1, seconds));
    printf("}\n");
    return 0;
}
