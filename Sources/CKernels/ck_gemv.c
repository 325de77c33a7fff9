// One-token (decode) loop for Q5_0 / Q8_0 weights with AVX-512 VNNI (see ck_gemm_internal.h).
#include "ck_gemm_internal.h"
#include <string.h>

#if defined(__x86_64__)

// ---------------------------------------------------------------------------------------------
// One token (decode), AVX-512 VNNI, Q5_0 / Q8_0: no unpack scratch (each weight byte is used once, so
// the unpack goes straight into vpdpbusd), the row loop in C (no per-row call from Swift).
// ---------------------------------------------------------------------------------------------

/// Σ_j q_j·a_j of one Q5_0 / Q8_0 block as 8 int32 lanes (lane i: bytes 4i..4i+3), from the signed
/// activations a (in -127...127). llama.cpp's sign trick |w|·sign(a, w) for both; Q5_0's 5-bit q is built
/// with one masked add (bit j of qh -> +16 in byte j), then -16. Every lane holds exactly its own 4 products,
/// as in the tiled kernels (ck_gemm.c), so the float sums match them bit for bit (batch invariance: a token
/// decoded alone gets the same logits as in a batch or a speculative verification). `sa` is unused.
CK_VNNI CK_INLINE __m256i block_dot_vnni(const int q8, const uint8_t *blk, __m256i a, int32_t sa) {
    if (q8) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(blk + 2));
        return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), _mm256_sign_epi8(a, x));
    }
    uint32_t qh;
    memcpy(&qh, blk + 2, 4);
    const __m128i lo = _mm_loadu_si128((const __m128i *)(blk + 6));
    const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(lo, 4), lo), _mm256_set1_epi8(0x0F));
    const __m256i q = _mm256_sub_epi8(_mm256_mask_add_epi8(nib, (__mmask32)qh, nib, _mm256_set1_epi8(0x10)),
                                      _mm256_set1_epi8(0x10));
    (void)sa;
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(q), _mm256_sign_epi8(a, q));
}

/// One weight row . the packed activation row, two blocks per step into two accumulators.
/// NOTE: one row at a time on purpose: interleaving 2-4 rows (to share the activation loads) measured
/// 1.5-2x slower at T = 1 here, as the hardware prefetcher then follows several short strided streams.
CK_VNNI CK_INLINE float gemv32_row_vnni(const int q8, const uint8_t *w, const uint8_t *act, int nb) {
    const float *da = (const float *)(act + ck_pad64((size_t)nb * 32));
    const int32_t *sa = (const int32_t *)((const uint8_t *)da + ck_pad64((size_t)nb * 4));
    const __m256i m80 = _mm256_set1_epi8((char)0x80);
    const size_t bs = q8 ? 34 : 22;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int k = 0;
    for (; k + 2 <= nb; k += 2) {
        const __m256i a0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(act + 32 * k)), m80);
        const __m256i a1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(act + 32 * k + 32)), m80);
        const __m256i p0 = block_dot_vnni(q8, w + bs * k, a0, sa[k]);
        const __m256i p1 = block_dot_vnni(q8, w + bs * (k + 1), a1, sa[k + 1]);
        uint16_t h0, h1;
        memcpy(&h0, w + bs * k, 2);
        memcpy(&h1, w + bs * (k + 1), 2);
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(_cvtsh_ss(h0) * da[k]), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(_cvtsh_ss(h1) * da[k + 1]), acc1);
    }
    if (k < nb) {
        const __m256i a0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(act + 32 * k)), m80);
        const __m256i p0 = block_dot_vnni(q8, w + bs * k, a0, sa[k]);
        uint16_t h0;
        memcpy(&h0, w + bs * k, 2);
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(_cvtsh_ss(h0) * da[k]), acc0);
    }
    return hsum256(_mm256_add_ps(acc0, acc1));
}

CK_VNNI void ck_gemv32_vnni(int q8, const uint8_t *w, size_t rowBytes, int nrows, const uint8_t *act,
                                     int nb, float *out) {
    for (int r = 0; r < nrows; r++) {
        out[r] = q8 ? gemv32_row_vnni(1, w + (size_t)r * rowBytes, act, nb) : gemv32_row_vnni(0, w + (size_t)r * rowBytes, act, nb);
    }
}

#endif
