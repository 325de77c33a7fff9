#ifndef CKERNELS_H
#define CKERNELS_H
#include <stdint.h>
#include <stddef.h>

/// Quant weight kinds for ck_gemm.
enum { CK_Q4_0 = 0, CK_Q5_0 = 1, CK_Q8_0 = 2, CK_Q4_K = 3, CK_Q5_K = 4, CK_Q6_K = 5 };

/// Returns 1 when the CPU supports AVX2+FMA+F16C (the fast paths), 0 otherwise.
int ck_has_avx2(void);

/// Returns 1 when the CPU also supports AVX-512 VNNI + VL (the `vpdpbusd` variants), 0 otherwise.
int ck_has_avx512vnni(void);
/// 1 when the CPU (and OS) run AVX-512F code, with AVX2, FMA and F16C: the precondition of ck_flash_attend and of
/// ck_sgemm_packed's level 2.
int ck_has_avx512f(void);

// ---------------------------------------------------------------------------------------------
// Per-row dot products: weight row in its GGUF block format times one prepared activation row.
// `count` is the number of blocks (quant types) or elements (f32/f16/bf16).
// Block layouts follow ggml-common.h (SPEC-model.md 2.2); the integer-dot math follows
// llama.cpp's ggml_vec_dot_* (SPEC-model.md 2.3).
//
// PRECONDITION: call only when ck_has_avx2() == 1 (these are AVX2 code). The Swift side keeps a
// scalar reference for every kernel and uses it on other CPUs.
// ---------------------------------------------------------------------------------------------

/// Q8_0 weights . Q8_0 activations.
float ck_dot_q8_0_q8_0(const void *w, const void *a, int count);
/// Q4_0 weights . Q8_0 activations.
float ck_dot_q4_0_q8_0(const void *w, const void *a, int count);
/// Q5_0 weights . Q8_0 activations.
float ck_dot_q5_0_q8_0(const void *w, const void *a, int count);
/// Q4_K weights . Q8_K activations.
float ck_dot_q4_K_q8_K(const void *w, const void *a, int count);
/// Q5_K weights . Q8_K activations.
float ck_dot_q5_K_q8_K(const void *w, const void *a, int count);
/// Q6_K weights . Q8_K activations.
float ck_dot_q6_K_q8_K(const void *w, const void *a, int count);
/// f32 weights . f32 activations.
float ck_dot_f32_f32(const void *w, const void *a, int count);
/// f16 weights . f32 activations (converted with F16C, FMA in f32).
float ck_dot_f16_f32(const void *w, const void *a, int count);
/// bf16 weights . f32 activations (bf16 -> f32 by shift, FMA in f32).
float ck_dot_bf16_f32(const void *w, const void *a, int count);

/// Quantizes nblocks x 32 floats to Q8_0 blocks / nblocks x 256 floats to Q8_K blocks, bit-identical to
/// ActivationQuant.q8_0 / q8_K in Swift (SPEC-model.md 2.3). PRECONDITION: ck_has_avx2() == 1.
void ck_quantize_q8_0(const float *x, void *dst, int nblocks);
void ck_quantize_q8_K(const float *x, void *dst, int nblocks);
/// Quantizes nblocks x 32 floats to Q8_0 blocks as llama.cpp's quantize_row_q8_0_ref (d = amax/127,
/// id = d ? 1/d : 0, roundf: ties away from zero; NaN / infinite products give 0), bit-identical to
/// NumericCore's Q8_0Row.quantize: the KV cache's q8_0 rows. PRECONDITION: ck_has_avx2() == 1.
void ck_quantize_q8_0_ref(const float *x, void *dst, int nblocks);

// ---------------------------------------------------------------------------------------------
// Tiled matmul (ck_gemm.c): several weight rows x several tokens per inner loop, for prefill.
// PRECONDITION: ck_has_avx2() == 1; level 2 additionally needs ck_has_avx512vnni() == 1.
// ---------------------------------------------------------------------------------------------


/// Bytes of one packed activation row of `nblocks` Q8_0 blocks (kquant = 0) or Q8_K blocks (kquant = 1).
size_t ck_packed_act_bytes(int kquant, int nblocks);

/// Packs one prepared Q8_0 / Q8_K activation row (`nblocks` blocks at src) into the ck_gemm layout at dst:
/// the quants as unsigned bytes q + 128, the block scales as f32, then for Q8_0 the block sums Σ q (int32)
/// and for Q8_K da * bsums (f32).
void ck_pack_act(int kquant, const void *src, int nblocks, void *dst);

/// out[t * outStride + r] = row r of the weights . packed activation row t, for r < nrows and t < ntok.
/// weight: row 0 of the range, rows wRowBytes apart; act: packed rows actRowBytes apart; nblocks:
/// blocks per row (32 or 256 elements). level: 1 = AVX2 (maddubs), 2 = AVX-512 VNNI (vpdpbusd).
/// ntok == 1 is supported for every kind, but only Q5_0 / Q8_0 at level 2 have a dedicated one-token loop;
/// otherwise the per-row ck_dot_* kernels are the faster choice for a single token.
void ck_gemm(int kind, int level, const void *weight, size_t wRowBytes, int nrows, const void *act,
             size_t actRowBytes, int ntok, int nblocks, float *out, size_t outStride);

// ---------------------------------------------------------------------------------------------
// Row-interleaved matmul (ck_repack.c, ck_gemm_r16.c): weights repacked once at load, 16 rows side by side
// (layout in ck_repack.h), for every token count (decode and prefill use the same kernel, so a row's result
// does not depend on how many tokens share the call). Q4_0 / Q5_0 / Q8_0 weights, Q8_0 activations.
// PRECONDITION: ck_has_avx512vnni() == 1.
// ---------------------------------------------------------------------------------------------

/// Bytes of `nrows` x `nblocks` weights of `kind` repacked (rows padded to a multiple of 16); 0 when the kind
/// has no repacked form.
size_t ck_r16_bytes(int kind, int nrows, int nblocks);

/// Repacks nrows rows (wRowBytes apart, GGUF blocks) into dst (ck_r16_bytes bytes, 64-byte aligned).
void ck_r16_repack(int kind, const void *weight, size_t wRowBytes, int nrows, int nblocks, void *dst);

/// out[t * outStride + r] = row r . activation row t for row0 <= r < row0 + nrows, t < ntok.
/// packed: the whole repacked matrix; row0 a multiple of 16. act: Q8_0 rows (34-byte blocks) actRowBytes
/// apart; pact: the same rows packed by ck_pack_act (block scales as f32 and block sums), pactRowBytes apart.
void ck_gemm_r16(int kind, const void *packed, int nblocks, int row0, int nrows, const void *act,
                 size_t actRowBytes, const void *pact, size_t pactRowBytes, int ntok, float *out, size_t outStride);

// ---------------------------------------------------------------------------------------------
// Element-wise f32 kernels (ck_vecmath.c). PRECONDITION: ck_has_avx2() == 1.
// ---------------------------------------------------------------------------------------------

/// g[i] = gelu_tanh(g[i]) * u[i] (Gemma's GeGLU).
void ck_vgelu_tanh_mul(float *g, const float *u, long n);
/// g[i] = silu(g[i]) * u[i] (SwiGLU).
void ck_vsilu_mul(float *g, const float *u, long n);
/// In-place max-subtracted softmax.
void ck_vsoftmax(float *x, long n);
/// Σ a[i] b[i].
float ck_vdot(const float *a, const float *b, long n);
/// y[i] += s x[i].
void ck_vaxpy(float s, const float *x, float *y, long n);

/// GELU, exact erf form, in place: x = 0.5 x (1 + erf(x / sqrt 2)). erf: Abramowitz-Stegun 7.1.26
/// (absolute error < 1.5e-7) with the vectorized exp; BERT's `hidden_act: gelu`.
void ck_vgelu_erf(float *x, long n);

/// Attention of hn (1, 2, 4 or 8) query heads sharing one KV head over positions lo ..< lo+count of a paged cache
/// (kblk/vblk: first slot of each block covering the range, offset to the KV head; rows `stride` floats
/// apart; hd % 64 == 0). scores: scratch [hn, count]; out: [hn, hd]. Same math as the Swift loop.
void ck_vattend(const float *q, int hn, int hd, const float *const *kblk, const float *const *vblk, int bs,
                int stride, int lo, int count, float scale, float *scores, float *out);
/// ck_vattend over an IEEE-half (f16) cache: K/V rows are converted to f32 in registers (F16C); `stride` in
/// elements. Same math otherwise.
void ck_vattend_f16(const float *q, int hn, int hd, const uint16_t *const *kblk, const uint16_t *const *vblk,
                    int bs, int stride, int lo, int count, float scale, float *scores, float *out);
/// ck_vattend over a Q8_0 cache (ggml's block_q8_0: f16 scale d, then 32 int8 q; 34 bytes per 32 elements):
/// q.k = Σ over 32-blocks of d * Σ q_i k_i, p.V accumulates (p * d) * v_i, int8 converted in registers.
/// `stride` in elements (a multiple of 32); each block pointer at a multiple of 32 elements of its row.
void ck_vattend_q8_0(const float *q, int hn, int hd, const void *const *kblk, const void *const *vblk, int bs,
                     int stride, int lo, int count, float scale, float *scores, float *out);
/// Positions per K/V tile of ck_flash_attend; tiles start at multiples of it (absolute positions).
#define CK_FA_KT 64
/// Tiled (flash) attention, AVX-512F (ck_flash_attention.c). PRECONDITION: ck_has_avx512f() == 1.
/// Query rows i = 0 ..< rows of one sequence at positions p0 + i * pstep (pstep >= 1), each with `heads`
/// query heads sharing one KV head: head h of row i at q + i * qRowStride + h * hd, its result at
/// out + i * outRowStride + h * hd (hd % 64 == 0). Row i attends to positions lo_i ... p_i, lo_i =
/// max(0, p_i - window + 1) when window > 0, else 0: softmax(scale * q.k) . v. Position p is at slot p % bs of
/// block kblk/vblk[p / bs - firstBlock] (pointers offset to the KV head; firstBlock <= lo_0 / bs, pointers
/// given up to block p_last / bs), rows `stride` elements apart in `format` (0 f32, 1 f16, 2 q8_0: 34-byte
/// blocks of 32, stride % 32 == 0). work: ck_flash_work_floats(rows * heads, hd) floats.
/// A row's result is bit-identical whatever other rows share the call (see the .c file).
void ck_flash_attend(const float *q, long qRowStride, int rows, int heads, int hd, int p0, int pstep, int window,
                     const void *const *kblk, const void *const *vblk, int firstBlock, int format, int bs,
                     int stride, float scale, float *work, float *out, long outRowStride);
/// Scratch floats ck_flash_attend needs for `vectors` (rows * heads) query vectors of size hd.
static inline long ck_flash_work_floats(long vectors, long hd) { return 2 * CK_FA_KT * hd + 4 * CK_FA_KT + 2 * vectors + 4; }
/// f32 -> IEEE half (round to nearest even) and back, n elements (F16C).
void ck_f32_to_f16(const float *src, uint16_t *dst, long n);
void ck_f16_to_f32(const uint16_t *src, float *dst, long n);

// ---------------------------------------------------------------------------------------------
// f32 matmul for the sentence encoder (ck_sgemm.c). PRECONDITION: ck_has_avx2() == 1.
// ---------------------------------------------------------------------------------------------

/// c[i * ldc + j] = Σ_p a[i * lda + p] b[j * ldb + p] (+ bias[j] when bias != NULL), i < m, j < n, p < k.
/// Each element is computed identically wherever it lies in the tiling (batch-size independent).
void ck_sgemm_nt(int m, int n, int k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                 const float *bias);

// f32 matmul against a weight matrix B [n, k] packed once (ck_sgemm_packed.c; NumericCore.PackedLinear): panels
// of CK_SGEMM_NR output columns, k-major inside a panel: packed[(j / 32) * 32 * k + p * 32 + j % 32] = B[j, p]
// (columns past n are 0); the buffer is 64-byte aligned.
#define CK_SGEMM_NR 32
#define CK_SGEMM_KC 64
/// c[i * ldc + j] = Σ_p a[i * lda + p] B[j, p] (+ bias[j] when bias != NULL), i < m, j < n, from the packed B
/// (pass packed + j0 * k and c + j0, bias + j0 for a column range starting at a multiple of CK_SGEMM_NR).
/// Every element: sum = 0; per block of CK_SGEMM_KC consecutive p in order: acc = 0, acc = fma(a, b, acc) over
/// the block in order, sum = sum + acc; then sum + bias (bit-identical for both levels and independent of m, n
/// and the tiling). k >= 1. level 2: AVX-512F (ck_has_avx512f() == 1); level 1: AVX2 (ck_has_avx2() == 1).
void ck_sgemm_packed(int level, int m, int n, int k, const float *a, long lda, const float *packed, float *c,
                     long ldc, const float *bias);

#endif
