// Matmul over row-interleaved ("R16") weights: 16 rows per 512-bit lane set x up to 8 tokens per tile,
// AVX-512 VNNI (see ckernels.h, "Row-interleaved matmul"; layout NOTE in ck_repack.h).
//
// NOTE: per output (row r, token t) the arithmetic is fixed: for each block b in order, the exact int32 block
// dot s_b = Σ u·a - offset·Σa (integers, so any summation order gives the same s_b), then
// acc = fma(float(s_b), d_r · da_t,b, acc) starting from acc = 0. Lane r of a register only ever holds row r,
// and the token tile size only decides which registers hold which tokens, so the result of a row is
// bit-identical for 1 token or 512 (batch invariance, which speculative decoding relies on).
// Compared with ck_gemm.c: no per-call weight unpacking into a scratch, one broadcast of 4 activation bytes
// feeds 16 rows, and the f32 work is one convert + one multiply + one fma per block for 16 rows (ck_gemm.c
// needs them per 2 blocks for every single row).
#include "ck_gemm_internal.h"
#include "ck_repack.h"
#include <string.h>

#if defined(__x86_64__)

typedef struct {
    const uint8_t *q[8];    // Q8_0 activation rows (34-byte blocks: f16 d, 32 int8)
    const float *da[8];     // block scales (f32) of the packed rows
    const int32_t *sa[8];   // block sums Σ a of the packed rows
} r16tok;

CK_VNNI CK_INLINE __m512i bcast4(const uint8_t *p) {
    int32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32(x);
}

CK_VNNI CK_INLINE void mk_r16(const int kind, const int TT, const uint8_t *w, int nb, const r16tok *tk,
                              float *out, size_t os, int nvalid) {
    const size_t gb = kind == CK_Q8_0 ? CK_R16_Q8_0_BYTES : kind == CK_Q5_0 ? CK_R16_Q5_0_BYTES : CK_R16_Q4_0_BYTES;
    const int off = kind == CK_Q8_0 ? 128 : kind == CK_Q5_0 ? 16 : 8;
    const __m512i m4 = _mm512_set1_epi8(0x0F), c16 = _mm512_set1_epi8(16);
    __m512 acc[8];
    for (int t = 0; t < TT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *g = w + (size_t)b * gb;
        __m512i is[8];
        const uint8_t *qa[8];
        for (int t = 0; t < TT; t++) {
            is[t] = _mm512_set1_epi32(-off * tk->sa[t][b]);
            qa[t] = tk->q[t] + 34 * (size_t)b + 2;
        }
        if (kind == CK_Q8_0) {
            for (int j = 0; j < 8; j++) {
                const __m512i wv = _mm512_loadu_si512(g + 64 * j);
                for (int t = 0; t < TT; t++) is[t] = _mm512_dpbusd_epi32(is[t], wv, bcast4(qa[t] + 4 * j));
            }
        } else {
            for (int p = 0; p < 4; p++) {
                const __m512i x = _mm512_loadu_si512(g + 64 * p);
                __m512i lo = _mm512_and_si512(x, m4);
                __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
                if (kind == CK_Q5_0) {
                    uint64_t k0, k1;
                    memcpy(&k0, g + 256 + 16 * p, 8);
                    memcpy(&k1, g + 256 + 16 * p + 8, 8);
                    lo = _mm512_mask_add_epi8(lo, (__mmask64)k0, lo, c16);
                    hi = _mm512_mask_add_epi8(hi, (__mmask64)k1, hi, c16);
                }
                for (int t = 0; t < TT; t++) {
                    is[t] = _mm512_dpbusd_epi32(is[t], lo, bcast4(qa[t] + 8 * p));
                    is[t] = _mm512_dpbusd_epi32(is[t], hi, bcast4(qa[t] + 8 * p + 4));
                }
            }
        }
        const __m512 dw = _mm512_loadu_ps(g + gb - 64);
        for (int t = 0; t < TT; t++)
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t]), _mm512_mul_ps(dw, _mm512_set1_ps(tk->da[t][b])), acc[t]);
    }
    if (nvalid == 16) {
        for (int t = 0; t < TT; t++) _mm512_storeu_ps(out + (size_t)t * os, acc[t]);
    } else {
        const __mmask16 m = (__mmask16)((1u << nvalid) - 1);
        for (int t = 0; t < TT; t++) _mm512_mask_storeu_ps(out + (size_t)t * os, m, acc[t]);
    }
}

#define R16_TT_CASES(CALL) CALL(1) CALL(2) CALL(3) CALL(4) CALL(5) CALL(6) CALL(7) CALL(8)

CK_VNNI static void tile_r16(int kind, int TT, const uint8_t *w, int nb, const r16tok *tk, float *out, size_t os,
                             int nvalid) {
    switch (kind) {
#define C(t) case t: mk_r16(CK_Q5_0, t, w, nb, tk, out, os, nvalid); break;
    case CK_Q5_0: switch (TT) { R16_TT_CASES(C) } break;
#undef C
#define C(t) case t: mk_r16(CK_Q8_0, t, w, nb, tk, out, os, nvalid); break;
    case CK_Q8_0: switch (TT) { R16_TT_CASES(C) } break;
#undef C
#define C(t) case t: mk_r16(CK_Q4_0, t, w, nb, tk, out, os, nvalid); break;
    case CK_Q4_0: switch (TT) { R16_TT_CASES(C) } break;
#undef C
    }
}

#ifndef CK_R16_TT
#define CK_R16_TT 8
#endif

void ck_gemm_r16(int kind, const void *packed, int nblocks, int row0, int nrows, const void *act,
                 size_t actRowBytes, const void *pact, size_t pactRowBytes, int ntok, float *out, size_t outStride) {
    if (kind == CK_Q4_K || kind == CK_Q6_K) {
        ck_gemm_r16k(kind, packed, nblocks, row0, nrows, act, actRowBytes, ntok, out, outStride);
        return;
    }
    const size_t gbytes = (size_t)nblocks * ck_r16_group_block_bytes(kind);
    const size_t aq = ck_pad64((size_t)nblocks * 32), ad = ck_pad64((size_t)nblocks * 4);
    for (int r = 0; r < nrows; r += 16) {
        const int g = (row0 + r) / 16;
        const int nvalid = nrows - r < 16 ? nrows - r : 16;
        const uint8_t *w = (const uint8_t *)packed + (size_t)g * gbytes;
        for (int t0 = 0; t0 < ntok; t0 += CK_R16_TT) {
            const int tt = ntok - t0 < CK_R16_TT ? ntok - t0 : CK_R16_TT;
            r16tok tk;
            for (int t = 0; t < tt; t++) {
                const uint8_t *p = (const uint8_t *)pact + (size_t)(t0 + t) * pactRowBytes;
                tk.q[t] = (const uint8_t *)act + (size_t)(t0 + t) * actRowBytes;
                tk.da[t] = (const float *)(p + aq);
                tk.sa[t] = (const int32_t *)(p + aq + ad);
            }
            tile_r16(kind, tt, w, nblocks, &tk, out + (size_t)t0 * outStride + row0 + r, outStride, nvalid);
        }
    }
}

#else  // not x86_64: never called (ck_has_avx512vnni() == 0).
void ck_gemm_r16(int kind, const void *packed, int nblocks, int row0, int nrows, const void *act,
                 size_t actRowBytes, const void *pact, size_t pactRowBytes, int ntok, float *out, size_t outStride) {
    (void)kind; (void)packed; (void)nblocks; (void)row0; (void)nrows; (void)act; (void)actRowBytes; (void)pact;
    (void)pactRowBytes; (void)ntok; (void)out; (void)outStride;
}
#endif
