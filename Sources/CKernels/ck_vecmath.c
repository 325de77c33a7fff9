// Element-wise f32 kernels of the forward pass (activations, softmax, attention dot/axpy) with AVX2+FMA.
// Swift compiles for baseline x86-64 (SSE2), where its SIMD16 code ran 4 lanes at a time; these run 8.
// PRECONDITION (all ck_v*): ck_has_avx2() == 1. The Swift side keeps scalar versions for other CPUs.
#include "ckernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

// e^x, Cephes polynomial after range reduction; relative error < 2e-7 on [-87.3, 88.7]; 0 below.
AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.7f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_and_ps(y, _mm256_cmp_ps(x, lo, _CMP_GE_OQ));
}

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 void ck_vgelu_tanh_mul(float *g, const float *u, long n) {
    const __m256 c0 = _mm256_set1_ps(0.7978845608f), c1 = _mm256_set1_ps(0.044715f);
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        __m256 z = _mm256_mul_ps(c0, _mm256_fmadd_ps(c1, x3, x));
        // tanh(z) = 1 - 2 / (e^{2z} + 1)
        __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp8(_mm256_add_ps(z, z)), one)));
        __m256 y = _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, t));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(y, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) {
        float x = g[i];
        float z = 0.7978845608f * (x + 0.044715f * x * x * x);
        float e = 0;
        __m256 ev = exp8(_mm256_set1_ps(2 * z));
        e = _mm256_cvtss_f32(ev);
        g[i] = 0.5f * x * (1.0f + (1.0f - 2.0f / (e + 1.0f))) * u[i];
    }
}

AVX2 void ck_vsilu_mul(float *g, const float *u, long n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 y = _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(y, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) {
        float e = _mm256_cvtss_f32(exp8(_mm256_set1_ps(-g[i])));
        g[i] = g[i] / (1.0f + e) * u[i];
    }
}

AVX2 void ck_vsoftmax(float *x, long n) {
    float m = -INFINITY;
    long i = 0;
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    m = _mm_cvtss_f32(m4);
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    mv = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    double sum = 0;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    sum = hsum8(acc);
    for (; i < n; i++) {
        float e = _mm256_cvtss_f32(exp8(_mm256_set1_ps(x[i] - m)));
        x[i] = e;
        sum += e;
    }
    const float inv = (float)(1.0 / sum);
    const __m256 iv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
    for (; i < n; i++) x[i] *= inv;
}

AVX2 float ck_vdot(const float *a, const float *b, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

AVX2 void ck_vaxpy(float s, const float *x, float *y, long n) {
    const __m256 sv = _mm256_set1_ps(s);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(sv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += s * x[i];
}

#else  // not x86_64: never called (ck_has_avx2() == 0); stubs keep the symbols defined.
void ck_vgelu_tanh_mul(float *g, const float *u, long n) { (void)g; (void)u; (void)n; }
void ck_vsilu_mul(float *g, const float *u, long n) { (void)g; (void)u; (void)n; }
void ck_vsoftmax(float *x, long n) { (void)x; (void)n; }
float ck_vdot(const float *a, const float *b, long n) { (void)a; (void)b; (void)n; return 0; }
void ck_vaxpy(float s, const float *x, float *y, long n) { (void)s; (void)x; (void)y; (void)n; }
#endif

#if defined(__x86_64__)
#define AVX2F16 __attribute__((target("avx2,fma,f16c")))
// Loads of 8 cache elements as f32: f32 as is, f16 converted in registers (F16C).
#define LOAD_F32(p) _mm256_loadu_ps(p)
#define LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))

// S[h][j] = scale * q_h . k_j for HN heads at once: each 8-element chunk of a key row is loaded once.
#define DEFINE_QK(NAME, T, LOAD, HN)                                                                       \
    AVX2F16 static void NAME##_##HN(const float *q, int hd, const T *const *kblk, int bs, int stride,     \
                                    int lo, int count, float scale, float *scores) {                       \
        const int b0 = lo / bs;                                                                            \
        for (int j = 0; j < count; j++) {                                                                  \
            const int p = lo + j;                                                                          \
            const T *k = kblk[p / bs - b0] + (p % bs) * stride;                                            \
            __m256 acc[HN];                                                                                \
            for (int h = 0; h < HN; h++) acc[h] = _mm256_setzero_ps();                                     \
            for (int d = 0; d < hd; d += 8) {                                                              \
                const __m256 kv = LOAD(k + d);                                                             \
                for (int h = 0; h < HN; h++)                                                               \
                    acc[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + h * hd + d), kv, acc[h]);                 \
            }                                                                                              \
            for (int h = 0; h < HN; h++) scores[h * count + j] = hsum8(acc[h]) * scale;                    \
        }                                                                                                  \
    }

// out[d0 ..< d0+64] = Σ_j p[j] v_j[d0 ..< d0+64] with 8 accumulators in registers.
#define DEFINE_PV(NAME, T, LOAD)                                                                           \
    AVX2F16 static void NAME(const float *p, const T *const *vblk, int bs, int stride, int lo, int count,  \
                             int d0, float *out) {                                                         \
        const int b0 = lo / bs;                                                                            \
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0;    \
        for (int j = 0; j < count; j++) {                                                                  \
            const int pos = lo + j;                                                                        \
            const T *v = vblk[pos / bs - b0] + (pos % bs) * stride + d0;                                   \
            const __m256 pv = _mm256_set1_ps(p[j]);                                                        \
            o0 = _mm256_fmadd_ps(pv, LOAD(v), o0);                                                         \
            o1 = _mm256_fmadd_ps(pv, LOAD(v + 8), o1);                                                     \
            o2 = _mm256_fmadd_ps(pv, LOAD(v + 16), o2);                                                    \
            o3 = _mm256_fmadd_ps(pv, LOAD(v + 24), o3);                                                    \
            o4 = _mm256_fmadd_ps(pv, LOAD(v + 32), o4);                                                    \
            o5 = _mm256_fmadd_ps(pv, LOAD(v + 40), o5);                                                    \
            o6 = _mm256_fmadd_ps(pv, LOAD(v + 48), o6);                                                    \
            o7 = _mm256_fmadd_ps(pv, LOAD(v + 56), o7);                                                    \
        }                                                                                                  \
        _mm256_storeu_ps(out, o0); _mm256_storeu_ps(out + 8, o1); _mm256_storeu_ps(out + 16, o2);          \
        _mm256_storeu_ps(out + 24, o3); _mm256_storeu_ps(out + 32, o4); _mm256_storeu_ps(out + 40, o5);    \
        _mm256_storeu_ps(out + 48, o6); _mm256_storeu_ps(out + 56, o7);                                    \
    }

// Attention of `hn` (1, 2, 4 or 8) query heads (contiguous, hd floats each, hd % 64 == 0) sharing one KV
// head, over key positions lo ..< lo + count of a paged cache: position p lives in block
// kblk/vblk[p / bs - lo / bs] (first slot of the block, offset to this KV head) at slot p % bs, rows
// `stride` elements apart. scores: scratch [hn, count]. out: [hn, hd].
#define DEFINE_ATTEND(NAME, T, QK, PV)                                                                     \
    AVX2F16 void NAME(const float *q, int hn, int hd, const T *const *kblk, const T *const *vblk, int bs,  \
                      int stride, int lo, int count, float scale, float *scores, float *out) {             \
        switch (hn) {                                                                                      \
        case 1: QK##_1(q, hd, kblk, bs, stride, lo, count, scale, scores); break;                          \
        case 2: QK##_2(q, hd, kblk, bs, stride, lo, count, scale, scores); break;                          \
        case 4: QK##_4(q, hd, kblk, bs, stride, lo, count, scale, scores); break;                          \
        default: QK##_8(q, hd, kblk, bs, stride, lo, count, scale, scores); break;                         \
        }                                                                                                  \
        for (int h = 0; h < hn; h++) ck_vsoftmax(scores + h * count, count);                               \
        for (int h = 0; h < hn; h++)                                                                       \
            for (int d0 = 0; d0 < hd; d0 += 64)                                                            \
                PV(scores + h * count, vblk, bs, stride, lo, count, d0, out + h * hd + d0);                \
    }

DEFINE_QK(qk, float, LOAD_F32, 1)
DEFINE_QK(qk, float, LOAD_F32, 2)
DEFINE_QK(qk, float, LOAD_F32, 4)
DEFINE_QK(qk, float, LOAD_F32, 8)
DEFINE_PV(pv_64, float, LOAD_F32)
DEFINE_ATTEND(ck_vattend, float, qk, pv_64)

DEFINE_QK(qk_f16, uint16_t, LOAD_F16, 1)
DEFINE_QK(qk_f16, uint16_t, LOAD_F16, 2)
DEFINE_QK(qk_f16, uint16_t, LOAD_F16, 4)
DEFINE_QK(qk_f16, uint16_t, LOAD_F16, 8)
DEFINE_PV(pv_64_f16, uint16_t, LOAD_F16)
DEFINE_ATTEND(ck_vattend_f16, uint16_t, qk_f16, pv_64_f16)

// Q8_0 rows (ggml's block_q8_0: an f16 scale d, then 32 int8 q; element i = d * q[i]), read where they lie.
#define Q8_BLOCK_BYTES 34

// 8 int8 quants as f32 (exact).
AVX2F16 static inline __m256 load_q8x8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

// The scale of the block at `blk` (2 bytes, possibly unaligned) as f32.
AVX2F16 static inline float q8_scale(const uint8_t *blk) {
    uint16_t h;
    memcpy(&h, blk, sizeof h);
    return _cvtsh_ss(h);
}

// S[h][j] = scale * Σ_b d_b (q_h[b] . k_j[b]) over the 32-blocks b of a key row, for HN heads at once: each
// block is converted once for all heads.
#define DEFINE_QK_Q8(HN)                                                                                   \
    AVX2F16 static void qk_q8_0_##HN(const float *q, int hd, const uint8_t *const *kblk, int bs,           \
                                     size_t rowBytes, int lo, int count, float scale, float *scores) {     \
        const int b0 = lo / bs;                                                                            \
        for (int j = 0; j < count; j++) {                                                                  \
            const int p = lo + j;                                                                          \
            const uint8_t *k = kblk[p / bs - b0] + (size_t)(p % bs) * rowBytes;                            \
            __m256 acc[HN];                                                                                \
            for (int h = 0; h < HN; h++) acc[h] = _mm256_setzero_ps();                                     \
            for (int d = 0; d < hd; d += 32, k += Q8_BLOCK_BYTES) {                                        \
                const __m256 dv = _mm256_set1_ps(q8_scale(k));                                             \
                const int8_t *qs = (const int8_t *)(k + 2);                                                \
                const __m256 k0 = load_q8x8(qs), k1 = load_q8x8(qs + 8);                                   \
                const __m256 k2 = load_q8x8(qs + 16), k3 = load_q8x8(qs + 24);                             \
                for (int h = 0; h < HN; h++) {                                                             \
                    const float *qh = q + h * hd + d;                                                      \
                    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(qh), k0);                                     \
                    s = _mm256_fmadd_ps(_mm256_loadu_ps(qh + 8), k1, s);                                   \
                    s = _mm256_fmadd_ps(_mm256_loadu_ps(qh + 16), k2, s);                                  \
                    s = _mm256_fmadd_ps(_mm256_loadu_ps(qh + 24), k3, s);                                  \
                    acc[h] = _mm256_fmadd_ps(dv, s, acc[h]);                                               \
                }                                                                                          \
            }                                                                                              \
            for (int h = 0; h < HN; h++) scores[h * count + j] = hsum8(acc[h]) * scale;                    \
        }                                                                                                  \
    }

DEFINE_QK_Q8(1)
DEFINE_QK_Q8(2)
DEFINE_QK_Q8(4)
DEFINE_QK_Q8(8)

// out[d0 ..< d0+64] = Σ_j (p[j] d) v_j[d0 ..< d0+64]: the two 32-blocks of the chunk, each with its scale.
AVX2F16 static void pv_64_q8_0(const float *p, const uint8_t *const *vblk, int bs, size_t rowBytes, int lo,
                               int count, int d0, float *out) {
    const int b0 = lo / bs;
    __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0;
    for (int j = 0; j < count; j++) {
        const int pos = lo + j;
        const uint8_t *v = vblk[pos / bs - b0] + (size_t)(pos % bs) * rowBytes + (size_t)(d0 / 32) * Q8_BLOCK_BYTES;
        const __m256 s0 = _mm256_set1_ps(p[j] * q8_scale(v));
        const __m256 s1 = _mm256_set1_ps(p[j] * q8_scale(v + Q8_BLOCK_BYTES));
        const int8_t *a = (const int8_t *)(v + 2), *b = (const int8_t *)(v + Q8_BLOCK_BYTES + 2);
        o0 = _mm256_fmadd_ps(s0, load_q8x8(a), o0);
        o1 = _mm256_fmadd_ps(s0, load_q8x8(a + 8), o1);
        o2 = _mm256_fmadd_ps(s0, load_q8x8(a + 16), o2);
        o3 = _mm256_fmadd_ps(s0, load_q8x8(a + 24), o3);
        o4 = _mm256_fmadd_ps(s1, load_q8x8(b), o4);
        o5 = _mm256_fmadd_ps(s1, load_q8x8(b + 8), o5);
        o6 = _mm256_fmadd_ps(s1, load_q8x8(b + 16), o6);
        o7 = _mm256_fmadd_ps(s1, load_q8x8(b + 24), o7);
    }
    _mm256_storeu_ps(out, o0); _mm256_storeu_ps(out + 8, o1); _mm256_storeu_ps(out + 16, o2);
    _mm256_storeu_ps(out + 24, o3); _mm256_storeu_ps(out + 32, o4); _mm256_storeu_ps(out + 40, o5);
    _mm256_storeu_ps(out + 48, o6); _mm256_storeu_ps(out + 56, o7);
}

AVX2F16 void ck_vattend_q8_0(const float *q, int hn, int hd, const void *const *kblk, const void *const *vblk,
                             int bs, int stride, int lo, int count, float scale, float *scores, float *out) {
    const size_t rowBytes = (size_t)(stride / 32) * Q8_BLOCK_BYTES;
    const uint8_t *const *kb = (const uint8_t *const *)kblk;
    const uint8_t *const *vb = (const uint8_t *const *)vblk;
    switch (hn) {
    case 1: qk_q8_0_1(q, hd, kb, bs, rowBytes, lo, count, scale, scores); break;
    case 2: qk_q8_0_2(q, hd, kb, bs, rowBytes, lo, count, scale, scores); break;
    case 4: qk_q8_0_4(q, hd, kb, bs, rowBytes, lo, count, scale, scores); break;
    default: qk_q8_0_8(q, hd, kb, bs, rowBytes, lo, count, scale, scores); break;
    }
    for (int h = 0; h < hn; h++) ck_vsoftmax(scores + h * count, count);
    for (int h = 0; h < hn; h++)
        for (int d0 = 0; d0 < hd; d0 += 64)
            pv_64_q8_0(scores + h * count, vb, bs, rowBytes, lo, count, d0, out + h * hd + d0);
}

// f32 <-> IEEE half, round to nearest even (F16C).
AVX2F16 void ck_f32_to_f16(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(src[i]), _MM_FROUND_TO_NEAREST_INT), 0);
}

AVX2F16 void ck_f16_to_f32(const uint16_t *src, float *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, LOAD_F16(src + i));
    for (; i < n; i++) dst[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(src[i])));
}
#else
void ck_vattend(const float *q, int hn, int hd, const float *const *kblk, const float *const *vblk, int bs,
                int stride, int lo, int count, float scale, float *scores, float *out) {
    (void)q; (void)hn; (void)hd; (void)kblk; (void)vblk; (void)bs; (void)stride; (void)lo; (void)count;
    (void)scale; (void)scores; (void)out;
}
void ck_vattend_f16(const float *q, int hn, int hd, const uint16_t *const *kblk, const uint16_t *const *vblk,
                    int bs, int stride, int lo, int count, float scale, float *scores, float *out) {
    (void)q; (void)hn; (void)hd; (void)kblk; (void)vblk; (void)bs; (void)stride; (void)lo; (void)count;
    (void)scale; (void)scores; (void)out;
}
void ck_vattend_q8_0(const float *q, int hn, int hd, const void *const *kblk, const void *const *vblk, int bs,
                     int stride, int lo, int count, float scale, float *scores, float *out) {
    (void)q; (void)hn; (void)hd; (void)kblk; (void)vblk; (void)bs; (void)stride; (void)lo; (void)count;
    (void)scale; (void)scores; (void)out;
}
void ck_f32_to_f16(const float *src, uint16_t *dst, long n) { (void)src; (void)dst; (void)n; }
void ck_f16_to_f32(const uint16_t *src, float *dst, long n) { (void)src; (void)dst; (void)n; }
#endif

#if defined(__x86_64__)
// GELU (erf form) for BERT: erf by Abramowitz-Stegun 7.1.26, |error| < 1.5e-7.
AVX2 void ck_vgelu_erf(float *x, long n) {
    const __m256 p = _mm256_set1_ps(0.3275911f), one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    const __m256 a1 = _mm256_set1_ps(0.254829592f), a2 = _mm256_set1_ps(-0.284496736f);
    const __m256 a3 = _mm256_set1_ps(1.421413741f), a4 = _mm256_set1_ps(-1.453152027f);
    const __m256 a5 = _mm256_set1_ps(1.061405429f), rs2 = _mm256_set1_ps(0.70710678118654752f);
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 z = _mm256_mul_ps(v, rs2);
        const __m256 az = _mm256_andnot_ps(signmask, z);
        const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(p, az, one));
        __m256 poly = _mm256_fmadd_ps(a5, t, a4);
        poly = _mm256_fmadd_ps(poly, t, a3);
        poly = _mm256_fmadd_ps(poly, t, a2);
        poly = _mm256_fmadd_ps(poly, t, a1);
        poly = _mm256_mul_ps(poly, t);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az)));
        __m256 erf = _mm256_fnmadd_ps(poly, e, one);                    // erf(|z|)
        erf = _mm256_or_ps(erf, _mm256_and_ps(z, signmask));           // sign of z
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf)));
    }
    for (; i < n; i++) {
        const float v = x[i], z = v * 0.70710678118654752f, az = z < 0 ? -z : z;
        const float t = 1.0f / (1.0f + 0.3275911f * az);
        const float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t
                            + 0.254829592f) * t;
        const float e = _mm256_cvtss_f32(exp8(_mm256_set1_ps(-az * az)));
        const float erf = 1.0f - poly * e;
        x[i] = 0.5f * v * (1.0f + (z < 0 ? -erf : erf));
    }
}
#else
void ck_vgelu_erf(float *x, long n) { (void)x; (void)n; }
#endif
