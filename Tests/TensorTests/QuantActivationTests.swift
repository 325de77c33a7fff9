import CKernels
import Testing
@testable import Tensor

/// Q8_0 / Q8_K activation quantization (SPEC-model.md 2.3) checked field by field against the formulas.
@Suite("Quant activation quantization")
struct QuantActivationTests {
    /// Round half to even, computed independently of the `nearestInt` trick under test.
    static func roundEven(_ v: Float) -> Int {
        let f = v.rounded(.down)
        let diff = v - f
        if diff > 0.5 { return Int(f) + 1 }
        if diff < 0.5 { return Int(f) }
        return Int(f) % 2 == 0 ? Int(f) : Int(f) + 1
    }

    /// Activations with an all-zero block, a block whose largest magnitude is negative, exact ties, and outliers.
    static func fixture(n: Int) -> [Float] {
        var rng = QuantRNG(seed: 8)
        var x = quantRandomActivations(count: n, rng: &rng)
        for i in 0..<32 { x[32 + i] = 0 }
        x[70] = -50  // negative extreme in the third 32-block and in the first 256-block
        for i in 0..<16 { x[96 + i] = Float(i) - 7.5 }  // block with ties: amax 7.5 -> id = 127/7.5
        for i in 256..<512 { x[i] = 0 }  // an all-zero 256-block
        return x
    }

    @Test("Q8_0: d = quantF16(amax/127), q = round-half-even(x·127/amax)")
    func q8_0() {
        let n = 640
        let x = Self.fixture(n: n)
        let act = ActivationBuffer()
        x.withUnsafeBufferPointer { act.prepare(for: .q5_0, x: $0.baseAddress!, rows: 1, n: n) }
        #expect(act.format == .q8_0 && act.rowBytes == 20 * 34)
        let bytes = UnsafeRawBufferPointer(start: act.row(0), count: act.rowBytes)
        for b in 0..<(n / 32) {
            let block = Array(x[(32 * b)..<(32 * b + 32)])
            let amax = block.map(abs).max()!
            let dBits = UInt16(bytes[34 * b]) | UInt16(bytes[34 * b + 1]) << 8
            #expect(dBits == Float16(amax / 127).bitPattern, "block \(b) d")
            let id: Float = amax == 0 ? 0 : 127 / amax
            for j in 0..<32 {
                let q = Int(Int8(bitPattern: bytes[34 * b + 2 + j]))
                #expect(q == Self.roundEven(block[j] * id), "block \(b) element \(j)")
            }
        }
    }

    @Test("Q8_K: signed max, iscale = -127/max, d = 1/iscale (may be negative), bsums")
    func q8_K() {
        let n = 768
        let x = Self.fixture(n: n)
        let act = ActivationBuffer()
        x.withUnsafeBufferPointer { act.prepare(for: .q6_K, x: $0.baseAddress!, rows: 1, n: n) }
        #expect(act.format == .q8_K && act.rowBytes == 3 * 292)
        let row = act.row(0)
        for b in 0..<(n / 256) {
            let block = Array(x[(256 * b)..<(256 * b + 256)])
            let base = 292 * b
            let d = row.load(fromByteOffset: base, as: Float.self)
            var maxValue: Float = 0
            for v in block where abs(v) > abs(maxValue) { maxValue = v }
            let qs = (0..<256).map { Int(row.load(fromByteOffset: base + 4 + $0, as: Int8.self)) }
            if maxValue == 0 {
                #expect(d == 0 && qs.allSatisfy { $0 == 0 })
            } else {
                let iscale = -127 / maxValue
                #expect(d == 1 / iscale)
                for j in 0..<256 { #expect(qs[j] == min(127, Self.roundEven(iscale * block[j])), "block \(b) element \(j)") }
            }
            if b == 0 { #expect(d > 0, "max is -50, so iscale > 0 and d > 0") }
            if b == 2 { #expect(d < 0, "positive max gives a negative d") }
            for i in 0..<16 {
                let bsum = Int(row.load(fromByteOffset: base + 260 + 2 * i, as: Int16.self))
                #expect(bsum == qs[(16 * i)..<(16 * i + 16)].reduce(0, +), "block \(b) bsums[\(i)]")
            }
        }
    }

    @Test("The AVX2 quantizers are bit-identical to the Swift reference", .enabled(if: ck_has_avx2() != 0),
          arguments: [GGMLType.q8_0, .q8_K])
    func simdMatchesSwift(format: GGMLType) {
        let n = 1024
        var x = Self.fixture(n: n)
        var rng = QuantRNG(seed: 99)
        for i in 512..<768 { x[i] = Float(Int.random(in: -20...20, using: &rng)) * 0.5 }  // many exact ties
        x[520] = 10; x[530] = -10  // equal magnitudes of both signs: the first one sets the Q8_K sign
        x[800] = 1e-30  // a tiny block maximum (subnormal f16 scale)
        let blocks = n / format.blockSize, bytes = blocks * format.typeSize
        var swift = [UInt8](repeating: 0xAA, count: bytes), simd = [UInt8](repeating: 0x55, count: bytes)
        x.withUnsafeBufferPointer { src in
            swift.withUnsafeMutableBytes { dst in
                if format == .q8_0 { ActivationQuant.q8_0(src.baseAddress!, dst.baseAddress!, count: n) }
                else { ActivationQuant.q8_K(src.baseAddress!, dst.baseAddress!, count: n) }
            }
            simd.withUnsafeMutableBytes { dst in
                if format == .q8_0 { ck_quantize_q8_0(src.baseAddress!, dst.baseAddress!, Int32(blocks)) }
                else { ck_quantize_q8_K(src.baseAddress!, dst.baseAddress!, Int32(blocks)) }
            }
        }
        for i in 0..<bytes where swift[i] != simd[i] {
            Issue.record("byte \(i) (block \(i / format.typeSize)): swift \(swift[i]) simd \(simd[i])")
            break
        }
    }

    @Test("Buffer grows, keeps float rows verbatim, and reports its shape")
    func growsAndCopies() {
        let act = ActivationBuffer()
        let small: [Float] = [1, 2, 3, 4]
        small.withUnsafeBufferPointer { act.prepare(for: .f32, x: $0.baseAddress!, rows: 2, n: 2) }
        #expect(act.rows == 2 && act.n == 2 && act.format == .f32)
        let big = [Float](repeating: 0.25, count: 17 * 2048)
        big.withUnsafeBufferPointer { act.prepare(for: .f16, x: $0.baseAddress!, rows: 17, n: 2048) }
        #expect(act.capacity >= 17 * 2048 * 4)
        #expect(act.row(16).load(fromByteOffset: 4 * 2047, as: Float.self) == 0.25)
    }
}
