/// f32 -> 32-element block quantizers, ports of llama.cpp's `quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`
/// and `quantize_row_q5_0_ref` (ggml-quants.c). Used to build test fixtures and by offline tools; the
/// engine itself only reads pre-quantized GGUF weights.
public enum Quantize {
    /// Quantizes `count` floats (a multiple of `type.blockSize`) into `dst` (`type.rowBytes(count)` bytes).
    /// Supports q8_0, q4_0 and q5_0 (precondition otherwise).
    public static func row(_ type: GGMLType, _ x: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
        precondition(count % BlockLayout.qk32 == 0, "Quantize.row: \(count) is not a multiple of 32")
        for b in 0..<(count / BlockLayout.qk32) {
            let src = x + b * BlockLayout.qk32
            switch type {
            case .q8_0: q8_0(src, dst + b * BlockLayout.Q8_0.bytes)
            case .q4_0: q4_0(src, dst + b * BlockLayout.Q4_0.bytes)
            case .q5_0: q5_0(src, dst + b * BlockLayout.Q5_0.bytes)
            default: preconditionFailure("Quantize.row: unsupported type \(type)")
            }
        }
    }

    /// `d = amax/127`, `id = d ? 1/d : 0`, `q = roundf(x·id)` (ties away from zero).
    static func q8_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        block.storeBytes(of: Half.fromFloat(d), toByteOffset: BlockLayout.Q8_0.d, as: UInt16.self)
        for j in 0..<32 {
            let q = Int8(truncatingIfNeeded: roundHalfAway(x[j] * id))
            block.storeBytes(of: q, toByteOffset: BlockLayout.Q8_0.qs + j, as: Int8.self)
        }
    }

    /// `d = max/-8` (max = signed value of largest magnitude), `q = min(15, trunc(x·id + 8.5))`.
    static func q4_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let d = signedMax(x) / -8
        let id: Float = d != 0 ? 1 / d : 0
        block.storeBytes(of: Half.fromFloat(d), toByteOffset: BlockLayout.Q4_0.d, as: UInt16.self)
        for j in 0..<16 {
            let lo = min(15, Int32(x[j] * id + 8.5))
            let hi = min(15, Int32(x[j + 16] * id + 8.5))
            block.storeBytes(of: UInt8(lo | (hi << 4)), toByteOffset: BlockLayout.Q4_0.qs + j, as: UInt8.self)
        }
    }

    /// `d = max/-16`, `q = min(31, trunc(x·id + 16.5))`; bit 4 of element k goes to bit k of `qh`.
    static func q5_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let d = signedMax(x) / -16
        let id: Float = d != 0 ? 1 / d : 0
        block.storeBytes(of: Half.fromFloat(d), toByteOffset: BlockLayout.Q5_0.d, as: UInt16.self)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let lo = UInt32(min(31, Int32(x[j] * id + 16.5)))
            let hi = UInt32(min(31, Int32(x[j + 16] * id + 16.5)))
            block.storeBytes(of: UInt8((lo & 0xF) | ((hi & 0xF) << 4)), toByteOffset: BlockLayout.Q5_0.qs + j, as: UInt8.self)
            qh |= ((lo & 0x10) >> 4) << UInt32(j)
            qh |= ((hi & 0x10) >> 4) << UInt32(j + 16)
        }
        block.storeBytes(of: qh.littleEndian, toByteOffset: BlockLayout.Q5_0.qh, as: UInt32.self)
    }

    /// The signed value of largest magnitude among 32 floats (first wins ties), as in the reference.
    private static func signedMax(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0, maxValue: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            maxValue = x[j]
        }
        return maxValue
    }

    /// C `roundf` for |v| < 2^22 without libm: truncate, then step away from zero on a fraction >= 0.5.
    @inline(__always)
    static func roundHalfAway(_ v: Float) -> Int32 {
        let t = Int32(v)
        let frac = v - Float(t)
        if frac >= 0.5 { return t + 1 }
        if frac <= -0.5 { return t - 1 }
        return t
    }
}
