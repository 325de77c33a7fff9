// Activation packing and weight unpacking for the tiled matmul (layouts in ck_gemm_internal.h).
#include "ck_gemm_internal.h"
#include <string.h>

#if defined(__x86_64__)

size_t ck_packed_act_bytes(int kquant, int nblocks) {
    const size_t nb = (size_t)nblocks;
    return kquant ? ck_pad64(nb * 256) + ck_pad64(nb * 4) + ck_pad64(nb * 64) : ck_pad64(nb * 32) + 2 * ck_pad64(nb * 4);
}

CK_AVX2 void ck_pack_act(int kquant, const void *src, int nblocks, void *dst) {
    const uint8_t *s = src;
    uint8_t *qa = dst;
    const __m256i m80 = _mm256_set1_epi8((char)0x80);
    if (!kquant) {
        float *da = (float *)(qa + ck_pad64((size_t)nblocks * 32));
        int32_t *sa = (int32_t *)((uint8_t *)da + ck_pad64((size_t)nblocks * 4));
        for (int b = 0; b < nblocks; b++) {
            const uint8_t *blk = s + 34 * b;
            uint16_t h;
            memcpy(&h, blk, 2);
            da[b] = _cvtsh_ss(h);
            const __m256i a = _mm256_loadu_si256((const __m256i *)(blk + 2));
            _mm256_storeu_si256((__m256i *)(qa + 32 * b), _mm256_xor_si256(a, m80));
            // Σ a = Σ (a + 128) - 32·128, with sad against zero summing the unsigned bytes.
            const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(a, m80), _mm256_setzero_si256());
            const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
            sa[b] = (int32_t)(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1)) - 32 * 128;
        }
    } else {
        float *da = (float *)(qa + ck_pad64((size_t)nblocks * 256));
        float *v = (float *)((uint8_t *)da + ck_pad64((size_t)nblocks * 4));
        for (int b = 0; b < nblocks; b++) {
            const uint8_t *blk = s + 292 * b;
            float d;
            memcpy(&d, blk, 4);
            da[b] = d;
            for (int c = 0; c < 8; c++) {
                const __m256i x = _mm256_loadu_si256((const __m256i *)(blk + 4 + 32 * c));
                _mm256_storeu_si256((__m256i *)(qa + 256 * b + 32 * c), _mm256_xor_si256(x, m80));
            }
            for (int i = 0; i < 16; i++) {
                int16_t bs;
                memcpy(&bs, blk + 260 + 2 * i, 2);
                v[16 * b + i] = d * (float)bs;
            }
        }
    }
}

// Weight unpacking into the per-row scratch.

CK_AVX2 static inline __m256i nib32(const uint8_t *qs) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(lo, 4), lo), _mm256_set1_epi8(0x0F));
}

/// Byte j = 0xFF when bit j of the little-endian 32-bit word at p is set.
CK_AVX2 static inline __m256i bitmask32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                           0x0101010101010101LL, 0x0000000000000000LL);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

/// -128·Σ of each group of 4 signed bytes, as 8 int32 lanes.
CK_AVX2 static inline __m256i neg128_sum4(__m256i q) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8((char)0x80), q), _mm256_set1_epi16(-1));
}

CK_AVX2 void ck_unpack32(int kind, const uint8_t *row, int nb, ck_row32 r) {
    for (int b = 0; b < nb; b++) {
        __m256i q;
        uint16_t h;
        if (kind == CK_Q8_0) {
            const uint8_t *blk = row + 34 * b;
            memcpy(&h, blk, 2);
            q = _mm256_loadu_si256((const __m256i *)(blk + 2));
        } else if (kind == CK_Q5_0) {
            const uint8_t *blk = row + 22 * b;
            memcpy(&h, blk, 2);
            // (q4 | hbit << 4) - 16: q4 when hbit is set, q4 | 0xF0 (as int8) when it is clear.
            q = _mm256_or_si256(nib32(blk + 6), _mm256_andnot_si256(bitmask32(blk + 2), _mm256_set1_epi8((char)0xF0)));
        } else {  // Q4_0
            const uint8_t *blk = row + 18 * b;
            memcpy(&h, blk, 2);
            q = _mm256_sub_epi8(nib32(blk + 2), _mm256_set1_epi8(8));
        }
        _mm256_storeu_si256((__m256i *)(r.w + 32 * b), q);
        _mm256_storeu_si256((__m256i *)(r.init + 8 * b), neg128_sum4(q));
        _mm256_storeu_ps(r.dw + 8 * b, _mm256_set1_ps(_cvtsh_ss(h)));
    }
}

static inline void scale_min(const uint8_t *s, uint8_t *sc, uint8_t *m) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0xF) | ((s[j] >> 6) << 4);
        m[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
    }
}

CK_AVX2 void ck_unpackK(int kind, const uint8_t *row, int ns, ck_rowK r) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int s = 0; s < ns; s++) {
        int8_t *w = r.w + 256 * s;
        uint16_t h;
        if (kind == CK_Q6_K) {
            const uint8_t *blk = row + 210 * s;
            memcpy(&h, blk + 208, 2);
            const int8_t *S = (const int8_t *)(blk + 192);
            for (int half = 0; half < 2; half++) {
                const uint8_t *L = blk + 64 * half, *H = blk + 128 + 32 * half;
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)L);
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(L + 32));
                const __m256i hh = _mm256_loadu_si256((const __m256i *)H);
                const __m256i off = _mm256_set1_epi8(32);
                __m256i q[4];
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
                for (int k = 0; k < 4; k++) {
                    const __m256i c = _mm256_sub_epi8(q[k], off);
                    _mm256_storeu_si256((__m256i *)(w + 128 * half + 32 * k), c);
                    _mm256_storeu_si256((__m256i *)(r.init + 64 * s + 32 * half + 8 * k), neg128_sum4(c));
                }
            }
            // Lane L (elements 4L..4L+3) uses scales[L/4]: int16 in the low half, 0 in the high half.
            const __m256i e = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)S));
            const __m256i v[2] = { _mm256_cvtepu16_epi32(_mm256_castsi256_si128(e)),
                                   _mm256_cvtepu16_epi32(_mm256_extracti128_si256(e, 1)) };
            for (int c = 0; c < 8; c++) {
                const __m256i idx = _mm256_setr_epi32(2 * (c & 3), 2 * (c & 3), 2 * (c & 3), 2 * (c & 3),
                                                      2 * (c & 3) + 1, 2 * (c & 3) + 1, 2 * (c & 3) + 1, 2 * (c & 3) + 1);
                _mm256_storeu_si256((__m256i *)(r.sc + 64 * s + 8 * c), _mm256_permutevar8x32_epi32(v[c >> 2], idx));
            }
        } else {
            const int q5 = kind == CK_Q5_K;
            const uint8_t *blk = row + (q5 ? 176 : 144) * s;
            const uint8_t *qs = blk + (q5 ? 48 : 16);
            uint16_t hm;
            memcpy(&h, blk, 2);
            memcpy(&hm, blk + 2, 2);
            uint8_t sc[8], m[8];
            scale_min(blk + 4, sc, m);
            const __m256i hb = q5 ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
            for (int g = 0; g < 4; g++) {
                const __m256i b = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
                __m256i lo = _mm256_and_si256(b, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
                if (q5) {
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g), one), 4));
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g + 1), one), 4));
                }
                _mm256_storeu_si256((__m256i *)(w + 64 * g), lo);
                _mm256_storeu_si256((__m256i *)(w + 64 * g + 32), hi);
                _mm256_storeu_si256((__m256i *)(r.init + 64 * s + 16 * g), neg128_sum4(lo));
                _mm256_storeu_si256((__m256i *)(r.init + 64 * s + 16 * g + 8), neg128_sum4(hi));
            }
            for (int c = 0; c < 8; c++) _mm256_storeu_si256((__m256i *)(r.sc + 64 * s + 8 * c), _mm256_set1_epi32(sc[c]));
            uint64_t m8;
            memcpy(&m8, m, 8);
            const __m256 mf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)m8)));
            const __m256 dm = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(hm)), mf);  // dmin·m_j, j = 0..7
            _mm256_storeu_ps(r.u + 16 * s, _mm256_permutevar8x32_ps(dm, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)));
            _mm256_storeu_ps(r.u + 16 * s + 8, _mm256_permutevar8x32_ps(dm, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)));
        }
        r.d[s] = _cvtsh_ss(h);
    }
}

#else  // not x86_64: never called (ck_has_avx2() == 0).
size_t ck_packed_act_bytes(int kquant, int nblocks) { (void)kquant; (void)nblocks; return 0; }
void ck_pack_act(int kquant, const void *src, int nblocks, void *dst) { (void)kquant; (void)src; (void)nblocks; (void)dst; }
#endif
