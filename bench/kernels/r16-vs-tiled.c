// Microbenchmark: the tiled ck_gemm (weights unpacked per call from the GGUF blocks) vs ck_gemm_r16 (weights
// repacked once, 16 rows interleaved) on one matmul of random weights, one thread, best of N runs.
// Also checks: ck_gemm_r16 is bit-identical for each token alone vs all T together and for 48-row splits
// (batch invariance), and its distance to llama.cpp's per-row dot (ck_dot_*, the first 4 tokens).
// Usage: r16-vs-tiled KIND ROWS COLS TOKENS ITERS  (KIND as ckernels.h: 0 Q4_0, 1 Q5_0, 2 Q8_0, 3 Q4_K, 5 Q6_K)
// Run all of Gemma 3 270M's layer shapes: bench/kernels/run.
#include "ckernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>
#include <time.h>
#include <immintrin.h>

static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }
static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static float frand(void) { return (rnd() >> 11) * (1.0 / 9007199254740992.0) * 2 - 1; }

static size_t bbytes(int kind) { return kind == CK_Q8_0 ? 34 : kind == CK_Q5_0 ? 22 : kind == CK_Q4_K ? 144 : kind == CK_Q6_K ? 210 : 18; }

int main(int argc, char **argv) {
    int kind = argc > 1 ? atoi(argv[1]) : CK_Q5_0;
    int rows = argc > 2 ? atoi(argv[2]) : 2048;
    int cols = argc > 3 ? atoi(argv[3]) : 640;
    int T = argc > 4 ? atoi(argv[4]) : 64;
    int iters = argc > 5 ? atoi(argv[5]) : 20;
    int kq = kind >= CK_Q4_K; int nb = cols / (kq ? 256 : 32);
    size_t rb = nb * bbytes(kind);
    uint8_t *w = malloc(rb * rows);
    for (size_t i = 0; i < rb * rows; i++) w[i] = rnd();
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++) { uint16_t h = _cvtss_sh(0.001f + 0.01f * (frand() + 1), 0); uint16_t h2 = _cvtss_sh(0.001f * (frand() + 1), 0);
            uint8_t *blk = w + r * rb + b * bbytes(kind);
            if (kind == CK_Q6_K) { memcpy(blk + 208, &h, 2); } else { memcpy(blk, &h, 2); if (kind == CK_Q4_K) memcpy(blk + 2, &h2, 2); } }
    float *x = malloc(sizeof(float) * cols * T);
    for (int i = 0; i < cols * T; i++) x[i] = frand() * (1 + (i % 7));
    size_t arb = nb * (kq ? 292 : 34);
    uint8_t *a = aligned_alloc(64, arb * T + 64);
    for (int t = 0; t < T; t++) { if (kq) ck_quantize_q8_K(x + t * cols, a + t * arb, nb); else ck_quantize_q8_0(x + t * cols, a + t * arb, nb); }
    size_t prb = ck_packed_act_bytes(kq, nb);
    uint8_t *pa = aligned_alloc(64, prb * T);
    for (int t = 0; t < T; t++) ck_pack_act(kq, a + t * arb, nb, pa + t * prb);
    size_t pbytes = ck_r16_bytes(kind, rows, nb);
    uint8_t *pw = aligned_alloc(64, (pbytes + 63) / 64 * 64);
    double t0 = now();
    ck_r16_repack(kind, w, rb, rows, nb, pw);
    double trep = now() - t0;
    float *o1 = calloc(rows * T, 4), *o2 = calloc(rows * T, 4), *o3 = calloc(rows * T, 4);
    // correctness: old vs new vs double reference (via old per-row dot as a stand-in is not exact; use ck_dot)
    ck_gemm(kind, 2, w, rb, rows, pa, prb, T, nb, o1, rows);
    ck_gemm_r16(kind, pw, nb, 0, rows, a, arb, pa, prb, T, o2, rows);
    double maxrel = 0, maxabs = 0, maxref = 0;
    // scalar reference: row dots via the per-row AVX2 kernels (llama.cpp's math)
    for (int t = 0; t < T && t < 4; t++) for (int r = 0; r < rows; r++) {
        float ref = kind == CK_Q4_K ? ck_dot_q4_K_q8_K(w + r * rb, a + t * arb, nb) : kind == CK_Q6_K ? ck_dot_q6_K_q8_K(w + r * rb, a + t * arb, nb)
            : kind == CK_Q5_0 ? ck_dot_q5_0_q8_0(w + r * rb, a + t * arb, nb) : kind == CK_Q8_0 ? ck_dot_q8_0_q8_0(w + r * rb, a + t * arb, nb) : ck_dot_q4_0_q8_0(w + r * rb, a + t * arb, nb);
        double d = fabs((double)ref - o2[t * rows + r]) / (fabs(ref) + 1e-2);
        if (d > maxref) maxref = d;
    }
    for (int i = 0; i < rows * T; i++) {
        double d = fabs((double)o1[i] - o2[i]);
        if (d > maxabs) maxabs = d;
        double rel = d / (fabs(o1[i]) + 1e-3);
        if (rel > maxrel) maxrel = rel;
    }
    // batch invariance: each token alone, and odd row splits
    int bi = 1;
    for (int t = 0; t < T; t++) {
        ck_gemm_r16(kind, pw, nb, 0, rows, a + t * arb, arb, pa + t * prb, prb, 1, o3 + t * rows, rows);
    }
    for (int i = 0; i < rows * T; i++) if (memcmp(&o3[i], &o2[i], 4)) { bi = 0; break; }
    memset(o3, 0, rows * T * 4);
    for (int r0 = 0; r0 < rows; r0 += 48) {
        int n = rows - r0 < 48 ? rows - r0 : 48;
        ck_gemm_r16(kind, pw, nb, r0, n, a, arb, pa, prb, T, o3, rows);
    }
    for (int i = 0; i < rows * T; i++) if (memcmp(&o3[i], &o2[i], 4)) { bi = 0; break; }
    // timing
    double best1 = 1e9, best2 = 1e9;
    for (int it = 0; it < iters; it++) {
        t0 = now(); ck_gemm(kind, 2, w, rb, rows, pa, prb, T, nb, o1, rows); double d1 = now() - t0;
        t0 = now(); ck_gemm_r16(kind, pw, nb, 0, rows, a, arb, pa, prb, T, o2, rows); double d2 = now() - t0;
        if (d1 < best1) best1 = d1;
        if (d2 < best2) best2 = d2;
    }
    double ops = 2.0 * rows * cols * T;
    static const char *names[] = { "Q4_0", "Q5_0", "Q8_0", "Q4_K", "Q5_K", "Q6_K" };
    (void)maxabs; (void)trep;
    printf("| %s | %d x %d | %d | %.3f (%.0f GOPS) | %.3f (%.0f GOPS) | %.2fx | %.1e | %.1e | %s | %+.1f%% |\n",
           names[kind], rows, cols, T, best1 * 1e3, ops / best1 / 1e9, best2 * 1e3, ops / best2 / 1e9, best1 / best2,
           maxrel, maxref, bi ? "yes" : "NO", 100.0 * ((double)pbytes / (double)(rb * rows) - 1));
    return bi ? 0 : 1;
}
