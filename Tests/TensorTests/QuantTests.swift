import Testing
@testable import Tensor

/// Dequantization of every supported format against an independent per-element re-implementation of the
/// SPEC-model.md 2.2 formulas (written element-first here, block-first in the code under test).
@Suite("Quant dequantization")
struct QuantTests {
    /// Element `e` of a block of `type` at `p`, straight from the spec.
    static func specElement(_ type: GGMLType, _ p: [UInt8], _ base: Int, _ e: Int) -> Float {
        func u8(_ i: Int) -> Int { Int(p[base + i]) }
        func i8(_ i: Int) -> Int { Int(Int8(bitPattern: p[base + i])) }
        func half(_ i: Int) -> Float { quantF16(UInt16(p[base + i]) | UInt16(p[base + i + 1]) << 8) }
        switch type {
        case .q4_0:
            let q = e < 16 ? u8(2 + e) & 0xF : u8(2 + e - 16) >> 4
            return Float(q - 8) * half(0)
        case .q5_0:
            let h = u8(2) | u8(3) << 8 | u8(4) << 16 | u8(5) << 24
            let low = e < 16 ? u8(6 + e) & 0xF : u8(6 + e - 16) >> 4
            return Float((low | ((h >> e) & 1) << 4) - 16) * half(0)
        case .q8_0:
            return Float(i8(2 + e)) * half(0)
        case .q4_K, .q5_K:
            let g = e / 64, l = e % 32, high = (e % 64) >= 32
            let j = 2 * g + (high ? 1 : 0)
            let s = { (k: Int) in u8(4 + k) }
            let sc = j < 4 ? s(j) & 63 : (s(j + 4) & 0xF) | ((s(j - 4) >> 6) << 4)
            let m = j < 4 ? s(j + 4) & 63 : (s(j + 4) >> 4) | ((s(j) >> 6) << 4)
            let qsBase = type == .q4_K ? 16 : 48
            let b = u8(qsBase + 32 * g + l)
            var q = high ? b >> 4 : b & 0xF
            if type == .q5_K { q += 16 * ((u8(16 + l) >> j) & 1) }
            return half(0) * Float(sc) * Float(q) - half(2) * Float(m)
        case .q6_K:
            let h = e / 128, k = (e % 128) / 32, l = e % 32
            let ql = u8(64 * h + l + (k & 1) * 32), qh = u8(128 + 32 * h + l)
            let q = ((k < 2 ? ql & 0xF : ql >> 4) | ((qh >> (2 * k)) & 3) << 4) - 32
            return half(208) * Float(i8(192 + e / 16)) * Float(q)
        case .f32:
            return Float(bitPattern: UInt32(u8(0)) | UInt32(u8(1)) << 8 | UInt32(u8(2)) << 16 | UInt32(u8(3)) << 24)
        case .f16:
            return half(0)
        case .bf16:
            return Float(bitPattern: (UInt32(u8(0)) | UInt32(u8(1)) << 8) << 16)
        default:
            return .nan
        }
    }

    @Test("Dequant.row matches the spec formulas", arguments: quantBlockTypes + quantFloatTypes)
    func dequantMatchesSpec(type: GGMLType) {
        var rng = QuantRNG(seed: 0xD0 + UInt64(type.rawValue))
        let n = 1024
        let bytes = quantRandomRow(type, n: n, rng: &rng)
        let got = quantDequantized(type, bytes, n: n)
        var mismatches = 0
        for e in 0..<n {
            let base = (e / type.blockSize) * type.typeSize
            let want = Self.specElement(type, bytes, base, e % type.blockSize)
            // Same products in possibly different association: allow 2 ulp.
            if abs(got[e] - want) > 2 * want.ulp.magnitude + Float.leastNonzeroMagnitude { mismatches += 1 }
        }
        #expect(mismatches == 0, "\(type): \(mismatches) elements differ")
    }

    @Test("Block layout constants match GGMLType sizes")
    func layoutSizes() {
        #expect(BlockLayout.Q4_0.bytes == GGMLType.q4_0.typeSize)
        #expect(BlockLayout.Q5_0.bytes == GGMLType.q5_0.typeSize)
        #expect(BlockLayout.Q8_0.bytes == GGMLType.q8_0.typeSize)
        #expect(BlockLayout.Q4_K.bytes == GGMLType.q4_K.typeSize)
        #expect(BlockLayout.Q5_K.bytes == GGMLType.q5_K.typeSize)
        #expect(BlockLayout.Q6_K.bytes == GGMLType.q6_K.typeSize)
        #expect(BlockLayout.Q8_K.bytes == GGMLType.q8_K.typeSize)
        #expect(BlockLayout.Q6_K.d + 2 == BlockLayout.Q6_K.bytes)
        #expect(BlockLayout.Q5_K.qs + 128 == BlockLayout.Q5_K.bytes)
        #expect(BlockLayout.Q8_K.bsums + 32 == BlockLayout.Q8_K.bytes)
    }

    @Test("Quantize.row round-trips within half a step (one step at the clamped end)",
          arguments: [GGMLType.q8_0, .q4_0, .q5_0])
    func quantizeRoundTrip(type: GGMLType) {
        var rng = QuantRNG(seed: 77 + UInt64(type.rawValue))
        let n = 640
        var x = quantRandomActivations(count: n, rng: &rng)
        x.replaceSubrange(32..<64, with: repeatElement(0, count: 32))  // an all-zero block
        var bytes = [UInt8](repeating: 0, count: type.rowBytes(n))
        x.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBytes { Quantize.row(type, src.baseAddress!, $0.baseAddress!, count: n) }
        }
        let y = quantDequantized(type, bytes, n: n)
        for b in 0..<(n / 32) {
            let d = abs(quantF16(UInt16(bytes[b * type.typeSize]) | UInt16(bytes[b * type.typeSize + 1]) << 8))
            // Rounding error is half a step; the f16 rounding of d adds up to 127·d·2^-11 ≈ 0.06·d for
            // Q8_0, and the Q4_0/Q5_0 clamp at the top code can cost a full step.
            let limit = (type == .q8_0 ? 0.6 : 1.05) * d + 1e-6
            for j in 0..<32 {
                let e = 32 * b + j
                #expect(abs(y[e] - x[e]) <= limit, "\(type) element \(e): \(y[e]) vs \(x[e]) (d = \(d))")
            }
        }
    }
}
