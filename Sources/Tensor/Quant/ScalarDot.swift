/// Portable scalar row dot products: the reference next to each C kernel (`CKernels/ck_dot_avx2.c` row dots,
/// `ck_gemm.c` tiles), and the path used on CPUs without AVX2.
///
/// Same signature as the C row kernels: weight row, prepared activation row, `count` = blocks (quant types)
/// or elements (float types). Each block's integer dot is exact in every path; the float steps per block
/// are the same as in `ck_dot_avx2.c` (whose K-quant kernels agree bit for bit). The tiles and the
/// 32-element row dots differ only in the f32 summation order (and the tiles form the Q4_K/Q5_K min
/// term as Σ (dmin·m_j)·(d_a·bsums) instead of dmin·d_a·Σ m_j·bsums).
enum ScalarDot {
    /// Q8_0 · Q8_0: `Σ_blocks (d_w·d_a)·Σ_j qw_j·qa_j`.
    static func q8_0(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        var sum: Float = 0
        for b in 0..<count {
            let wb = w + b * BlockLayout.Q8_0.bytes, ab = a + b * BlockLayout.Q8_0.bytes
            var isum: Int32 = 0
            for j in 0..<32 { isum &+= Int32(wb.int8(2 + j)) &* Int32(ab.int8(2 + j)) }
            sum += wb.loadHalf(at: 0) * ab.loadHalf(at: 0) * Float(isum)
        }
        return sum
    }

    /// Q4_0 · Q8_0 with the weight nibbles centred by -8.
    static func q4_0(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        var sum: Float = 0
        for b in 0..<count {
            let wb = w + b * BlockLayout.Q4_0.bytes, ab = a + b * BlockLayout.Q8_0.bytes
            let qs = wb + BlockLayout.Q4_0.qs, qa = ab + BlockLayout.Q8_0.qs
            var isum: Int32 = 0
            for j in 0..<16 {
                let q = qs.byte(j)
                isum &+= (Int32(q & 0xF) - 8) &* Int32(qa.int8(j))
                isum &+= (Int32(q >> 4) - 8) &* Int32(qa.int8(j + 16))
            }
            sum += wb.loadHalf(at: 0) * ab.loadHalf(at: 0) * Float(isum)
        }
        return sum
    }

    /// Q5_0 · Q8_0 with the 5-bit weights centred by -16.
    static func q5_0(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        var sum: Float = 0
        for b in 0..<count {
            let wb = w + b * BlockLayout.Q5_0.bytes, ab = a + b * BlockLayout.Q8_0.bytes
            let h = UInt32(littleEndian: wb.loadUnaligned(fromByteOffset: BlockLayout.Q5_0.qh, as: UInt32.self))
            let qs = wb + BlockLayout.Q5_0.qs, qa = ab + BlockLayout.Q8_0.qs
            var isum: Int32 = 0
            for j in 0..<16 {
                let q = UInt32(qs.byte(j))
                let lo = Int32((q & 0xF) | (((h >> UInt32(j)) & 1) << 4)) - 16
                let hi = Int32((q >> 4) | (((h >> UInt32(j + 16)) & 1) << 4)) - 16
                isum &+= lo &* Int32(qa.int8(j)) &+ hi &* Int32(qa.int8(j + 16))
            }
            sum += wb.loadHalf(at: 0) * ab.loadHalf(at: 0) * Float(isum)
        }
        return sum
    }

    /// Q4_K · Q8_K: `d_w·d_a·Σ_j sc_j·Σ q4·q8 − dmin_w·d_a·Σ_j m_j·(bsums[2j] + bsums[2j+1])`.
    static func q4_K(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        kQuant(w, a, count, blockBytes: BlockLayout.Q4_K.bytes, highBits: nil)
    }

    /// Q5_K · Q8_K: as Q4_K with the 5th bit from `qh`.
    static func q5_K(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        kQuant(w, a, count, blockBytes: BlockLayout.Q5_K.bytes, highBits: BlockLayout.Q5_K.qh)
    }

    /// Shared Q4_K / Q5_K body (`highBits` = offset of `qh`, nil for Q4_K).
    @inline(__always)
    private static func kQuant(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int,
                               blockBytes: Int, highBits: Int?) -> Float {
        var acc: Float = 0, accm: Float = 0
        let qsOffset = highBits == nil ? BlockLayout.Q4_K.qs : BlockLayout.Q5_K.qs
        for b in 0..<count {
            let wb = w + b * blockBytes, ab = a + b * BlockLayout.Q8_K.bytes
            let scales = wb + BlockLayout.Q4_K.scales, qs = wb + qsOffset, qa = ab + BlockLayout.Q8_K.qs
            let bsums = ab + BlockLayout.Q8_K.bsums
            var isum: Int32 = 0, summ: Int32 = 0
            for sub in 0..<8 {
                let (sc, m) = scaleMinK4(sub, scales)
                let bs = Int32(bsums.load(fromByteOffset: 4 * sub, as: Int16.self))
                    &+ Int32(bsums.load(fromByteOffset: 4 * sub + 2, as: Int16.self))
                summ &+= m &* bs
                let g = sub / 2, shift = UInt8(4 * (sub & 1))
                var s: Int32 = 0
                for l in 0..<32 {
                    var q = (qs.byte(32 * g + l) >> shift) & 0xF
                    if let qh = highBits { q |= ((wb.byte(qh + l) >> UInt8(sub)) & 1) << 4 }
                    s &+= Int32(q) &* Int32(qa.int8(32 * sub + l))
                }
                isum &+= sc &* s
            }
            let da = ab.load(fromByteOffset: BlockLayout.Q8_K.d, as: Float.self)
            let d = wb.loadHalf(at: BlockLayout.Q4_K.d) * da
            let dmin = wb.loadHalf(at: BlockLayout.Q4_K.dmin) * da
            acc += d * Float(isum)
            accm += dmin * Float(summ)
        }
        return acc - accm
    }

    /// Q6_K · Q8_K: `d_w·d_a·Σ_{16 sub-blocks} scales[s]·Σ_{16 el} (q6 − 32)·q8`.
    static func q6_K(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        var acc: Float = 0
        for b in 0..<count {
            let wb = w + b * BlockLayout.Q6_K.bytes, ab = a + b * BlockLayout.Q8_K.bytes
            let qa = ab + BlockLayout.Q8_K.qs
            var isum: Int32 = 0
            for half in 0..<2 {
                let ql = wb + BlockLayout.Q6_K.ql + 64 * half, qh = wb + BlockLayout.Q6_K.qh + 32 * half
                let sc = wb + BlockLayout.Q6_K.scales + 8 * half, y = qa + 128 * half
                for k in 0..<4 {
                    var s0: Int32 = 0, s1: Int32 = 0  // the two 16-element sub-blocks of chunk k
                    for l in 0..<32 {
                        let lq = ql.byte(l + 32 * (k & 1)), shift = UInt8(4 * (k >> 1))
                        let q = Int32(((lq >> shift) & 0xF) | (((qh.byte(l) >> UInt8(2 * k)) & 3) << 4)) - 32
                        let p = q &* Int32(y.int8(32 * k + l))
                        if l < 16 { s0 &+= p } else { s1 &+= p }
                    }
                    isum &+= Int32(sc.int8(2 * k)) &* s0 &+ Int32(sc.int8(2 * k + 1)) &* s1
                }
            }
            let d = wb.loadHalf(at: BlockLayout.Q6_K.d) * ab.load(fromByteOffset: BlockLayout.Q8_K.d, as: Float.self)
            acc += d * Float(isum)
        }
        return acc
    }

    /// f32 · f32.
    static func f32(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        let x = a.assumingMemoryBound(to: Float.self)
        var sum: Float = 0
        for i in 0..<count { sum += w.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) * x[i] }
        return sum
    }

    /// f16 · f32 (weights converted to f32).
    static func f16(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        let x = a.assumingMemoryBound(to: Float.self)
        var sum: Float = 0
        for i in 0..<count { sum += Half.toFloat(w.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) * x[i] }
        return sum
    }

    /// bf16 · f32 (weights converted to f32).
    static func bf16(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ count: Int) -> Float {
        let x = a.assumingMemoryBound(to: Float.self)
        var sum: Float = 0
        for i in 0..<count { sum += Half.bf16ToFloat(w.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) * x[i] }
        return sum
    }
}
