// AVX2 activation quantization to Q8_0 / Q8_K (see ckernels.h), bit-identical to the Swift reference in
// Tensor/Quant/ActivationQuant.swift: the same f32 operations in the same order (no FMA contraction),
// round-half-even through vcvtps2dq (the default MXCSR mode) where Swift uses the 1.5·2^23 trick,
// and the f16 block scale through F16C with round-to-nearest-even like Half.fromFloat.
// Also the KV cache's Q8_0 rows (ck_quantize_q8_0_ref: llama.cpp's reference rounding), bit-identical to
// NumericCore's Q8_0Row.quantizeScalar.
#include "ckernels.h"
#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))

CK_AVX2 static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/// 32 int32 (four vectors, element order) -> 32 int8 in element order (saturating, values are in range).
CK_AVX2 static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i x = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(x, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

CK_AVX2 void ck_quantize_q8_0(const float *x, void *dst, int nblocks) {
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    uint8_t *out = dst;
    for (int b = 0; b < nblocks; b++) {
        const float *s = x + 32 * b;
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(s + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(signBit, v[i]));
        }
        const float amax = hmax8(m);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        const uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(out + 34 * b, &h, 2);
        const __m256 idv = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], idv));
        _mm256_storeu_si256((__m256i *)(out + 34 * b + 2), pack32(q[0], q[1], q[2], q[3]));
    }
}

// C's roundf (half away from zero), exactly: truncate, then step away from zero when the dropped part
// (v - trunc(v), exact in floating point) is >= 0.5. NaN and infinities give 0.
CK_AVX2 static inline __m256 round_away8(__m256 v) {
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(signBit, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_or_ps(_mm256_and_ps(signBit, v), _mm256_set1_ps(1.0f));
    const __m256 r = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
    return _mm256_and_ps(r, _mm256_cmp_ps(_mm256_andnot_ps(signBit, r), _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
}

CK_AVX2 void ck_quantize_q8_0_ref(const float *x, void *dst, int nblocks) {
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    uint8_t *out = dst;
    for (int b = 0; b < nblocks; b++) {
        const float *s = x + 32 * b;
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(s + 8 * i);
            m = _mm256_max_ps(_mm256_andnot_ps(signBit, v[i]), m);   // a NaN lane keeps m
        }
        const float amax = hmax8(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(out + 34 * b, &h, 2);
        const __m256 idv = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(round_away8(_mm256_mul_ps(v[i], idv)));
        _mm256_storeu_si256((__m256i *)(out + 34 * b + 2), pack32(q[0], q[1], q[2], q[3]));
    }
}

CK_AVX2 void ck_quantize_q8_K(const float *x, void *dst, int nblocks) {
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    uint8_t *out = dst;
    for (int b = 0; b < nblocks; b++) {
        const float *s = x + 256 * b;
        uint8_t *blk = out + 292 * b;
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 32; i++) m = _mm256_max_ps(m, _mm256_andnot_ps(signBit, _mm256_loadu_ps(s + 8 * i)));
        const float amax = hmax8(m);
        if (amax == 0.0f) {
            memset(blk, 0, 292);
            continue;
        }
        // The signed value of largest magnitude, first one on ties (as the reference's strict '>' scan).
        float smax = 0.0f;
        for (int i = 0; i < 32; i++) {
            const __m256 a = _mm256_andnot_ps(signBit, _mm256_loadu_ps(s + 8 * i));
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                smax = s[8 * i + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.0f / smax;
        const __m256 isv = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127);
        int16_t bsums[16];
        for (int c = 0; c < 8; c++) {
            __m256i q[4];
            for (int i = 0; i < 4; i++) {
                q[i] = _mm256_min_epi32(top, _mm256_cvtps_epi32(_mm256_mul_ps(isv, _mm256_loadu_ps(s + 32 * c + 8 * i))));
            }
            // Sums of 16 consecutive quants (bsums), from the int32 lanes before packing.
            const __m256i s01 = _mm256_add_epi32(q[0], q[1]), s23 = _mm256_add_epi32(q[2], q[3]);
            const __m256i h = _mm256_hadd_epi32(s01, s23);  // [s01 0+1, 2+3, s23 0+1, 2+3 | s01 4+5, 6+7, s23 4+5, 6+7]
            const __m128i t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
            const __m128i u = _mm_hadd_epi32(t, t);  // [sum q0q1, sum q2q3, ...]
            bsums[2 * c] = (int16_t)_mm_extract_epi32(u, 0);
            bsums[2 * c + 1] = (int16_t)_mm_extract_epi32(u, 1);
            _mm256_storeu_si256((__m256i *)(blk + 4 + 32 * c), pack32(q[0], q[1], q[2], q[3]));
        }
        memcpy(blk + 260, bsums, 32);
        const float d = 1.0f / iscale;
        memcpy(blk, &d, 4);
    }
}

#else  // not x86_64: never called (ck_has_avx2() == 0).
void ck_quantize_q8_0(const float *x, void *dst, int nblocks) { (void)x; (void)dst; (void)nblocks; }
void ck_quantize_q8_0_ref(const float *x, void *dst, int nblocks) { (void)x; (void)dst; (void)nblocks; }
void ck_quantize_q8_K(const float *x, void *dst, int nblocks) { (void)x; (void)dst; (void)nblocks; }
#endif
