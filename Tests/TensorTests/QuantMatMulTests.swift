import Testing
@testable import Tensor

/// `MatMul.compute` against the dequantize-then-f32 reference (the fast paths against the scalar kernels are in
/// `QuantKernelPathTests`).
@Suite("Quant matmul")
struct QuantMatMulTests {
    struct Case: CustomStringConvertible, Sendable {
        let type: GGMLType, n: Int, tokens: Int
        var description: String { "\(type) n=\(n) T=\(tokens)" }
    }

    static let cases: [Case] = (quantBlockTypes + quantFloatTypes).flatMap { type in
        let widths = type.blockSize == 256 ? [256, 512] : [256, 512, 640]
        return widths.flatMap { n in [1, 3, 17].map { Case(type: type, n: n, tokens: $0) } }
    }

    /// A random matrix, activations, and the result of `compute` on rows 1..<rows-1 with a padded stride.
    struct Fixture {
        let weights: [UInt8], x: [Float], out: [Float], rows: Int, outStride: Int, rowRange: Range<Int>
    }

    static func run(_ c: Case, path: KernelPath, seed: UInt64, rows: Int = 9) -> Fixture {
        var rng = QuantRNG(seed: seed)
        let weights = (0..<rows).flatMap { _ in quantRandomRow(c.type, n: c.n, rng: &rng) }
        let x = quantRandomActivations(count: c.tokens * c.n, rng: &rng)  // [tokens, n]
        let outStride = rows + 3
        let rowRange = 1..<(rows - 1)
        var out = [Float](repeating: .nan, count: c.tokens * outStride)  // [tokens, outStride]
        let act = ActivationBuffer()
        x.withUnsafeBufferPointer { act.prepare(for: c.type, x: $0.baseAddress!, rows: c.tokens, n: c.n) }
        weights.withUnsafeBytes { w in
            out.withUnsafeMutableBufferPointer { o in
                MatMul.compute(c.type, weight: w.baseAddress!, n: c.n, rows: rowRange, act: act,
                               out: o.baseAddress!, outStride: outStride, path: path)
            }
        }
        return Fixture(weights: weights, x: x, out: out, rows: rows, outStride: outStride, rowRange: rowRange)
    }

    /// Error budget of the 8-bit activation path for one output.
    ///
    /// Quantizing x_i to q·d_a costs at most half a step, |x_i − q·d_a| ≤ d_a/2, where d_a = amax/127 of the
    /// activation block. For Q8_0, d_a is also rounded to f16 while q used the f32 scale, which adds up to
    /// 127·d_a·2^-11 ≈ 0.062·d_a. So |err| ≤ Σ_i |w_i|·0.57·d_a(i); f32 accumulation adds ~1e-5·Σ|w_i·x_i|.
    /// Float weight types keep f32 activations and only get the accumulation term.
    static func budget(_ type: GGMLType, w: [Float], x: ArraySlice<Float>) -> Float {
        let x = Array(x)
        var sumAbs: Float = 0
        for i in 0..<w.count { sumAbs += abs(w[i] * x[i]) }
        var quant: Float = 0
        let block = ActivationFormat(weightType: type) == .q8_K ? 256 : 32
        if ActivationFormat(weightType: type) != .f32 {
            for b in 0..<(w.count / block) {
                let range = (b * block)..<((b + 1) * block)
                let dA = x[range].map(abs).max()! / 127
                quant += range.reduce(Float(0)) { $0 + abs(w[$1]) } * 0.57 * dA
            }
        }
        return quant + 1e-5 * sumAbs + 1e-5
    }

    @Test("compute matches referenceDot within the 8-bit activation budget", arguments: cases)
    func matchesReference(c: Case) {
        let f = Self.run(c, path: .best, seed: 1000 + UInt64(c.n + c.tokens) &* 31 &+ UInt64(c.type.rawValue))
        let rowBytes = c.type.rowBytes(c.n)
        for t in 0..<c.tokens {
            for o in 0..<f.outStride {
                let got = f.out[t * f.outStride + o]
                guard f.rowRange.contains(o) else {
                    #expect(got.isNaN, "output \(o) outside rows was written")
                    continue
                }
                let row = Array(f.weights[(o * rowBytes)..<((o + 1) * rowBytes)])
                let xs = f.x[(t * c.n)..<((t + 1) * c.n)]
                let want = row.withUnsafeBytes { r in
                    Array(xs).withUnsafeBufferPointer { MatMul.referenceDot(c.type, row: r.baseAddress!, x: $0.baseAddress!, n: c.n) }
                }
                let limit = Self.budget(c.type, w: quantDequantized(c.type, row, n: c.n), x: xs)
                #expect(abs(got - want) <= limit, "t=\(t) o=\(o): \(got) vs \(want), budget \(limit)")
            }
        }
    }

    /// Batch invariance: token t's outputs are bit-identical whether it is computed alone (decode, T = 1) or
    /// among other tokens (a batch of sequences, a speculative verification). Speculative greedy output is
    /// identical to plain decoding only because of this.
    @Test("A token's outputs do not depend on how many tokens share the call", arguments: quantBlockTypes + quantFloatTypes)
    func batchInvariance(type: GGMLType) {
        for n in type.blockSize == 256 ? [256, 512, 2048] : [96, 256, 640, 2048] {   // 96: an odd block count
            let c = Case(type: type, n: n, tokens: 7)
            let together = Self.run(c, path: .best, seed: 77 + UInt64(n))
            for t in 0..<c.tokens {
                var alone = [Float](repeating: .nan, count: together.outStride)
                let act = ActivationBuffer()
                together.x.withUnsafeBufferPointer { act.prepare(for: type, x: $0.baseAddress! + t * n, rows: 1, n: n) }
                together.weights.withUnsafeBytes { w in
                    alone.withUnsafeMutableBufferPointer {
                        MatMul.compute(type, weight: w.baseAddress!, n: n, rows: together.rowRange, act: act,
                                       out: $0.baseAddress!, outStride: together.outStride)
                    }
                }
                for o in together.rowRange {
                    let a = alone[o], b = together.out[t * together.outStride + o]
                    #expect(a.bitPattern == b.bitPattern, "\(type) n=\(n) t=\(t) o=\(o): alone \(a) vs batched \(b)")
                }
            }
        }
    }

    @Test("Concurrent calls on disjoint row ranges with one buffer give the single-call result")
    func concurrentRanges() async {
        let c = Case(type: .q8_0, n: 640, tokens: 3)
        let whole = Self.run(c, path: .best, seed: 5)
        let act = ActivationBuffer()
        whole.x.withUnsafeBufferPointer { act.prepare(for: c.type, x: $0.baseAddress!, rows: c.tokens, n: c.n) }
        let weights = whole.weights, stride = whole.outStride
        let halves = [1..<4, 4..<8]
        let parts = await withTaskGroup(of: (Range<Int>, [Float]).self) { group in
            for range in halves {
                group.addTask {
                    var out = [Float](repeating: .nan, count: c.tokens * stride)
                    weights.withUnsafeBytes { w in
                        out.withUnsafeMutableBufferPointer {
                            MatMul.compute(c.type, weight: w.baseAddress!, n: c.n, rows: range, act: act,
                                           out: $0.baseAddress!, outStride: stride)
                        }
                    }
                    return (range, out)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (range, out) in parts {
            for t in 0..<c.tokens {
                for o in range { #expect(out[t * stride + o] == whole.out[t * stride + o]) }
            }
        }
    }
}
