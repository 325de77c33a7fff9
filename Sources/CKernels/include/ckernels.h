#ifndef CKERNELS_H
#define CKERNELS_H
#include <stdint.h>
#include <stddef.h>

/// Returns 1 when the CPU supports AVX2+FMA+F16C (the fast paths), 0 otherwise.
int ck_has_avx2(void);

/// Returns 1 when the CPU also supports AVX-512 VNNI + VL (the `vpdpbusd` variants), 0 otherwise.
int ck_has_avx512vnni(void);

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

#endif
