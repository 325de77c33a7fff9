// f32 matmul C = A . B^T (+ bias) for the sentence encoder (SentenceEmbedder): both operands row-major with
// the reduction dimension contiguous, as PyTorch stores Linear weights [out, in].
// PRECONDITION: ck_has_avx2() == 1. The Swift side (EmbeddingMath.sgemmNT) keeps the scalar reference.
//
// NOTE: every output element is computed the same way wherever it lies (one 8-lane FMA accumulator over
// k, the same horizontal sum, then the scalar tail), so a row's result does not depend on how many other
// rows are in the call: a batch of sentences gives bit-identical results to one sentence at a time.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Finishes one element: horizontal sum, scalar tail from p to k, bias.
AVX2 static inline float finish(__m256 acc, const float *a, const float *b, int p, int k, float bias) {
    float s = hsum8(acc);
    for (; p < k; p++) s = __builtin_fmaf(a[p], b[p], s);
    return s + bias;
}

// One element (edges of the tiling); same arithmetic as an element of tile3x4.
AVX2 static void dot1(const float *a, const float *b, int k, float *c, float bias) {
    __m256 acc = _mm256_setzero_ps();
    int p = 0;
    for (; p + 8 <= k; p += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), acc);
    *c = finish(acc, a, b, p, k, bias);
}

// 3 rows of A x 4 rows of B: 12 accumulators + 3 A vectors + 1 B vector = 16 ymm registers.
AVX2 static void tile3x4(const float *a, long lda, const float *b, long ldb, int k, float *c, long ldc,
                         const float *bias) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda;
    const float *b0 = b, *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
    int p = 0;
    for (; p + 8 <= k; p += 8) {
        const __m256 x0 = _mm256_loadu_ps(a0 + p), x1 = _mm256_loadu_ps(a1 + p), x2 = _mm256_loadu_ps(a2 + p);
        __m256 w = _mm256_loadu_ps(b0 + p);
        c00 = _mm256_fmadd_ps(x0, w, c00); c10 = _mm256_fmadd_ps(x1, w, c10); c20 = _mm256_fmadd_ps(x2, w, c20);
        w = _mm256_loadu_ps(b1 + p);
        c01 = _mm256_fmadd_ps(x0, w, c01); c11 = _mm256_fmadd_ps(x1, w, c11); c21 = _mm256_fmadd_ps(x2, w, c21);
        w = _mm256_loadu_ps(b2 + p);
        c02 = _mm256_fmadd_ps(x0, w, c02); c12 = _mm256_fmadd_ps(x1, w, c12); c22 = _mm256_fmadd_ps(x2, w, c22);
        w = _mm256_loadu_ps(b3 + p);
        c03 = _mm256_fmadd_ps(x0, w, c03); c13 = _mm256_fmadd_ps(x1, w, c13); c23 = _mm256_fmadd_ps(x2, w, c23);
    }
    const float z0 = bias ? bias[0] : 0, z1 = bias ? bias[1] : 0, z2 = bias ? bias[2] : 0, z3 = bias ? bias[3] : 0;
    c[0] = finish(c00, a0, b0, p, k, z0); c[1] = finish(c01, a0, b1, p, k, z1);
    c[2] = finish(c02, a0, b2, p, k, z2); c[3] = finish(c03, a0, b3, p, k, z3);
    c += ldc;
    c[0] = finish(c10, a1, b0, p, k, z0); c[1] = finish(c11, a1, b1, p, k, z1);
    c[2] = finish(c12, a1, b2, p, k, z2); c[3] = finish(c13, a1, b3, p, k, z3);
    c += ldc;
    c[0] = finish(c20, a2, b0, p, k, z0); c[1] = finish(c21, a2, b1, p, k, z1);
    c[2] = finish(c22, a2, b2, p, k, z2); c[3] = finish(c23, a2, b3, p, k, z3);
}

AVX2 void ck_sgemm_nt(int m, int n, int k, const float *a, long lda, const float *b, long ldb, float *c,
                      long ldc, const float *bias) {
    // B is walked in blocks of about 64 KB so a block stays in L2 while all rows of A pass over it.
    int jb = (16384 / (k > 0 ? k : 1)) & ~3;
    if (jb < 4) jb = 4;
    for (int j0 = 0; j0 < n; j0 += jb) {
        const int j1 = j0 + jb < n ? j0 + jb : n;
        int i = 0;
        for (; i + 3 <= m; i += 3) {
            int j = j0;
            for (; j + 4 <= j1; j += 4)
                tile3x4(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc, bias ? bias + j : 0);
            for (; j < j1; j++)
                for (int r = 0; r < 3; r++)
                    dot1(a + (i + r) * lda, b + j * ldb, k, c + (i + r) * ldc + j, bias ? bias[j] : 0);
        }
        for (; i < m; i++)
            for (int j = j0; j < j1; j++) dot1(a + i * lda, b + j * ldb, k, c + i * ldc + j, bias ? bias[j] : 0);
    }
}

#else  // not x86_64: never called (ck_has_avx2() == 0); the stub keeps the symbol defined.
void ck_sgemm_nt(int m, int n, int k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                 const float *bias) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)c; (void)ldc; (void)bias;
}
#endif
