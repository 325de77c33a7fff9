// Row-interleaved ("R16") weights for ck_gemm_r16 (ck_repack.c, ck_gemm_r16.c); not part of the public header.
//
// NOTE: layout. Rows are taken 16 at a time (a group; the last group padded with zero rows), and for each
// group the blocks follow in order. One group-block holds block b of 16 rows, arranged so that one 64-byte
// vector covers the same 4 consecutive elements ("quad" j = elements 4j..4j+3) of all 16 rows:
// byte 4r + e of a quad vector is element 4j + e of row r. One broadcast of 4 activation bytes then feeds
// 16 rows through one `vpdpbusd`, and each int32 lane sums only its own row, so lane r's block dot is exact
// and independent of everything else in the register.
// Weights are stored unsigned, u = w + offset (Q4_0: 8, Q5_0: 16, Q8_0: 128), and multiply the signed Q8_0
// activations a: Σ u·a = Σ w·a + offset·Σ a, so the accumulator starts at -offset·Σa (the activation's block
// sum, per token, shared by all rows).
//   Q8_0 (576 B): 8 quad vectors of u (512 B), then d[16] f32.
//   Q5_0 (384 B): 4 nibble vectors (vector p: quad 2p in the low nibbles, quad 2p+1 in the high ones,
//                 256 B), 8 bit masks of 64 bits (mask j: bit 4r + e = bit 4 of u for quad j, 64 B), d[16] f32.
//   Q4_0 (320 B): the 4 nibble vectors, then d[16] f32.
// K-quants (Q8_K activations; super-blocks of 256 = 8 runs of 32 elements, each run stored as 4 nibble
// vectors like Q4_0, 2048 B). Weights u = q (Q4_K) or q + 32 (Q6_K, the raw 6-bit value; the -32 is
// applied per 16-element sub-block with the activation's bsums):
//   Q4_K (2432 B): nibbles, sc[8][16] u8 (6-bit scale of sub-block i, row r), m[8][16] u8 (mins),
//                  d[16] f32, dmin[16] f32.
//   Q6_K (3392 B): nibbles, bits 4-5 of u (1024 B: run i, vector h = quads 4h..4h+3 of the run, byte 4r + e,
//                  bits 2k..2k+1 = quad 4h + k), scales[16][16] i8 (sub-block of 16, row r), d[16] f32.
#ifndef CK_REPACK_H
#define CK_REPACK_H
#include "ckernels.h"
#include <stddef.h>
#include <stdint.h>

enum { CK_R16_Q4_0_BYTES = 320, CK_R16_Q5_0_BYTES = 384, CK_R16_Q8_0_BYTES = 576, CK_R16_Q4_K_BYTES = 2432,
       CK_R16_Q6_K_BYTES = 3392 };

/// ck_gemm_r16 for Q4_K / Q6_K (ck_gemm_r16k.c); act: Q8_K rows (292-byte super-blocks).
void ck_gemm_r16k(int kind, const void *packed, int nblocks, int row0, int nrows, const void *act,
                  size_t actRowBytes, int ntok, float *out, size_t outStride);

/// Bytes of one group-block of `kind` (0 when the kind is not repacked).
size_t ck_r16_group_block_bytes(int kind);

#endif
