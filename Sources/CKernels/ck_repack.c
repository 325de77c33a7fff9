// Row-interleaved ("R16") weight repacking for ck_gemm_r16 (layout in ck_repack.h).
#include "ck_repack.h"
#include <string.h>

static float half_to_float(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    const uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) { mant <<= 1; exp--; }
            bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

size_t ck_r16_group_block_bytes(int kind) {
    switch (kind) {
    case CK_Q4_0: return CK_R16_Q4_0_BYTES;
    case CK_Q5_0: return CK_R16_Q5_0_BYTES;
    case CK_Q8_0: return CK_R16_Q8_0_BYTES;
    case CK_Q4_K: return CK_R16_Q4_K_BYTES;
    case CK_Q6_K: return CK_R16_Q6_K_BYTES;
    default: return 0;
    }
}

size_t ck_r16_bytes(int kind, int nrows, int nblocks) {
    const size_t groups = ((size_t)nrows + 15) / 16;
    return groups * (size_t)nblocks * ck_r16_group_block_bytes(kind);
}

/// The 32 unsigned weights u (w = u - offset) and the scale of one GGUF block.
static float unpack_block(int kind, const uint8_t *blk, uint8_t u[32]) {
    if (kind == CK_Q8_0) {
        for (int j = 0; j < 32; j++) u[j] = (uint8_t)((int)(int8_t)blk[2 + j] + 128);
    } else if (kind == CK_Q5_0) {
        uint32_t qh;
        memcpy(&qh, blk + 2, 4);
        for (int j = 0; j < 16; j++) {
            u[j] = (uint8_t)((blk[6 + j] & 0xF) | (((qh >> j) & 1) << 4));
            u[j + 16] = (uint8_t)((blk[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
    } else {  // Q4_0
        for (int j = 0; j < 16; j++) {
            u[j] = blk[2 + j] & 0xF;
            u[j + 16] = blk[2 + j] >> 4;
        }
    }
    return half_to_float(blk);
}

static size_t gguf_block_bytes(int kind) { return kind == CK_Q8_0 ? 34 : kind == CK_Q5_0 ? 22 : 18; }

static void repack_k(int kind, const void *weight, size_t wRowBytes, int nrows, int nblocks, void *dst);

void ck_r16_repack(int kind, const void *weight, size_t wRowBytes, int nrows, int nblocks, void *dst) {
    if (kind == CK_Q4_K || kind == CK_Q6_K) {
        repack_k(kind, weight, wRowBytes, nrows, nblocks, dst);
        return;
    }
    const size_t gb = ck_r16_group_block_bytes(kind), bb = gguf_block_bytes(kind);
    const int groups = (nrows + 15) / 16;
    uint8_t *out = dst;
    memset(out, 0, (size_t)groups * (size_t)nblocks * gb);
    for (int g = 0; g < groups; g++) {
        for (int b = 0; b < nblocks; b++) {
            uint8_t *o = out + ((size_t)g * (size_t)nblocks + (size_t)b) * gb;
            float *d = (float *)(o + gb - 64);
            for (int r = 0; r < 16 && 16 * g + r < nrows; r++) {
                const uint8_t *blk = (const uint8_t *)weight + (size_t)(16 * g + r) * wRowBytes + (size_t)b * bb;
                uint8_t u[32];
                d[r] = unpack_block(kind, blk, u);
                for (int j = 0; j < 32; j++) {
                    const int quad = j / 4, e = j % 4;
                    if (kind == CK_Q8_0) {
                        o[64 * quad + 4 * r + e] = u[j];
                    } else {
                        // Nibble vector p = quad / 2: quad 2p in the low nibbles, quad 2p + 1 in the high ones.
                        const int p = quad / 2, hi = quad % 2;
                        o[64 * p + 4 * r + e] |= (uint8_t)((u[j] & 0xF) << (4 * hi));
                        if (kind == CK_Q5_0) {  // bit 4r + e of mask `quad` (branch-free: the bits are random)
                            const int bit = 4 * r + e;
                            o[256 + 8 * quad + bit / 8] |= (uint8_t)(((u[j] >> 4) & 1u) << (bit % 8));
                        }
                    }
                }
            }
        }
    }
}

// K-quants.

/// Q4_K's 8 6-bit scales and mins (ggml-quants.c get_scale_min_k4).
static void scale_min_k4(const uint8_t *s, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
        m[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/// The 256 unsigned weights of one super-block: Q4_K q (0..15), Q6_K q + 32 (0..63).
static void unpack_superblock(int kind, const uint8_t *blk, uint8_t u[256]) {
    if (kind == CK_Q4_K) {
        const uint8_t *qs = blk + 16;
        for (int g = 0; g < 4; g++)
            for (int j = 0; j < 32; j++) {
                u[64 * g + j] = qs[32 * g + j] & 0xF;
                u[64 * g + 32 + j] = qs[32 * g + j] >> 4;
            }
    } else {  // Q6_K: ql[128], qh[64], scales[16], d (ggml-quants.c dequantize_row_q6_K)
        const uint8_t *ql = blk, *qh = blk + 128;
        for (int half = 0; half < 2; half++) {
            for (int l = 0; l < 32; l++) {
                const uint8_t *L = ql + 64 * half, *H = qh + 32 * half;
                uint8_t *o = u + 128 * half;
                o[l] = (uint8_t)((L[l] & 0xF) | (((H[l] >> 0) & 3) << 4));
                o[l + 32] = (uint8_t)((L[l + 32] & 0xF) | (((H[l] >> 2) & 3) << 4));
                o[l + 64] = (uint8_t)((L[l] >> 4) | (((H[l] >> 4) & 3) << 4));
                o[l + 96] = (uint8_t)((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4));
            }
        }
    }
}

static void repack_k(int kind, const void *weight, size_t wRowBytes, int nrows, int nblocks, void *dst) {
    const size_t gb = ck_r16_group_block_bytes(kind), bb = kind == CK_Q4_K ? 144 : 210;
    const int groups = (nrows + 15) / 16;
    uint8_t *out = dst;
    memset(out, 0, (size_t)groups * (size_t)nblocks * gb);
    for (int g = 0; g < groups; g++) {
        for (int b = 0; b < nblocks; b++) {
            uint8_t *o = out + ((size_t)g * (size_t)nblocks + (size_t)b) * gb;
            for (int r = 0; r < 16 && 16 * g + r < nrows; r++) {
                const uint8_t *blk = (const uint8_t *)weight + (size_t)(16 * g + r) * wRowBytes + (size_t)b * bb;
                uint8_t u[256];
                unpack_superblock(kind, blk, u);
                for (int j = 0; j < 256; j++) {
                    // Nibble vectors: 32 elements (8 quads) per 4 vectors, quad 2p low, quad 2p + 1 high.
                    const int quad = j / 4, e = j % 4, sb = quad / 8, p = (quad % 8) / 2, hi = quad % 2;
                    o[256 * sb + 64 * p + 4 * r + e] |= (uint8_t)((u[j] & 0xF) << (4 * hi));
                    if (kind == CK_Q6_K) {  // bits 4-5 of u: vector (sb, quad / 4 % 2), bits 2·(quad % 4)
                        const int qq = quad % 8;
                        o[2048 + 128 * sb + 64 * (qq / 4) + 4 * r + e] |= (uint8_t)(((u[j] >> 4) & 3) << (2 * (qq % 4)));
                    }
                }
                if (kind == CK_Q4_K) {
                    uint8_t sc[8], m[8];
                    scale_min_k4(blk + 4, sc, m);
                    for (int i = 0; i < 8; i++) {
                        o[2048 + 16 * i + r] = sc[i];
                        o[2048 + 128 + 16 * i + r] = m[i];
                    }
                    float *d = (float *)(o + 2048 + 256);
                    d[r] = half_to_float(blk);
                    d[16 + r] = half_to_float(blk + 2);
                } else {
                    for (int i = 0; i < 16; i++) o[3072 + 16 * i + r] = blk[192 + i];
                    ((float *)(o + 3328))[r] = half_to_float(blk + 208);
                }
            }
        }
    }
}
