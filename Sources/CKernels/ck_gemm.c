// Register-tiled quantized matmul for several tokens at once (see ckernels.h, "Tiled matmul").
//
// Design NOTE and data layouts: ck_gemm_internal.h.
#include "ck_gemm_internal.h"
#include <stdlib.h>

#if defined(__x86_64__)

static inline int kind_is_k(int kind) { return kind >= CK_Q4_K; }

// ---------------------------------------------------------------------------------------------
// Micro-kernels: R weight rows x TT tokens, all blocks of the row. R and TT are compile-time constants
// at every call site (always_inline + switch), so the tile arrays live in registers.
// ---------------------------------------------------------------------------------------------

typedef struct {
    const uint8_t *a[8];  // a' rows of the tile's tokens
    const float *da[8];
    const float *v[8];
} tok_t;

#define MAXR 4
#define MAXT 4

CK_VNNI CK_INLINE void mk32_vnni(const int R, const int TT, const ck_row32 *rw, const tok_t *tk, int nb,
                                 float *out, size_t outStride) {
    __m512 acc[MAXR][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) acc[r][t] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 2 <= nb; k += 2) {
        __m512i av[MAXT];
        __m512 dav[MAXT];
        for (int t = 0; t < TT; t++) {
            av[t] = _mm512_loadu_si512(tk->a[t] + 32 * k);
            dav[t] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_broadcast_ss(tk->da[t] + k)),
                                        _mm256_broadcast_ss(tk->da[t] + k + 1), 1);
        }
        for (int r = 0; r < R; r++) {
            const __m512i wv = _mm512_loadu_si512(rw[r].w + 32 * k);
            const __m512i iv = _mm512_loadu_si512(rw[r].init + 8 * k);
            const __m512 dw = _mm512_loadu_ps(rw[r].dw + 8 * k);
            for (int t = 0; t < TT; t++) {
                const __m512i p = _mm512_dpbusd_epi32(iv, av[t], wv);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, dav[t]), acc[r][t]);
            }
        }
    }
    if (k < nb) {
        for (int r = 0; r < R; r++) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(rw[r].w + 32 * k));
            const __m256i iv = _mm256_loadu_si256((const __m256i *)(rw[r].init + 8 * k));
            const __m256 dw = _mm256_loadu_ps(rw[r].dw + 8 * k);
            for (int t = 0; t < TT; t++) {
                const __m256i p = _mm256_dpbusd_epi32(iv, _mm256_loadu_si256((const __m256i *)(tk->a[t] + 32 * k)), wv);
                // A fused multiply-add into the lower half (the upper half adds 0·0), as the one-token loop
                // (ck_gemv.c) does for its last block: the same rounding, so the same result at any T.
                const __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ss(tk->da[t] + k));
                acc[r][t] = _mm512_fmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(p)), _mm512_zextps256_ps512(d),
                                            acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) out[t * outStride + r] = _mm512_reduce_add_ps(acc[r][t]);
}

CK_AVX2 CK_INLINE void mk32_avx2(const int R, const int TT, const int q8, const ck_row32 *rw, const tok_t *tk, int nb,
                                 float *out, size_t outStride) {
    __m256 acc[MAXR][MAXT];
    const __m256i ones = _mm256_set1_epi16(1), m80 = _mm256_set1_epi8((char)0x80);
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) acc[r][t] = _mm256_setzero_ps();
    for (int k = 0; k < nb; k++) {
        __m256i av[MAXT];
        __m256 dav[MAXT];
        for (int t = 0; t < TT; t++) {
            av[t] = _mm256_loadu_si256((const __m256i *)(tk->a[t] + 32 * k));
            // Q8_0 weights span the whole int8 range, so maddubs(a', w) could saturate: use the
            // sign trick of llama.cpp on the signed activations instead (no correction needed).
            if (q8) av[t] = _mm256_xor_si256(av[t], m80);
            dav[t] = _mm256_broadcast_ss(tk->da[t] + k);
        }
        for (int r = 0; r < R; r++) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(rw[r].w + 32 * k));
            const __m256 dw = _mm256_loadu_ps(rw[r].dw + 8 * k);
            if (q8) {
                const __m256i aw = _mm256_sign_epi8(wv, wv);
                for (int t = 0; t < TT; t++) {
                    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(av[t], wv)), ones);
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, dav[t]), acc[r][t]);
                }
            } else {
                const __m256i iv = _mm256_loadu_si256((const __m256i *)(rw[r].init + 8 * k));
                for (int t = 0; t < TT; t++) {
                    const __m256i p = _mm256_add_epi32(iv, _mm256_madd_epi16(_mm256_maddubs_epi16(av[t], wv), ones));
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, dav[t]), acc[r][t]);
                }
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) out[t * outStride + r] = hsum256(acc[r][t]);
}

CK_VNNI CK_INLINE void mkK_vnni(const int R, const int TT, const int mins, const ck_rowK *rw, const tok_t *tk, int ns,
                                float *out, size_t outStride) {
    __m512 acc[MAXR][MAXT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) acc[r][t] = _mm512_setzero_ps();
    for (int s = 0; s < ns; s++) {
        __m512i isum[MAXR][MAXT];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < TT; t++) isum[r][t] = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            __m512i av[MAXT];
            for (int t = 0; t < TT; t++) av[t] = _mm512_loadu_si512(tk->a[t] + 256 * s + 64 * c);
            for (int r = 0; r < R; r++) {
                const __m512i wv = _mm512_loadu_si512(rw[r].w + 256 * s + 64 * c);
                const __m512i iv = _mm512_loadu_si512(rw[r].init + 64 * s + 16 * c);
                const __m512i sc = _mm512_loadu_si512(rw[r].sc + 64 * s + 16 * c);
                for (int t = 0; t < TT; t++)
                    isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_dpbusd_epi32(iv, av[t], wv), sc);
            }
        }
        for (int r = 0; r < R; r++) {
            for (int t = 0; t < TT; t++) {
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), _mm512_set1_ps(rw[r].d[s] * tk->da[t][s]), acc[r][t]);
                if (mins) acc[r][t] = _mm512_fnmadd_ps(_mm512_loadu_ps(rw[r].u + 16 * s), _mm512_loadu_ps(tk->v[t] + 16 * s), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) out[t * outStride + r] = _mm512_reduce_add_ps(acc[r][t]);
}

CK_AVX2 CK_INLINE void mkK_avx2(const int R, const int TT, const int mins, const ck_rowK *rw, const tok_t *tk, int ns,
                                float *out, size_t outStride) {
    __m256 acc[MAXR][MAXT];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) acc[r][t] = _mm256_setzero_ps();
    for (int s = 0; s < ns; s++) {
        __m256i isum[MAXR][MAXT];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < TT; t++) isum[r][t] = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            __m256i av[MAXT];
            for (int t = 0; t < TT; t++) av[t] = _mm256_loadu_si256((const __m256i *)(tk->a[t] + 256 * s + 32 * c));
            for (int r = 0; r < R; r++) {
                const __m256i wv = _mm256_loadu_si256((const __m256i *)(rw[r].w + 256 * s + 32 * c));
                const __m256i iv = _mm256_loadu_si256((const __m256i *)(rw[r].init + 64 * s + 8 * c));
                const __m256i sc = _mm256_loadu_si256((const __m256i *)(rw[r].sc + 64 * s + 8 * c));
                for (int t = 0; t < TT; t++) {
                    const __m256i p = _mm256_add_epi32(iv, _mm256_madd_epi16(_mm256_maddubs_epi16(av[t], wv), ones));
                    isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(p, sc));
                }
            }
        }
        for (int r = 0; r < R; r++) {
            for (int t = 0; t < TT; t++) {
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][t]), _mm256_set1_ps(rw[r].d[s] * tk->da[t][s]), acc[r][t]);
                if (mins) {
                    acc[r][t] = _mm256_fnmadd_ps(_mm256_loadu_ps(rw[r].u + 16 * s), _mm256_loadu_ps(tk->v[t] + 16 * s), acc[r][t]);
                    acc[r][t] = _mm256_fnmadd_ps(_mm256_loadu_ps(rw[r].u + 16 * s + 8), _mm256_loadu_ps(tk->v[t] + 16 * s + 8), acc[r][t]);
                }
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TT; t++) out[t * outStride + r] = hsum256(acc[r][t]);
}

// Dispatch on the (rows, tokens) tile shape with constant arguments so each case is fully specialised.
#define CK_TILE_CASES(CALL) \
    CALL(1, 1) CALL(1, 2) CALL(1, 3) CALL(1, 4) CALL(2, 1) CALL(2, 2) CALL(2, 3) CALL(2, 4) \
    CALL(3, 1) CALL(3, 2) CALL(3, 3) CALL(3, 4) CALL(4, 1) CALL(4, 2) CALL(4, 3) CALL(4, 4)

CK_VNNI static void tile32_vnni(int R, int TT, const ck_row32 *rw, const tok_t *tk, int nb, float *out, size_t os) {
    switch (R * 8 + TT) {
#define C(r, t) case r * 8 + t: mk32_vnni(r, t, rw, tk, nb, out, os); break;
        CK_TILE_CASES(C)
#undef C
    }
}

CK_AVX2 static void tile32_avx2(int R, int TT, int q8, const ck_row32 *rw, const tok_t *tk, int nb, float *out, size_t os) {
    if (q8) {
        switch (R * 8 + TT) {
#define C(r, t) case r * 8 + t: mk32_avx2(r, t, 1, rw, tk, nb, out, os); break;
            CK_TILE_CASES(C)
#undef C
        }
    } else {
        switch (R * 8 + TT) {
#define C(r, t) case r * 8 + t: mk32_avx2(r, t, 0, rw, tk, nb, out, os); break;
            CK_TILE_CASES(C)
#undef C
        }
    }
}

CK_VNNI static void tileK_vnni(int R, int TT, int mins, const ck_rowK *rw, const tok_t *tk, int ns, float *out, size_t os) {
    if (mins) {
        switch (R * 8 + TT) {
#define C(r, t) case r * 8 + t: mkK_vnni(r, t, 1, rw, tk, ns, out, os); break;
            CK_TILE_CASES(C)
#undef C
        }
    } else {
        switch (R * 8 + TT) {
#define C(r, t) case r * 8 + t: mkK_vnni(r, t, 0, rw, tk, ns, out, os); break;
            CK_TILE_CASES(C)
#undef C
        }
    }
}

CK_AVX2 static void tileK_avx2(int R, int TT, int mins, const ck_rowK *rw, const tok_t *tk, int ns, float *out, size_t os) {
    if (mins) {
        switch (R * 8 + TT) {
#define C(r, t) case r * 8 + t: mkK_avx2(r, t, 1, rw, tk, ns, out, os); break;
            CK_TILE_CASES(C)
#undef C
        }
    } else {
        switch (R * 8 + TT) {
#define C(r, t) case r * 8 + t: mkK_avx2(r, t, 0, rw, tk, ns, out, os); break;
            CK_TILE_CASES(C)
#undef C
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driver.
// ---------------------------------------------------------------------------------------------

// Tile shapes (rows x tokens), measured on Zen 4 at T = 64: 32-element types 4x4 (16 f32 accumulators),
// K-quants 2x4 (8 int32 sub-sums + 8 f32 accumulators; 4x4 spills).
#define CK_R32 4
#define CK_T32 4
#define CK_RK 2
#define CK_TK 4
static const int ck_tile_rows[2] = { CK_R32, CK_RK };    // [32-element, K-quant]
static const int ck_tile_tokens[2] = { CK_T32, CK_TK };

void ck_gemm(int kind, int level, const void *weight, size_t wRowBytes, int nrows, const void *act,
             size_t actRowBytes, int ntok, int nblocks, float *out, size_t outStride) {
    const int kq = kind_is_k(kind);
    if (ntok == 1 && level >= 2 && (kind == CK_Q5_0 || kind == CK_Q8_0)) {
        ck_gemv32_vnni(kind == CK_Q8_0, weight, wRowBytes, nrows, act, nblocks, out);
        return;
    }
    const int R = ck_tile_rows[kq], TT = ck_tile_tokens[kq];
    const size_t rowScratch = kq ? ck_scratchK_bytes(nblocks) : ck_scratch32_bytes(nblocks);
    uint8_t stackBuf[4 * 4 * 1024] __attribute__((aligned(64)));
    uint8_t *scratch = stackBuf;
    if (rowScratch * R > sizeof(stackBuf)) {
        if (posix_memalign((void **)&scratch, 64, rowScratch * R) != 0) abort();
    }
    const uint8_t *wb = weight;
    const uint8_t *ab = act;
    const size_t aq = ck_pad64((size_t)nblocks * (kq ? 256 : 32));
    const size_t ad = ck_pad64((size_t)nblocks * 4);
    for (int r0 = 0; r0 < nrows; r0 += R) {
        const int rr = nrows - r0 < R ? nrows - r0 : R;
        ck_row32 r32[MAXR];
        ck_rowK rK[MAXR];
        for (int r = 0; r < rr; r++) {
            uint8_t *base = scratch + rowScratch * r;
            if (kq) {
                rK[r] = ck_rowK_at(base, nblocks);
                ck_unpackK(kind, wb + (size_t)(r0 + r) * wRowBytes, nblocks, rK[r]);
            } else {
                r32[r] = ck_row32_at(base, nblocks);
                ck_unpack32(kind, wb + (size_t)(r0 + r) * wRowBytes, nblocks, r32[r]);
            }
        }
        for (int t0 = 0; t0 < ntok; t0 += TT) {
            const int tt = ntok - t0 < TT ? ntok - t0 : TT;
            tok_t tk;
            for (int t = 0; t < tt; t++) {
                const uint8_t *row = ab + (size_t)(t0 + t) * actRowBytes;
                tk.a[t] = row;
                tk.da[t] = (const float *)(row + aq);
                tk.v[t] = (const float *)(row + aq + ad);
            }
            float *o = out + (size_t)t0 * outStride + r0;
            if (kq) {
                const int mins = kind != CK_Q6_K;
                if (level >= 2) tileK_vnni(rr, tt, mins, rK, &tk, nblocks, o, outStride);
                else tileK_avx2(rr, tt, mins, rK, &tk, nblocks, o, outStride);
            } else {
                if (level >= 2) tile32_vnni(rr, tt, r32, &tk, nblocks, o, outStride);
                else tile32_avx2(rr, tt, kind == CK_Q8_0, r32, &tk, nblocks, o, outStride);
            }
        }
    }
    if (scratch != stackBuf) free(scratch);
}

#else  // not x86_64: never called (ck_has_avx2() == 0).
void ck_gemm(int kind, int level, const void *weight, size_t wRowBytes, int nrows, const void *act,
             size_t actRowBytes, int ntok, int nblocks, float *out, size_t outStride) {
    (void)kind; (void)level; (void)weight; (void)wRowBytes; (void)nrows; (void)act; (void)actRowBytes;
    (void)ntok; (void)nblocks; (void)out; (void)outStride;
}
#endif
