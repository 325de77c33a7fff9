// Matmul over row-interleaved ("R16") Q4_K / Q6_K weights with Q8_K activations, AVX-512 VNNI: 16 rows per
// 512-bit lane set x up to 8 tokens per tile (layout in ck_repack.h, batch-invariance NOTE in ck_gemm_r16.c).
//
// Per output (row r, token t) and super-block, in integers (exact, so any summation order gives the same
// value): Q4_K  S = Σ_i sc_i·Σ_{run i} q·a   and  M = Σ_i m_i·(bsums_2i + bsums_2i+1),
//            then acc = fma(float(S), d·da, acc); acc = fnma(float(M), dmin·da, acc);
//            Q6_K  S = Σ_s sc_s·(Σ_{sub s} u·a - 32·bsums_s)  (u = q + 32), then acc = fma(float(S), d·da, acc).
// The per-lane sequence of f32 operations is the same for every tile shape, so a row's result does not
// depend on the token count.
#include "ck_gemm_internal.h"
#include "ck_repack.h"
#include <string.h>

#if defined(__x86_64__)

typedef struct {
    const uint8_t *a[8];   // Q8_K activation rows (292-byte super-blocks: f32 d, 256 int8, 16 int16 bsums)
} r16ktok;

CK_VNNI CK_INLINE __m512i bcast4k(const uint8_t *p) {
    int32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32(x);
}

CK_VNNI CK_INLINE __m512i sc16(const uint8_t *p, const int sgn) {
    const __m128i v = _mm_loadu_si128((const __m128i *)p);
    return sgn ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

/// Bits 4-5 of the quad-k weights from the Q6_K high-bit vector h (bits 2k..2k+1 of each byte).
CK_VNNI CK_INLINE __m512i high2(const __m512i h, const int k) {
    const __m512i m30 = _mm512_set1_epi8(0x30);
    switch (k) {
    case 0: return _mm512_and_si512(_mm512_slli_epi16(h, 4), m30);
    case 1: return _mm512_and_si512(_mm512_slli_epi16(h, 2), m30);
    case 2: return _mm512_and_si512(h, m30);
    default: return _mm512_and_si512(_mm512_srli_epi16(h, 2), m30);
    }
}

CK_VNNI CK_INLINE void mk_r16k(const int kind, const int TT, const uint8_t *w, int nb, const r16ktok *tk,
                               float *out, size_t os, int nvalid) {
    const size_t gb = kind == CK_Q4_K ? CK_R16_Q4_K_BYTES : CK_R16_Q6_K_BYTES;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[8];
    for (int t = 0; t < TT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *g = w + (size_t)b * gb;
        const uint8_t *sb[8];
        for (int t = 0; t < TT; t++) sb[t] = tk->a[t] + 292 * (size_t)b;
        __m512i is[8], sub[8];
        for (int t = 0; t < TT; t++) is[t] = _mm512_setzero_si512();
        if (kind == CK_Q4_K) {
            for (int i = 0; i < 8; i++) {
                for (int t = 0; t < TT; t++) sub[t] = _mm512_setzero_si512();
                for (int p = 0; p < 4; p++) {
                    const __m512i x = _mm512_loadu_si512(g + 256 * i + 64 * p);
                    const __m512i lo = _mm512_and_si512(x, m4);
                    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
                    for (int t = 0; t < TT; t++) {
                        sub[t] = _mm512_dpbusd_epi32(sub[t], lo, bcast4k(sb[t] + 4 + 32 * i + 8 * p));
                        sub[t] = _mm512_dpbusd_epi32(sub[t], hi, bcast4k(sb[t] + 4 + 32 * i + 8 * p + 4));
                    }
                }
                const __m512i sc = sc16(g + 2048 + 16 * i, 0);
                for (int t = 0; t < TT; t++) is[t] = _mm512_add_epi32(is[t], _mm512_mullo_epi32(sub[t], sc));
            }
            // Mins: M = Σ_i m_i·(bsums_2i + bsums_2i+1), as int16 pairs (m_i, m_i)·(bsums_2i, bsums_2i+1).
            for (int t = 0; t < TT; t++) sub[t] = _mm512_setzero_si512();
            for (int i = 0; i < 8; i++) {
                __m512i mm = sc16(g + 2176 + 16 * i, 0);
                mm = _mm512_or_si512(mm, _mm512_slli_epi32(mm, 16));
                for (int t = 0; t < TT; t++) sub[t] = _mm512_dpwssd_epi32(sub[t], mm, bcast4k(sb[t] + 260 + 4 * i));
            }
            const __m512 dw = _mm512_loadu_ps(g + 2304), dm = _mm512_loadu_ps(g + 2368);
            for (int t = 0; t < TT; t++) {
                float da;
                memcpy(&da, sb[t], 4);
                const __m512 dav = _mm512_set1_ps(da);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t]), _mm512_mul_ps(dw, dav), acc[t]);
                acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(sub[t]), _mm512_mul_ps(dm, dav), acc[t]);
            }
        } else {
            for (int i = 0; i < 8; i++) {
                for (int half = 0; half < 2; half++) {
                    const int s = 2 * i + half;
                    const __m512i h = _mm512_loadu_si512(g + 2048 + 128 * i + 64 * half);
                    for (int t = 0; t < TT; t++) {
                        int16_t bs;
                        memcpy(&bs, sb[t] + 260 + 2 * s, 2);
                        sub[t] = _mm512_set1_epi32(-32 * (int32_t)bs);
                    }
                    for (int pp = 0; pp < 2; pp++) {
                        const int p = 2 * half + pp;
                        const __m512i x = _mm512_loadu_si512(g + 256 * i + 64 * p);
                        const __m512i lo = _mm512_or_si512(_mm512_and_si512(x, m4), high2(h, 2 * pp));
                        const __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(x, 4), m4), high2(h, 2 * pp + 1));
                        for (int t = 0; t < TT; t++) {
                            sub[t] = _mm512_dpbusd_epi32(sub[t], lo, bcast4k(sb[t] + 4 + 32 * i + 8 * p));
                            sub[t] = _mm512_dpbusd_epi32(sub[t], hi, bcast4k(sb[t] + 4 + 32 * i + 8 * p + 4));
                        }
                    }
                    const __m512i sc = sc16(g + 3072 + 16 * s, 1);
                    for (int t = 0; t < TT; t++) is[t] = _mm512_add_epi32(is[t], _mm512_mullo_epi32(sub[t], sc));
                }
            }
            const __m512 dw = _mm512_loadu_ps(g + 3328);
            for (int t = 0; t < TT; t++) {
                float da;
                memcpy(&da, sb[t], 4);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t]), _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc[t]);
            }
        }
    }
    if (nvalid == 16) {
        for (int t = 0; t < TT; t++) _mm512_storeu_ps(out + (size_t)t * os, acc[t]);
    } else {
        const __mmask16 m = (__mmask16)((1u << nvalid) - 1);
        for (int t = 0; t < TT; t++) _mm512_mask_storeu_ps(out + (size_t)t * os, m, acc[t]);
    }
}

#define R16K_TT_CASES(CALL) CALL(1) CALL(2) CALL(3) CALL(4) CALL(5) CALL(6) CALL(7) CALL(8)

CK_VNNI static void tile_r16k(int kind, int TT, const uint8_t *w, int nb, const r16ktok *tk, float *out, size_t os,
                              int nvalid) {
    if (kind == CK_Q4_K) {
        switch (TT) {
#define C(t) case t: mk_r16k(CK_Q4_K, t, w, nb, tk, out, os, nvalid); break;
            R16K_TT_CASES(C)
#undef C
        }
    } else {
        switch (TT) {
#define C(t) case t: mk_r16k(CK_Q6_K, t, w, nb, tk, out, os, nvalid); break;
            R16K_TT_CASES(C)
#undef C
        }
    }
}

#ifndef CK_R16K_TT
#define CK_R16K_TT 8
#endif

void ck_gemm_r16k(int kind, const void *packed, int nblocks, int row0, int nrows, const void *act,
                  size_t actRowBytes, int ntok, float *out, size_t outStride) {
    const size_t gbytes = (size_t)nblocks * ck_r16_group_block_bytes(kind);
    for (int r = 0; r < nrows; r += 16) {
        const int g = (row0 + r) / 16;
        const int nvalid = nrows - r < 16 ? nrows - r : 16;
        const uint8_t *w = (const uint8_t *)packed + (size_t)g * gbytes;
        for (int t0 = 0; t0 < ntok; t0 += CK_R16K_TT) {
            const int tt = ntok - t0 < CK_R16K_TT ? ntok - t0 : CK_R16K_TT;
            r16ktok tk;
            for (int t = 0; t < tt; t++) tk.a[t] = (const uint8_t *)act + (size_t)(t0 + t) * actRowBytes;
            tile_r16k(kind, tt, w, nblocks, &tk, out + (size_t)t0 * outStride + row0 + r, outStride, nvalid);
        }
    }
}

#endif
