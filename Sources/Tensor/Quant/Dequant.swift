/// Dequantization of GGUF rows to f32 (SPEC-model.md 2.2, ggml-quants.c `dequantize_row_*`).
///
/// Used for embedding lookups, for `MatMul.referenceDot`, and by tests. Not on the matmul hot path:
/// `MatMul.compute` works on the quantized blocks directly.
public enum Dequant {
    /// Dequantize `count` elements (a multiple of type.blockSize) of a row stored in `type` at `src` into `dst`.
    /// Supports f32, f16, bf16, q4_0, q5_0, q8_0, q4_K, q5_K, q6_K (precondition otherwise).
    public static func row(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        precondition(type.isSupported, "Dequant.row: unsupported type \(type)")
        precondition(count >= 0 && count % type.blockSize == 0, "Dequant.row: \(count) is not a multiple of \(type.blockSize)")
        let blocks = count / type.blockSize
        switch type {
        case .f32:
            dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            for i in 0..<count { dst[i] = Half.toFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<count { dst[i] = Half.bf16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q4_0:
            for b in 0..<blocks { q4_0(src + b * BlockLayout.Q4_0.bytes, dst + b * 32) }
        case .q5_0:
            for b in 0..<blocks { q5_0(src + b * BlockLayout.Q5_0.bytes, dst + b * 32) }
        case .q8_0:
            for b in 0..<blocks { q8_0(src + b * BlockLayout.Q8_0.bytes, dst + b * 32) }
        case .q4_K:
            for b in 0..<blocks { q4_K(src + b * BlockLayout.Q4_K.bytes, dst + b * 256) }
        case .q5_K:
            for b in 0..<blocks { q5_K(src + b * BlockLayout.Q5_K.bytes, dst + b * 256) }
        case .q6_K:
            for b in 0..<blocks { q6_K(src + b * BlockLayout.Q6_K.bytes, dst + b * 256) }
        default:
            preconditionFailure("Dequant.row: unsupported type \(type)")
        }
    }

    /// Q4_0: `y[j] = ((qs[j] & 0xF) - 8)·d`, `y[j+16] = ((qs[j] >> 4) - 8)·d` (halves, not interleaved).
    @inline(__always)
    static func q4_0(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = block.loadHalf(at: BlockLayout.Q4_0.d)
        let qs = block + BlockLayout.Q4_0.qs
        for j in 0..<16 {
            let b = qs.byte(j)
            y[j] = Float(Int32(b & 0xF) - 8) * d
            y[j + 16] = Float(Int32(b >> 4) - 8) * d
        }
    }

    /// Q5_0: bit k of the little-endian u32 `qh` is the 5th bit of element k; values are centred by -16.
    @inline(__always)
    static func q5_0(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = block.loadHalf(at: BlockLayout.Q5_0.d)
        let h = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: BlockLayout.Q5_0.qh, as: UInt32.self))
        let qs = block + BlockLayout.Q5_0.qs
        for j in 0..<16 {
            let b = UInt32(qs.byte(j))
            let lo = (b & 0xF) | (((h >> UInt32(j)) & 1) << 4)
            let hi = (b >> 4) | (((h >> UInt32(j + 16)) & 1) << 4)
            y[j] = Float(Int32(lo) - 16) * d
            y[j + 16] = Float(Int32(hi) - 16) * d
        }
    }

    /// Q8_0: `y[j] = qs[j]·d`.
    @inline(__always)
    static func q8_0(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = block.loadHalf(at: BlockLayout.Q8_0.d)
        let qs = block + BlockLayout.Q8_0.qs
        for j in 0..<32 { y[j] = Float(qs.int8(j)) * d }
    }
}

// MARK: - K-quant super-blocks (256 elements; `dequantize_row_q4_K` / `_q5_K` / `_q6_K`)
extension Dequant {
    /// Q4_K: 4 groups of 64; group g uses sub-block 2g for the low nibbles and 2g+1 for the high nibbles:
    /// `y = d·sc·q − dmin·m`.
    @inline(__always)
    static func q4_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = block.loadHalf(at: BlockLayout.Q4_K.d)
        let dmin = block.loadHalf(at: BlockLayout.Q4_K.dmin)
        let scales = block + BlockLayout.Q4_K.scales
        let qs = block + BlockLayout.Q4_K.qs
        for g in 0..<4 {
            let (sc0, m0) = scaleMinK4(2 * g, scales)
            let (sc1, m1) = scaleMinK4(2 * g + 1, scales)
            let d0 = d * Float(sc0), min0 = dmin * Float(m0)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            for l in 0..<32 {
                let b = qs.byte(32 * g + l)
                y[64 * g + l] = d0 * Float(b & 0xF) - min0
                y[64 * g + 32 + l] = d1 * Float(b >> 4) - min1
            }
        }
    }

    /// Q5_K: Q4_K plus a 5th bit from `qh[l]` (bit 2g for the low nibble, 2g+1 for the high nibble).
    @inline(__always)
    static func q5_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = block.loadHalf(at: BlockLayout.Q5_K.d)
        let dmin = block.loadHalf(at: BlockLayout.Q5_K.dmin)
        let scales = block + BlockLayout.Q5_K.scales
        let qh = block + BlockLayout.Q5_K.qh
        let qs = block + BlockLayout.Q5_K.qs
        for g in 0..<4 {
            let (sc0, m0) = scaleMinK4(2 * g, scales)
            let (sc1, m1) = scaleMinK4(2 * g + 1, scales)
            let d0 = d * Float(sc0), min0 = dmin * Float(m0)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            for l in 0..<32 {
                let b = qs.byte(32 * g + l)
                let h = qh.byte(l)
                let lo = (b & 0xF) | (((h >> UInt8(2 * g)) & 1) << 4)
                let hi = (b >> 4) | (((h >> UInt8(2 * g + 1)) & 1) << 4)
                y[64 * g + l] = d0 * Float(lo) - min0
                y[64 * g + 32 + l] = d1 * Float(hi) - min1
            }
        }
    }

    /// Q6_K: two halves of 128; 6-bit values centred by -32; element e uses the signed `scales[e/16]`.
    @inline(__always)
    static func q6_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = block.loadHalf(at: BlockLayout.Q6_K.d)
        for half in 0..<2 {
            let ql = block + BlockLayout.Q6_K.ql + 64 * half
            let qh = block + BlockLayout.Q6_K.qh + 32 * half
            let sc = block + BlockLayout.Q6_K.scales + 8 * half
            let out = y + 128 * half
            for l in 0..<32 {
                let lo = ql.byte(l), hiLo = ql.byte(l + 32), h = qh.byte(l)
                let q0 = Int32((lo & 0xF) | ((h & 3) << 4)) - 32
                let q1 = Int32((hiLo & 0xF) | (((h >> 2) & 3) << 4)) - 32
                let q2 = Int32((lo >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q3 = Int32((hiLo >> 4) | (((h >> 6) & 3) << 4)) - 32
                let s = l / 16
                out[l] = d * Float(sc.int8(s)) * Float(q0)
                out[l + 32] = d * Float(sc.int8(s + 2)) * Float(q1)
                out[l + 64] = d * Float(sc.int8(s + 4)) * Float(q2)
                out[l + 96] = d * Float(sc.int8(s + 6)) * Float(q3)
            }
        }
    }
}
