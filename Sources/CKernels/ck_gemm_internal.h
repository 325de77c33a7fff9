// Shared by the tiled-matmul sources (ck_gemm.c, ck_gemm_pack.c, ck_gemv.c); not part of the public header.
//
// NOTE: design. Weights are unpacked once per tile of rows into an L1 scratch in a canonical form
// (signed int8 weights in activation element order, a per-lane int32 correction, per-lane scales), and
// the activation rows are packed once per call (`ck_pack_act`) as unsigned bytes a' = a + 128. Every
// (row, token) pair then costs one `vpdpbusd` per 64 elements (AVX-512 VNNI) or maddubs + madd (AVX2):
//   Σ a'·w = Σ a·w + 128·Σ w, so initialising the accumulator with init = -128·Σw (per 4-element lane)
// gives the exact integer dot Σ a·w of llama.cpp, per 32-element block (Q4_0/Q5_0/Q8_0) or per
// 4-element lane (K-quants, which then apply their 6/8-bit sub-block scales with vpmaddwd / vpdpwssd:
// each lane is |Σ4 a·w| < 2^15, so it is its own low int16 half). Block scales are applied in f32.
#ifndef CK_GEMM_INTERNAL_H
#define CK_GEMM_INTERNAL_H
#include "ckernels.h"
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define CK_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define CK_INLINE static inline __attribute__((always_inline))

static inline size_t ck_pad64(size_t x) { return (x + 63) & ~(size_t)63; }

// Packed activations (ck_pack_act). Q8_0 row of nb blocks: a'[32 nb] u8, da[nb] f32, sa[nb] i32 (Σ a,
// for the one-token loop). Q8_K row of ns super-blocks: a'[256 ns] u8, da[ns] f32, V[16 ns] f32 with
// V[16s+i] = da_s·bsums_s[i]. Each section starts 64-byte aligned.

// Per-row weight scratch.
// 32-element types, nb blocks: w[32 nb] i8, init[8 nb] i32, dw[8 nb] f32 (d broadcast to the block's 8 lanes).
// K-quants, ns super-blocks: w[256 ns] i8, init[64 ns] i32, sc[64 ns] i32 (int16 scale in the low half),
//   d[ns] f32, U[16 ns] f32 (U[16s+i] = dmin·m_{i/2} for Q4_K/Q5_K; not written for Q6_K, which has no mins).
typedef struct { int8_t *w; int32_t *init; float *dw; } ck_row32;
typedef struct { int8_t *w; int32_t *init; int32_t *sc; float *d; float *u; } ck_rowK;

static inline size_t ck_scratch32_bytes(int nb) { return ck_pad64((size_t)nb * 32) * 3; }
static inline size_t ck_scratchK_bytes(int ns) {
    return ck_pad64((size_t)ns * 256) * 3 + ck_pad64((size_t)ns * 4) + ck_pad64((size_t)ns * 64);
}

static inline ck_row32 ck_row32_at(uint8_t *base, int nb) {
    const size_t p = ck_pad64((size_t)nb * 32);
    ck_row32 r = { (int8_t *)base, (int32_t *)(base + p), (float *)(base + 2 * p) };
    return r;
}

static inline ck_rowK ck_rowK_at(uint8_t *base, int ns) {
    const size_t p = ck_pad64((size_t)ns * 256);
    ck_rowK r = { (int8_t *)base, (int32_t *)(base + p), (int32_t *)(base + 2 * p), (float *)(base + 3 * p),
                  (float *)(base + 3 * p + ck_pad64((size_t)ns * 4)) };
    return r;
}

CK_AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Unpacks nb blocks (Q4_0 / Q5_0 / Q8_0) of one weight row into its scratch (AVX2).
void ck_unpack32(int kind, const uint8_t *row, int nb, ck_row32 r);
/// Unpacks ns super-blocks (Q4_K / Q5_K / Q6_K) of one weight row into its scratch (AVX2).
void ck_unpackK(int kind, const uint8_t *row, int ns, ck_rowK r);
/// One token, Q5_0 (q8 = 0) or Q8_0 (q8 = 1), AVX-512 VNNI: out[r] = row r . the packed activation row.
void ck_gemv32_vnni(int q8, const uint8_t *w, size_t rowBytes, int nrows, const uint8_t *act, int nb, float *out);

#endif
#endif
