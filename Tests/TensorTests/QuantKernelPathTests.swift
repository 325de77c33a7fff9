import CKernels
import Testing
@testable import Tensor

/// The SIMD paths (AVX2 row dots and tiles, AVX-512 VNNI row dots and tiles) against the scalar kernels,
/// on shapes that exercise every tail: row ranges that are not a multiple of the 4-row tile, token counts
/// that are not a multiple of the token tile (and T = 1, which takes the row dots), odd block counts.
@Suite("Quant kernel paths")
struct QuantKernelPathTests {
    /// The SIMD paths this CPU can run.
    static let fastPaths: [KernelPath] = (ck_has_avx512vnni() != 0 ? [.vnni] : []) + (ck_has_avx2() != 0 ? [.avx2] : [])

    struct Case: CustomStringConvertible, Sendable {
        let type: GGMLType, n: Int, tokens: Int
        var description: String { "\(type) n=\(n) T=\(tokens)" }
    }

    /// Odd block counts (3 blocks: 96 / 768) and the Gemma widths, for T in {1, 2, 3, 5, 17, 64, 65}.
    static let cases: [Case] = quantBlockTypes.flatMap { type in
        let widths = type.blockSize == 256 ? [768, 1024] : [96, 640]
        return widths.flatMap { n in [1, 2, 3, 5, 17, 64, 65].map { Case(type: type, n: n, tokens: $0) } }
    }

    /// Error budget for the same integer block dots summed in a different f32 order (and, for the Q4_K/Q5_K
    /// mins, with dmin·m and d_a·bsums multiplied first): a few ulp of the magnitude of the terms.
    /// Magnitude: Σ|x_i| · 3·max|w| (every term d·sc·q and dmin·m is at most twice max|w| for random rows).
    static func budget(w: [Float], x: ArraySlice<Float>) -> Float {
        let maxW = w.map(abs).max() ?? 0
        let sumX = x.reduce(Float(0)) { $0 + abs($1) }
        return 1e-5 * 3 * maxW * sumX + 1e-6
    }

    @Test("every fast path matches the scalar kernels", .enabled(if: !fastPaths.isEmpty), arguments: cases)
    func fastMatchesScalar(c: Case) {
        let seed = 11 + UInt64(c.n) &* 131 &+ UInt64(c.tokens) &* 7 &+ UInt64(c.type.rawValue)
        let rows = 12  // computed range 1..<11: 10 rows, a 4-row tile tail of 2
        let slow = QuantMatMulTests.run(.init(type: c.type, n: c.n, tokens: c.tokens), path: .scalar, seed: seed, rows: rows)
        let rowBytes = c.type.rowBytes(c.n)
        for path in Self.fastPaths {
            let fast = QuantMatMulTests.run(.init(type: c.type, n: c.n, tokens: c.tokens), path: path, seed: seed, rows: rows)
            for t in 0..<c.tokens {
                for o in 0..<fast.outStride {
                    let a = fast.out[t * fast.outStride + o], b = slow.out[t * slow.outStride + o]
                    guard fast.rowRange.contains(o) else {
                        #expect(a.isNaN, "\(path): output \(o) outside rows was written")
                        continue
                    }
                    let w = quantDequantized(c.type, Array(fast.weights[(o * rowBytes)..<((o + 1) * rowBytes)]), n: c.n)
                    let limit = Self.budget(w: w, x: fast.x[(t * c.n)..<((t + 1) * c.n)])
                    #expect(abs(a - b) <= limit, "\(path) t=\(t) o=\(o): \(a) vs \(b), budget \(limit)")
                }
            }
        }
    }

    @Test("splitting the row range at any offset changes no bit", arguments: [GGMLType.q5_0, .q8_0, .q4_K, .q6_K])
    func splitRanges(type: GGMLType) {
        let n = type.blockSize == 256 ? 512 : 640, tokens = 7
        let whole = QuantMatMulTests.run(.init(type: type, n: n, tokens: tokens), path: .best, seed: 3, rows: 9)
        let act = ActivationBuffer()
        whole.x.withUnsafeBufferPointer { act.prepare(for: type, x: $0.baseAddress!, rows: tokens, n: n) }
        for split in whole.rowRange {
            var out = [Float](repeating: .nan, count: tokens * whole.outStride)
            whole.weights.withUnsafeBytes { w in
                out.withUnsafeMutableBufferPointer { o in
                    for range in [whole.rowRange.lowerBound..<split, split..<whole.rowRange.upperBound] {
                        MatMul.compute(type, weight: w.baseAddress!, n: n, rows: range, act: act,
                                       out: o.baseAddress!, outStride: whole.outStride)
                    }
                }
            }
            for t in 0..<tokens {
                for o in whole.rowRange {
                    // Same kernel, same per-(row, token) summation: splitting the rows must not change a bit.
                    #expect(out[t * whole.outStride + o].bitPattern == whole.out[t * whole.outStride + o].bitPattern,
                            "split \(split) t=\(t) o=\(o)")
                }
            }
        }
    }
}
