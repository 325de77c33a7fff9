// AVX2 per-row dot products (see ckernels.h). Compiled for any x86_64: the AVX2 code is enabled per
// function with target attributes and reached only after the runtime check in ck_has_avx2().
#include "ckernels.h"
#include <string.h>

// K-quant kernels finish each super-block in scalar float (d * isum) exactly like the Swift scalar
// reference; keep the compiler from fusing those into FMAs so both paths agree bit for bit.
#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))

// Block layouts (ggml-common.h). Sizes are checked at compile time like llama.cpp does.
typedef struct { uint16_t d; int8_t qs[32]; } ck_q8_0;
typedef struct { uint16_t d; uint8_t qs[16]; } ck_q4_0;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } ck_q5_0;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } ck_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } ck_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } ck_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } ck_q8_K;
_Static_assert(sizeof(ck_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(ck_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(ck_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(ck_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(ck_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(ck_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(ck_q8_K) == 292, "q8_K block");

CK_AVX2 static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

CK_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

CK_AVX2 static inline int hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/// 8 int32 partial sums of x.y for 32 signed bytes each (sign trick: |x| . sign(y, x), as llama.cpp).
CK_AVX2 static inline __m256i dot_s8(__m256i x, __m256i y) {
    const __m256i ax = _mm256_sign_epi8(x, x);
    const __m256i sy = _mm256_sign_epi8(y, x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/// 32 nibbles -> 32 bytes: low nibbles (elements 0..15) then high nibbles (16..31).
CK_AVX2 static inline __m256i nibbles32(const uint8_t *qs) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(lo, 4), lo);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/// Byte j = 0xFF when bit j of the 32-bit word is set.
CK_AVX2 static inline __m256i bits32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                           0x0101010101010101LL, 0x0000000000000000LL);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

CK_AVX2 float ck_dot_q8_0_q8_0(const void *vw, const void *va, int count) {
    const ck_q8_0 *w = vw, *a = va;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 1 < count; i += 2) {
        const __m256i p0 = dot_s8(_mm256_loadu_si256((const __m256i *)w[i].qs), _mm256_loadu_si256((const __m256i *)a[i].qs));
        const __m256i p1 = dot_s8(_mm256_loadu_si256((const __m256i *)w[i + 1].qs), _mm256_loadu_si256((const __m256i *)a[i + 1].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i + 1].d) * h2f(a[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < count; i++) {
        const __m256i p = dot_s8(_mm256_loadu_si256((const __m256i *)w[i].qs), _mm256_loadu_si256((const __m256i *)a[i].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d)), _mm256_cvtepi32_ps(p), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

/// One Q4_0 block times one Q8_0 block, as 8 int32 lanes converted to float.
CK_AVX2 static inline __m256 block_q4_0(const ck_q4_0 *w, const ck_q8_0 *a) {
    const __m256i qx = _mm256_sub_epi8(nibbles32(w->qs), _mm256_set1_epi8(8));
    return _mm256_cvtepi32_ps(dot_s8(qx, _mm256_loadu_si256((const __m256i *)a->qs)));
}

CK_AVX2 float ck_dot_q4_0_q8_0(const void *vw, const void *va, int count) {
    const ck_q4_0 *w = vw;
    const ck_q8_0 *a = va;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 1 < count; i += 2) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d)), block_q4_0(w + i, a + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i + 1].d) * h2f(a[i + 1].d)), block_q4_0(w + i + 1, a + i + 1), acc1);
    }
    for (; i < count; i++) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d)), block_q4_0(w + i, a + i), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

/// One Q5_0 block times one Q8_0 block, as 8 int32 lanes converted to float.
CK_AVX2 static inline __m256 block_q5_0(const ck_q5_0 *w, const ck_q8_0 *a) {
    // (q4 | hbit << 4) - 16 == q4 when hbit is set, q4 | 0xF0 (as int8) when it is clear.
    const __m256i hi = _mm256_andnot_si256(bits32(w->qh), _mm256_set1_epi8((char)0xF0));
    const __m256i qx = _mm256_or_si256(nibbles32(w->qs), hi);
    return _mm256_cvtepi32_ps(dot_s8(qx, _mm256_loadu_si256((const __m256i *)a->qs)));
}

CK_AVX2 float ck_dot_q5_0_q8_0(const void *vw, const void *va, int count) {
    const ck_q5_0 *w = vw;
    const ck_q8_0 *a = va;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 1 < count; i += 2) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d)), block_q5_0(w + i, a + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i + 1].d) * h2f(a[i + 1].d)), block_q5_0(w + i + 1, a + i + 1), acc1);
    }
    for (; i < count; i++) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d)), block_q5_0(w + i, a + i), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

/// get_scale_min_k4 for all 8 sub-blocks (SPEC-model.md 2.2).
static inline void scale_min_k4(const uint8_t *s, uint8_t *sc, uint8_t *m) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0xF) | ((s[j] >> 6) << 4);
        m[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
    }
}

CK_AVX2 float ck_dot_q4_K_q8_K(const void *vw, const void *va, int count) {
    const ck_q4_K *w = vw;
    const ck_q8_K *a = va;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    float acc = 0.0f, accm = 0.0f;
    for (int i = 0; i < count; i++) {
        uint8_t sc[8], m[8];
        scale_min_k4(w[i].scales, sc, m);
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += m[j] * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
        __m256i sumi = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * g));
            const __m256i lo = _mm256_and_si256(q4, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i ylo = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * g));
            const __m256i yhi = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * g + 32));
            const __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_set1_epi16(sc[2 * g]));
            const __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), _mm256_set1_epi16(sc[2 * g + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        const float d = h2f(w[i].d) * a[i].d;
        const float dmin = h2f(w[i].dmin) * a[i].d;
        acc += d * (float)hsum8i(sumi);
        accm += dmin * (float)summ;
    }
    return acc - accm;
}

CK_AVX2 float ck_dot_q5_K_q8_K(const void *vw, const void *va, int count) {
    const ck_q5_K *w = vw;
    const ck_q8_K *a = va;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    float acc = 0.0f, accm = 0.0f;
    for (int i = 0; i < count; i++) {
        uint8_t sc[8], m[8];
        scale_min_k4(w[i].scales, sc, m);
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += m[j] * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
        const __m256i hb = _mm256_loadu_si256((const __m256i *)w[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * g));
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g), one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g + 1), one), 4);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q4, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), h1);
            const __m256i ylo = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * g));
            const __m256i yhi = _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * g + 32));
            const __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_set1_epi16(sc[2 * g]));
            const __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), _mm256_set1_epi16(sc[2 * g + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        const float d = h2f(w[i].d) * a[i].d;
        const float dmin = h2f(w[i].dmin) * a[i].d;
        acc += d * (float)hsum8i(sumi);
        accm += dmin * (float)summ;
    }
    return acc - accm;
}

CK_AVX2 float ck_dot_q6_K_q8_K(const void *vw, const void *va, int count) {
    const ck_q6_K *w = vw;
    const ck_q8_K *a = va;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(3);
    float acc = 0.0f;
    for (int i = 0; i < count; i++) {
        // The -32 offset goes through bsums: sum (q-32) y = sum q y - 32 sum y per 16-element sub-block.
        int offs = 0;
        for (int s = 0; s < 16; s++) offs += w[i].scales[s] * a[i].bsums[s];
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *L = w[i].ql + 64 * h;
            const uint8_t *H = w[i].qh + 32 * h;
            const int8_t *S = w[i].scales + 8 * h;
            const int8_t *Y = a[i].qs + 128 * h;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)L);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(L + 32));
            const __m256i hh = _mm256_loadu_si256((const __m256i *)H);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                const __m256i y = _mm256_loadu_si256((const __m256i *)(Y + 32 * k));
                const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(S[2 * k + 1]), _mm_set1_epi16(S[2 * k]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], y), scv));
            }
        }
        const float d = h2f(w[i].d) * a[i].d;
        acc += d * (float)(hsum8i(sumi) - 32 * offs);
    }
    return acc;
}

CK_AVX2 float ck_dot_f32_f32(const void *vw, const void *va, int count) {
    const float *w = vw, *a = va;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= count; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(a + i + 8), acc1);
    }
    float s = hsum8(_mm256_add_ps(acc0, acc1));
    for (; i < count; i++) s += w[i] * a[i];
    return s;
}

CK_AVX2 float ck_dot_f16_f32(const void *vw, const void *va, int count) {
    const uint16_t *w = vw;
    const float *a = va;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(a + i), acc0);
        acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(a + i + 8), acc1);
    }
    float s = hsum8(_mm256_add_ps(acc0, acc1));
    for (; i < count; i++) s += h2f(w[i]) * a[i];
    return s;
}

CK_AVX2 static inline __m256 bf16x8(const uint16_t *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

CK_AVX2 float ck_dot_bf16_f32(const void *vw, const void *va, int count) {
    const uint16_t *w = vw;
    const float *a = va;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= count; i += 16) {
        acc0 = _mm256_fmadd_ps(bf16x8(w + i), _mm256_loadu_ps(a + i), acc0);
        acc1 = _mm256_fmadd_ps(bf16x8(w + i + 8), _mm256_loadu_ps(a + i + 8), acc1);
    }
    float s = hsum8(_mm256_add_ps(acc0, acc1));
    for (; i < count; i++) {
        uint32_t bits = (uint32_t)w[i] << 16;
        float f;
        memcpy(&f, &bits, 4);
        s += f * a[i];
    }
    return s;
}

#else  // not x86_64: never called (ck_has_avx2() == 0); stubs keep the symbols defined.
float ck_dot_q8_0_q8_0(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_q4_0_q8_0(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_q5_0_q8_0(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_q4_K_q8_K(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_q5_K_q8_K(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_q6_K_q8_K(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_f32_f32(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_f16_f32(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
float ck_dot_bf16_f32(const void *w, const void *a, int count) { (void)w; (void)a; (void)count; return 0.0f; }
#endif
