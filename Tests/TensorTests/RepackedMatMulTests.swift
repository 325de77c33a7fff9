import Testing
@testable import Tensor

/// `MatMul.compute` over `RepackedWeights` (`ck_gemm_r16`): against the dequantize-then-f32 reference, bit for
/// bit across token counts and row splits (batch invariance), and close to the mapped-block kernels.
@Suite("Repacked matmul")
struct RepackedMatMulTests {
    static let types: [GGMLType] = [.q4_0, .q5_0, .q8_0, .q4_K, .q6_K]

    struct Fixture {
        let weights: [UInt8], x: [Float], rows: Int, n: Int, tokens: Int
    }

    static func fixture(_ type: GGMLType, rows: Int, n: Int, tokens: Int, seed: UInt64) -> Fixture {
        var rng = QuantRNG(seed: seed)
        let weights = (0..<rows).flatMap { _ in quantRandomRow(type, n: n, rng: &rng) }  // [rows, rowBytes]
        let x = quantRandomActivations(count: tokens * n, rng: &rng)  // [tokens, n]
        return Fixture(weights: weights, x: x, rows: rows, n: n, tokens: tokens)
    }

    static func repack(_ type: GGMLType, _ f: Fixture) throws -> RepackedWeights {
        try #require(RepackedWeights.supports(type) == (KernelPath.best == .vnni))
        return try #require(f.weights.withUnsafeBytes { RepackedWeights(type: type, weight: $0.baseAddress!, rows: f.rows, cols: f.n) })
    }

    /// out: [tokens, rows + 5] (NaN outside the computed rows), token rows `tokens` taken from `first`.
    static func compute(_ r: RepackedWeights, _ f: Fixture, first: Int = 0, tokens: Int, rows: [Range<Int>]) -> [Float] {
        let stride = f.rows + 5
        var out = [Float](repeating: .nan, count: tokens * stride)
        let act = ActivationBuffer()
        f.x.withUnsafeBufferPointer { act.prepare(for: r.type, x: $0.baseAddress! + first * f.n, rows: tokens, n: f.n) }
        out.withUnsafeMutableBufferPointer { o in
            for range in rows { MatMul.compute(r, rows: range, act: act, out: o.baseAddress!, outStride: stride) }
        }
        return out
    }

    @Test("Repacked compute matches referenceDot within the 8-bit activation budget",
          arguments: types, [1, 3, 17, 64])
    func matchesReference(type: GGMLType, tokens: Int) throws {
        guard KernelPath.best == .vnni else {
            #expect(!RepackedWeights.supports(type))
            return
        }
        let f = Self.fixture(type, rows: 37, n: type.blockSize == 256 ? 512 : 640, tokens: tokens, seed: 4242 + UInt64(tokens))
        let r = try Self.repack(type, f)
        let out = Self.compute(r, f, tokens: tokens, rows: [0..<f.rows])
        let rowBytes = type.rowBytes(f.n), stride = f.rows + 5
        for t in 0..<tokens {
            for o in 0..<stride {
                let got = out[t * stride + o]
                guard o < f.rows else {
                    #expect(got.isNaN, "output \(o) outside rows was written")
                    continue
                }
                let row = Array(f.weights[(o * rowBytes)..<((o + 1) * rowBytes)])
                let xs = f.x[(t * f.n)..<((t + 1) * f.n)]
                let want = row.withUnsafeBytes { w in
                    Array(xs).withUnsafeBufferPointer { MatMul.referenceDot(type, row: w.baseAddress!, x: $0.baseAddress!, n: f.n) }
                }
                let limit = QuantMatMulTests.budget(type, w: quantDequantized(type, row, n: f.n), x: xs)
                #expect(abs(got - want) <= limit, "\(type) t=\(t) o=\(o): \(got) vs \(want), budget \(limit)")
            }
        }
    }

    /// Batch invariance (what speculative decoding's exactness rests on): a token's outputs are bit-identical
    /// alone, among 63 others, and with the rows split into 16-aligned ranges as the thread pool splits them.
    @Test("A token's outputs do not depend on the token count or the row split", arguments: types)
    func batchInvariance(type: GGMLType) throws {
        guard KernelPath.best == .vnni else { return }
        for n in type.blockSize == 256 ? [256, 512, 2048] : [96, 640, 2048] {   // 96: an odd block count
            let f = Self.fixture(type, rows: 53, n: n, tokens: 64, seed: 99 + UInt64(n))
            let r = try Self.repack(type, f)
            let together = Self.compute(r, f, tokens: 64, rows: [0..<f.rows])
            let split = Self.compute(r, f, tokens: 64, rows: [0..<16, 16..<48, 48..<53])
            let stride = f.rows + 5
            for t in [0, 1, 7, 8, 9, 63] {
                let alone = Self.compute(r, f, first: t, tokens: 1, rows: [0..<f.rows])
                for o in 0..<f.rows {
                    let a = alone[o], b = together[t * stride + o], c = split[t * stride + o]
                    #expect(a.bitPattern == b.bitPattern, "\(type) n=\(n) t=\(t) o=\(o): alone \(a) vs batched \(b)")
                    #expect(c.bitPattern == b.bitPattern, "\(type) n=\(n) t=\(t) o=\(o): split \(c) vs whole \(b)")
                }
            }
        }
    }
}
