/// Byte layouts of the GGUF quant blocks (ggml/src/ggml-common.h, SPEC-model.md 2.2) and the small
/// helpers every quant kernel shares.
///
/// NOTE: blocks are read through `UnsafeRawPointer` with explicit byte offsets instead of Swift structs:
/// Swift gives no layout guarantee for structs, and GGUF blocks are only 2-byte aligned inside a row.
/// The C kernels declare the same layouts as structs with `_Static_assert` on their sizes, and
/// `QuantLayoutTests` checks these constants against `GGMLType.typeSize`.
enum BlockLayout {
    /// Q4_0: `d:f16, qs[16]` (32 elements).
    enum Q4_0 { static let bytes = 18, d = 0, qs = 2 }
    /// Q5_0: `d:f16, qh[4], qs[16]` (32 elements).
    enum Q5_0 { static let bytes = 22, d = 0, qh = 2, qs = 6 }
    /// Q8_0: `d:f16, qs[32]:i8` (32 elements). Also the activation format for the 32-element types.
    enum Q8_0 { static let bytes = 34, d = 0, qs = 2 }
    /// Q4_K: `d:f16, dmin:f16, scales[12], qs[128]` (256 elements).
    enum Q4_K { static let bytes = 144, d = 0, dmin = 2, scales = 4, qs = 16 }
    /// Q5_K: `d:f16, dmin:f16, scales[12], qh[32], qs[128]` (256 elements).
    enum Q5_K { static let bytes = 176, d = 0, dmin = 2, scales = 4, qh = 16, qs = 48 }
    /// Q6_K: `ql[128], qh[64], scales[16]:i8, d:f16` (256 elements; d is last).
    enum Q6_K { static let bytes = 210, ql = 0, qh = 128, scales = 192, d = 208 }
    /// Q8_K: `d:f32, qs[256]:i8, bsums[16]:i16` (256 elements; activation-only type).
    enum Q8_K { static let bytes = 292, d = 0, qs = 4, bsums = 260 }

    /// Elements per block of the 32-element ("legacy") types.
    static let qk32 = 32
    /// Elements per K-quant super-block.
    static let qkK = 256
}

extension UnsafeRawPointer {
    /// Reads a little-endian binary16 at `offset` (any alignment) as a Float.
    @inline(__always)
    func loadHalf(at offset: Int) -> Float {
        Half.toFloat(loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Reads the byte at `offset`.
    @inline(__always)
    func byte(_ offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Reads the byte at `offset` as a signed int8.
    @inline(__always)
    func int8(_ offset: Int) -> Int8 {
        load(fromByteOffset: offset, as: Int8.self)
    }
}

/// `get_scale_min_k4` (ggml-quants.c): the 6-bit scale and min of sub-block `j` (0..7) of a Q4_K/Q5_K
/// super-block, unpacked from its 12 `scales` bytes at `s`.
@inline(__always)
func scaleMinK4(_ j: Int, _ s: UnsafeRawPointer) -> (scale: Int32, min: Int32) {
    if j < 4 {
        return (Int32(s.byte(j) & 63), Int32(s.byte(j + 4) & 63))
    }
    let scale = (s.byte(j + 4) & 0xF) | ((s.byte(j - 4) >> 6) << 4)
    let min = (s.byte(j + 4) >> 4) | ((s.byte(j) >> 6) << 4)
    return (Int32(scale), Int32(min))
}

/// llama.cpp's `nearest_int`: round half to even via the 1.5 * 2^23 trick. Valid for |v| < 2^22.
@inline(__always)
func nearestInt(_ v: Float) -> Int32 {
    let biased = (v + 12_582_912.0).bitPattern
    return Int32(bitPattern: biased & 0x007F_FFFF) &- 0x0040_0000
}
