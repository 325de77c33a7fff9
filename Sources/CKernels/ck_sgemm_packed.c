// f32 matmul C = A . B^T (+ bias) against a weight matrix B packed once at load: the sentence encoder's Linear
// layers (NumericCore.PackedLinear packs and owns B and keeps the scalar reference). B [n, k] (PyTorch Linear
// [out, in], k contiguous) is stored as panels of CK_SGEMM_NR = 32 output columns, k-major inside a panel:
// packed[P * 32 * k + p * 32 + jj] = B[32 P + jj, p] (columns past n are zero). The microkernel is an outer
// product: per p, the panel's 32 floats (2 zmm / 4 ymm) times MR broadcast elements of A (MR rows), with the
// MR x 32 accumulators in registers. PRECONDITION: level 2 needs ck_has_avx512f(), level 1 ck_has_avx2().
//
// NOTE: every output element is computed by the same arithmetic wherever it lies and whatever m, n and the
// thread split are: sum = 0; for each block of CK_SGEMM_KC = 64 consecutive p (the last one shorter), in order:
// acc = 0, acc = fma(A[i, p], B[j, p], acc) over the block in order, sum = sum + acc; then sum + bias[j].
// (The two-level sum keeps the rounding error near that of a 64-term sum: measured max relative error 3e-8 of
// sum |terms| at k = 1536, against 2e-7 for one sequential sum; bench/openblas.)
// FMA is exact per lane, so the AVX-512 kernel, the AVX2 kernel and PackedLinear's scalar reference give
// bit-identical results, and a sentence's rows are the same alone and in a batch.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
// Rows of A per block: about 384 KB of A, so a block stays in the 1 MB L2 while every panel of B passes over it
// (measured at 64 KB, 192 KB, 384 KB and unblocked on Zen 4: 384 KB best by 1-4% at 2048 rows).
#define MC_BYTES (384 * 1024)

// ---- AVX-512: MR rows x 32 columns (2 zmm per row); MR <= 12 -> 24 accumulators + 2 panel vectors. ----

INLINE AVX512 void tile512(const int mr, int k, const float *a, long lda, const float *bp, float *c, long ldc,
                           const float *bias, __mmask16 m0, __mmask16 m1) {
    __m512 acc0[12], acc1[12], sum0[12], sum1[12];
    for (int r = 0; r < mr; r++) { sum0[r] = _mm512_setzero_ps(); sum1[r] = _mm512_setzero_ps(); }
    for (int p0 = 0; p0 < k; p0 += CK_SGEMM_KC) {
        const int p1 = p0 + CK_SGEMM_KC < k ? p0 + CK_SGEMM_KC : k;
        for (int r = 0; r < mr; r++) { acc0[r] = _mm512_setzero_ps(); acc1[r] = _mm512_setzero_ps(); }
        for (int p = p0; p < p1; p++) {
            const __m512 b0 = _mm512_load_ps(bp + (long)p * CK_SGEMM_NR);
            const __m512 b1 = _mm512_load_ps(bp + (long)p * CK_SGEMM_NR + 16);
            for (int r = 0; r < mr; r++) {
                const __m512 x = _mm512_set1_ps(a[r * lda + p]);
                acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
            }
        }
        for (int r = 0; r < mr; r++) {
            sum0[r] = _mm512_add_ps(sum0[r], acc0[r]);
            sum1[r] = _mm512_add_ps(sum1[r], acc1[r]);
        }
    }
    if (bias) {
        const __m512 z0 = _mm512_maskz_loadu_ps(m0, bias), z1 = _mm512_maskz_loadu_ps(m1, bias + 16);
        for (int r = 0; r < mr; r++) { sum0[r] = _mm512_add_ps(sum0[r], z0); sum1[r] = _mm512_add_ps(sum1[r], z1); }
    }
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(c + r * ldc, m0, sum0[r]);
        _mm512_mask_storeu_ps(c + r * ldc + 16, m1, sum1[r]);
    }
}

AVX512 static void panel512(int m, int k, const float *a, long lda, const float *bp, float *c, long ldc,
                            const float *bias, int cols) {
    const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    int i = 0;
    for (; i + 12 <= m; i += 12) tile512(12, k, a + i * lda, lda, bp, c + i * ldc, ldc, bias, m0, m1);
    switch (m - i) {
    case 0: break;
#define T(R) case R: tile512(R, k, a + i * lda, lda, bp, c + i * ldc, ldc, bias, m0, m1); break;
    T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8) T(9) T(10) T(11)
#undef T
    }
}

AVX512 static void sgemm_packed512(int m, int n, int k, const float *a, long lda, const float *packed, float *c,
                                   long ldc, const float *bias) {
    // Row blocks of MC_BYTES (a multiple of 12 rows): changes only the order of the tiles, never an element's sums.
    int mc = MC_BYTES / (4 * (k > 0 ? k : 1)) / 12 * 12;
    if (mc < 12) mc = 12;
    for (int i0 = 0; i0 < m; i0 += mc) {
        const int rows = m - i0 < mc ? m - i0 : mc;
        for (int j = 0; j < n; j += CK_SGEMM_NR)
            panel512(rows, k, a + (long)i0 * lda, lda, packed + (long)j * k, c + (long)i0 * ldc + j, ldc,
                     bias ? bias + j : 0, n - j);
    }
}

// ---- AVX2: MR rows x 32 columns (4 ymm per row); MR <= 3 -> 12 accumulators + 4 panel vectors. ----

INLINE AVX2 void tile256(const int mr, int k, const float *a, long lda, const float *bp, float *c, long ldc,
                         const float *bias, int cols) {
    __m256 acc[3][4], sum[3][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) sum[r][v] = _mm256_setzero_ps();
    for (int p0 = 0; p0 < k; p0 += CK_SGEMM_KC) {
        const int p1 = p0 + CK_SGEMM_KC < k ? p0 + CK_SGEMM_KC : k;
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < 4; v++) acc[r][v] = _mm256_setzero_ps();
        for (int p = p0; p < p1; p++) {
            const float *row = bp + (long)p * CK_SGEMM_NR;
            const __m256 b0 = _mm256_load_ps(row), b1 = _mm256_load_ps(row + 8);
            const __m256 b2 = _mm256_load_ps(row + 16), b3 = _mm256_load_ps(row + 24);
            for (int r = 0; r < mr; r++) {
                const __m256 x = _mm256_broadcast_ss(a + r * lda + p);
                acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
                acc[r][2] = _mm256_fmadd_ps(x, b2, acc[r][2]);
                acc[r][3] = _mm256_fmadd_ps(x, b3, acc[r][3]);
            }
        }
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < 4; v++) sum[r][v] = _mm256_add_ps(sum[r][v], acc[r][v]);
    }
    for (int r = 0; r < mr; r++) {
        float out[CK_SGEMM_NR];
        for (int v = 0; v < 4; v++) _mm256_storeu_ps(out + 8 * v, sum[r][v]);
        for (int jj = 0; jj < cols; jj++) c[r * ldc + jj] = bias ? out[jj] + bias[jj] : out[jj];
    }
}

AVX2 static void sgemm_packed256(int m, int n, int k, const float *a, long lda, const float *packed, float *c,
                                 long ldc, const float *bias) {
    for (int j = 0; j < n; j += CK_SGEMM_NR) {
        const float *bp = packed + (long)j * k, *z = bias ? bias + j : 0;
        const int cols = n - j < CK_SGEMM_NR ? n - j : CK_SGEMM_NR;
        int i = 0;
        for (; i + 3 <= m; i += 3) tile256(3, k, a + i * lda, lda, bp, c + i * ldc + j, ldc, z, cols);
        if (m - i == 2) tile256(2, k, a + i * lda, lda, bp, c + i * ldc + j, ldc, z, cols);
        if (m - i == 1) tile256(1, k, a + i * lda, lda, bp, c + i * ldc + j, ldc, z, cols);
    }
}

void ck_sgemm_packed(int level, int m, int n, int k, const float *a, long lda, const float *packed, float *c,
                     long ldc, const float *bias) {
    if (level == 2) sgemm_packed512(m, n, k, a, lda, packed, c, ldc, bias);
    else sgemm_packed256(m, n, k, a, lda, packed, c, ldc, bias);
}

#else  // not x86_64: never called (ck_has_avx2() == 0); the stubs keep the symbols defined.
void ck_sgemm_packed(int level, int m, int n, int k, const float *a, long lda, const float *packed, float *c,
                     long ldc, const float *bias) {
    (void)level; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)c; (void)ldc; (void)bias;
}
#endif
