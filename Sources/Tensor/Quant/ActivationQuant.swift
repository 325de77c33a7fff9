/// Quantization of f32 activation rows into the "vec_dot types" llama.cpp multiplies weights with
/// (SPEC-model.md 2.3): Q8_0 for the 32-element weight types and Q8_K for the K-quants.
enum ActivationQuant {
    /// Quantizes `count` floats (a multiple of 32) at `x` into Q8_0 blocks at `dst`.
    ///
    /// Follows llama.cpp's x86 AVX `quantize_row_q8_0`: `amax = max|x|`, `d = amax/127` stored as f16,
    /// `id = 127/amax` (0 when amax is 0), `q = round-half-even(x·id)`.
    /// NOTE: the portable reference (`quantize_row_q8_0_ref`) uses `id = 1/d` and `roundf` (ties away);
    /// we follow the x86 path because that is what llama.cpp runs on this CPU.
    static func q8_0(_ x: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
        precondition(count % BlockLayout.qk32 == 0, "ActivationQuant.q8_0: count \(count) not a multiple of 32")
        for b in 0..<(count / BlockLayout.qk32) {
            let src = x + b * BlockLayout.qk32
            let block = dst + b * BlockLayout.Q8_0.bytes
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(src[j])) }
            let d = amax / 127
            let id: Float = amax != 0 ? 127 / amax : 0
            block.storeBytes(of: Half.fromFloat(d), toByteOffset: BlockLayout.Q8_0.d, as: UInt16.self)
            let qs = (block + BlockLayout.Q8_0.qs).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { qs[j] = Int8(truncatingIfNeeded: nearestInt(src[j] * id)) }
        }
    }

    /// Quantizes `count` floats (a multiple of 256) at `x` into Q8_K blocks at `dst`
    /// (`quantize_row_q8_K_ref`, which is also what x86 runs).
    ///
    /// `max` is the signed value of largest magnitude (first wins ties); `iscale = -127/max`;
    /// `q = min(127, nearest_int(iscale·x))`; `d = 1/iscale` as f32 (may be negative);
    /// `bsums[i] = Σ q[16i ..< 16i+16]`. An all-zero block gets d = 0 and zero quants.
    static func q8_K(_ x: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
        precondition(count % BlockLayout.qkK == 0, "ActivationQuant.q8_K: count \(count) not a multiple of 256")
        for b in 0..<(count / BlockLayout.qkK) {
            let src = x + b * BlockLayout.qkK
            let block = dst + b * BlockLayout.Q8_K.bytes
            let qs = (block + BlockLayout.Q8_K.qs).assumingMemoryBound(to: Int8.self)
            let bsums = (block + BlockLayout.Q8_K.bsums).assumingMemoryBound(to: Int16.self)
            var amax: Float = 0
            var signedMax: Float = 0
            for j in 0..<256 {
                let ax = abs(src[j])
                if ax > amax {
                    amax = ax
                    signedMax = src[j]
                }
            }
            if amax == 0 {
                block.storeBytes(of: Float(0), toByteOffset: BlockLayout.Q8_K.d, as: Float.self)
                qs.update(repeating: 0, count: 256)
                bsums.update(repeating: 0, count: 16)
                continue
            }
            let iscale = -127 / signedMax
            for j in 0..<256 { qs[j] = Int8(truncatingIfNeeded: min(127, nearestInt(iscale * src[j]))) }
            for i in 0..<16 {
                var sum: Int32 = 0
                for j in 0..<16 { sum &+= Int32(qs[16 * i + j]) }
                bsums[i] = Int16(truncatingIfNeeded: sum)
            }
            block.storeBytes(of: 1 / iscale, toByteOffset: BlockLayout.Q8_K.d, as: Float.self)
        }
    }
}
