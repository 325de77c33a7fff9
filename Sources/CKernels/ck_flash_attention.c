// Tiled ("flash") attention over a paged KV cache, AVX-512F: a tile of query rows of one sequence against
// K/V tiles of CK_FA_KT positions, online softmax, P·V. See ckernels.h (ck_flash_attend) for the contract.
//
// Exactness: every query row's result depends only on its own q, its visible range and the K/V values,
// never on which other rows share the call. The K tiles are aligned to absolute positions (multiples of
// CK_FA_KT); a row's score q·k is one 16-lane FMA chain over d followed by the fixed tree of hsum16; columns
// a row may not see get p = 0 exactly, so they add nothing to its running sum (fixed lane order over the
// tile) nor to its output (fma(0, v, o) == o); its rescale and P·V accumulation run in ascending position
// order. Decode (one row) and any batch or split of rows therefore give the same bits.
// PRECONDITION: ck_has_avx512f() == 1.
#include "ckernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))
#define KT CK_FA_KT
#define Q8_BYTES 34

// e^x, the polynomial of ck_vecmath.c's exp8 on 16 lanes; exactly 0 for x < -87.3 (and -inf).
AVX512 static inline __m512 exp16(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.3f), hi = _mm512_set1_ps(88.7f);
    const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    y = _mm512_mul_ps(y, _mm512_castsi512_ps(e));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ), y);
}

// Sum of 16 lanes by one fixed tree: (l + l+8), then + 4, + 2, + 1.
AVX512 static inline float hsum16(__m512 v) {
    const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Rows of positions [pa, pb) as f32 into dst[(p - t0) * hd ...]. Position p is at slot p % bs of block
// blk[p / bs - firstBlock]. format: 0 f32, 1 f16, 2 q8_0 (34-byte blocks of 32).
AVX512 static void load_rows(const void *const *blk, int firstBlock, int format, int bs, size_t rowBytes, int hd,
                             int pa, int pb, int t0, float *dst) {
    for (int p = pa; p < pb; p++) {
        const uint8_t *src = (const uint8_t *)blk[p / bs - firstBlock] + (size_t)(p % bs) * rowBytes;
        float *d = dst + (size_t)(p - t0) * hd;
        if (format == 0) {
            memcpy(d, src, (size_t)hd * sizeof(float));
        } else if (format == 1) {
            const uint16_t *h = (const uint16_t *)src;
            for (int i = 0; i < hd; i += 16)
                _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
        } else {
            for (int i = 0; i < hd; i += 32, src += Q8_BYTES) {
                uint16_t hs;
                memcpy(&hs, src, sizeof hs);
                const __m512 sc = _mm512_set1_ps(_cvtsh_ss(hs));
                const __m128i *qs = (const __m128i *)(src + 2);
                _mm512_storeu_ps(d + i, _mm512_mul_ps(sc, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(qs)))));
                _mm512_storeu_ps(d + i + 16,
                                 _mm512_mul_ps(sc, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(qs + 1)))));
            }
        }
    }
}

// S[g][j] = scale * q_g . K[j] for G query vectors and the 4 key rows j0 ..< j0+4 of the tile. Every
// (g, j) is the same chain: acc = fma(q[d..], k[d..], acc) for d = 0, 16, ..., then hsum16.
#define DEFINE_QK(G)                                                                                       \
    AVX512 static inline void qk_##G(const float *const *qv, const float *K, int hd, int j0, float scale,  \
                                     float *S) {                                                           \
        __m512 acc[G][4];                                                                                  \
        for (int g = 0; g < G; g++)                                                                        \
            for (int c = 0; c < 4; c++) acc[g][c] = _mm512_setzero_ps();                                   \
        const float *k = K + (size_t)j0 * hd;                                                              \
        for (int d = 0; d < hd; d += 16) {                                                                 \
            const __m512 k0 = _mm512_loadu_ps(k + d), k1 = _mm512_loadu_ps(k + hd + d);                    \
            const __m512 k2 = _mm512_loadu_ps(k + 2 * hd + d), k3 = _mm512_loadu_ps(k + 3 * hd + d);       \
            for (int g = 0; g < G; g++) {                                                                  \
                const __m512 qq = _mm512_loadu_ps(qv[g] + d);                                              \
                acc[g][0] = _mm512_fmadd_ps(qq, k0, acc[g][0]);                                            \
                acc[g][1] = _mm512_fmadd_ps(qq, k1, acc[g][1]);                                            \
                acc[g][2] = _mm512_fmadd_ps(qq, k2, acc[g][2]);                                            \
                acc[g][3] = _mm512_fmadd_ps(qq, k3, acc[g][3]);                                            \
            }                                                                                              \
        }                                                                                                  \
        for (int g = 0; g < G; g++)                                                                        \
            for (int c = 0; c < 4; c++) S[g * KT + j0 + c] = hsum16(acc[g][c]) * scale;                    \
    }
DEFINE_QK(4)
DEFINE_QK(3)
DEFINE_QK(2)
DEFINE_QK(1)

// O[g][d0 ..< d0+64] = O[g][..] * alpha[g] + Σ_{j in [ja, jb)} P[g][j] V[j][..] for G vectors: per element
// one multiply, then FMAs in ascending j.
#define DEFINE_PV(G)                                                                                       \
    AVX512 static inline void pv_##G(float *const *ov, const float *alpha, const float *P, const float *V,  \
                                     int hd, int ja, int jb, int d0) {                                     \
        __m512 acc[G][4];                                                                                  \
        for (int g = 0; g < G; g++) {                                                                      \
            const __m512 a = _mm512_set1_ps(alpha[g]);                                                     \
            for (int c = 0; c < 4; c++) acc[g][c] = _mm512_mul_ps(_mm512_loadu_ps(ov[g] + d0 + 16 * c), a); \
        }                                                                                                  \
        for (int j = ja; j < jb; j++) {                                                                    \
            const float *v = V + (size_t)j * hd + d0;                                                      \
            const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);                            \
            const __m512 v2 = _mm512_loadu_ps(v + 32), v3 = _mm512_loadu_ps(v + 48);                       \
            for (int g = 0; g < G; g++) {                                                                  \
                const __m512 p = _mm512_set1_ps(P[g * KT + j]);                                            \
                acc[g][0] = _mm512_fmadd_ps(p, v0, acc[g][0]);                                             \
                acc[g][1] = _mm512_fmadd_ps(p, v1, acc[g][1]);                                             \
                acc[g][2] = _mm512_fmadd_ps(p, v2, acc[g][2]);                                             \
                acc[g][3] = _mm512_fmadd_ps(p, v3, acc[g][3]);                                             \
            }                                                                                              \
        }                                                                                                  \
        for (int g = 0; g < G; g++)                                                                        \
            for (int c = 0; c < 4; c++) _mm512_storeu_ps(ov[g] + d0 + 16 * c, acc[g][c]);                  \
    }
DEFINE_PV(4)
DEFINE_PV(3)
DEFINE_PV(2)
DEFINE_PV(1)

// Online-softmax step of one vector over the tile: columns outside [a, b) are masked; returns p in S (the
// whole row of KT), updates *m and *l, and the rescale factor of the old output in *alpha.
AVX512 static inline void softmax_step(float *S, int a, int b, float *m, float *l, float *alpha) {
    const uint64_t bits = (b == 64 ? ~0ULL : ((1ULL << b) - 1)) & ~((1ULL << a) - 1);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 s[4];
    __m512 mx = ninf;
    for (int c = 0; c < 4; c++) {
        s[c] = _mm512_mask_blend_ps((__mmask16)(bits >> (16 * c)), ninf, _mm512_loadu_ps(S + 16 * c));
        mx = _mm512_max_ps(mx, s[c]);
    }
    const float mt = _mm512_reduce_max_ps(mx);
    const float mnew = *m > mt ? *m : mt;
    const float al = _mm512_cvtss_f32(exp16(_mm512_set1_ps(*m - mnew)));
    const __m512 mv = _mm512_set1_ps(mnew);
    for (int c = 0; c < 4; c++) {
        s[c] = exp16(_mm512_sub_ps(s[c], mv));
        _mm512_storeu_ps(S + 16 * c, s[c]);
    }
    const float sum = hsum16(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3])));
    *l = *l * al + sum;
    *m = mnew;
    *alpha = al;
}

AVX512 void ck_flash_attend(const float *q, long qRowStride, int rows, int heads, int hd, int p0, int pstep,
                            int window, const void *const *kblk, const void *const *vblk, int firstBlock,
                            int format, int bs, int stride, float scale, float *work, float *out,
                            long outRowStride) {
    _Static_assert(KT == 64, "softmax_step masks 64 columns");
    const size_t rowBytes = format == 0 ? (size_t)stride * 4 : format == 1 ? (size_t)stride * 2
                                                                           : (size_t)(stride / 32) * Q8_BYTES;
    const int M = rows * heads;
    float *Kt = work, *Vt = work + (size_t)KT * hd, *S = Vt + (size_t)KT * hd;
    float *mrun = S + 4 * KT, *lrun = mrun + M, *alpha = lrun + M;   // alpha: [4]
#define POS(i) (p0 + (i) * pstep)
#define LO(i) (window > 0 && POS(i) - window + 1 > 0 ? POS(i) - window + 1 : 0)
    for (int v = 0; v < M; v++) {
        mrun[v] = -INFINITY;
        lrun[v] = 0;
        memset(out + (size_t)(v / heads) * outRowStride + (size_t)(v % heads) * hd, 0, (size_t)hd * sizeof(float));
    }
    const int loMin = LO(0), pMax = POS(rows - 1);
    for (int t0 = loMin / KT * KT; t0 <= pMax; t0 += KT) {
        // Rows that see part of this tile: POS(i) >= t0 and LO(i) < t0 + KT (a contiguous range).
        int ia = 0, ib = rows;
        while (ia < rows && POS(ia) < t0) ia++;
        while (ib > ia && LO(ib - 1) >= t0 + KT) ib--;
        if (ia == ib) continue;
        // Positions any of them sees, as f32; the margins up to multiples of 4 are zeros.
        const int ca = (LO(ia) > t0 ? LO(ia) : t0) - t0;
        const int cb = (POS(ib - 1) + 1 < t0 + KT ? POS(ib - 1) + 1 : t0 + KT) - t0;
        const int ra = ca & ~3, rb = (cb + 3) & ~3;
        load_rows(kblk, firstBlock, format, bs, rowBytes, hd, t0 + ca, t0 + cb, t0, Kt);
        load_rows(vblk, firstBlock, format, bs, rowBytes, hd, t0 + ca, t0 + cb, t0, Vt);
        memset(Kt + (size_t)ra * hd, 0, (size_t)(ca - ra) * hd * sizeof(float));
        memset(Vt + (size_t)ra * hd, 0, (size_t)(ca - ra) * hd * sizeof(float));
        memset(Kt + (size_t)cb * hd, 0, (size_t)(rb - cb) * hd * sizeof(float));
        memset(Vt + (size_t)cb * hd, 0, (size_t)(rb - cb) * hd * sizeof(float));
        for (int v0 = ia * heads; v0 < ib * heads; v0 += 4) {
            const int G = ib * heads - v0 < 4 ? ib * heads - v0 : 4;
            const float *qv[4];
            float *ov[4];
            for (int g = 0; g < G; g++) {
                const int i = (v0 + g) / heads, h = (v0 + g) % heads;
                qv[g] = q + (size_t)i * qRowStride + (size_t)h * hd;
                ov[g] = out + (size_t)i * outRowStride + (size_t)h * hd;
            }
            for (int j0 = ra; j0 < rb; j0 += 4) {
                switch (G) {
                case 4: qk_4(qv, Kt, hd, j0, scale, S); break;
                case 3: qk_3(qv, Kt, hd, j0, scale, S); break;
                case 2: qk_2(qv, Kt, hd, j0, scale, S); break;
                default: qk_1(qv, Kt, hd, j0, scale, S); break;
                }
            }
            for (int g = 0; g < G; g++) {
                const int i = (v0 + g) / heads;
                const int a = (LO(i) > t0 ? LO(i) : t0) - t0;
                const int b = (POS(i) + 1 < t0 + KT ? POS(i) + 1 : t0 + KT) - t0;
                softmax_step(S + g * KT, a, b, mrun + v0 + g, lrun + v0 + g, alpha + g);
            }
            for (int d0 = 0; d0 < hd; d0 += 64) {
                switch (G) {
                case 4: pv_4(ov, alpha, S, Vt, hd, ra, rb, d0); break;
                case 3: pv_3(ov, alpha, S, Vt, hd, ra, rb, d0); break;
                case 2: pv_2(ov, alpha, S, Vt, hd, ra, rb, d0); break;
                default: pv_1(ov, alpha, S, Vt, hd, ra, rb, d0); break;
                }
            }
        }
    }
    for (int v = 0; v < M; v++) {
        float *o = out + (size_t)(v / heads) * outRowStride + (size_t)(v % heads) * hd;
        const __m512 inv = _mm512_set1_ps(1.0f / lrun[v]);
        for (int d = 0; d < hd; d += 16) _mm512_storeu_ps(o + d, _mm512_mul_ps(_mm512_loadu_ps(o + d), inv));
    }
#undef POS
#undef LO
}
#else  // not x86_64: never called (ck_has_avx512f() == 0); the stub keeps the symbol defined.
void ck_flash_attend(const float *q, long qRowStride, int rows, int heads, int hd, int p0, int pstep, int window,
                     const void *const *kblk, const void *const *vblk, int firstBlock, int format, int bs,
                     int stride, float scale, float *work, float *out, long outRowStride) {
    (void)q; (void)qRowStride; (void)rows; (void)heads; (void)hd; (void)p0; (void)pstep; (void)window;
    (void)kblk; (void)vblk; (void)firstBlock; (void)format; (void)bs; (void)stride; (void)scale; (void)work;
    (void)out; (void)outRowStride;
}
#endif
