import CKernels
import Foundation
import Testing
@testable import NumericCore

/// The tiled attention kernel (`VectorMath.flashAttend`, AVX-512) on random paged K/V of three sequences in
/// one pool (block tables shuffled), every row format, with and without a sliding window:
/// - a row's output bits are the same computed alone (decode), alone one head at a time, with all rows of
///   its sequence, in odd contiguous pieces with odd head splits, and dealt round-robin (step 3);
/// - against softmax(q·kᵀ·scale)·v in Double on the decoded K/V: max |Δ| <= 2e-6 (outputs are averages of
///   values in [-1, 1]; f32 accumulation and the 2e-7 exp approximation only).
@Suite("Flash attention kernel", .enabled(if: ck_has_avx512f() != 0, "the tiled kernel needs AVX-512F"))
struct FlashAttentionTests {
    static let blockSize = 16, kvHeads = 2, kvh = 1, heads = 4
    /// Sequence lengths and the positions of their query rows (the last rows of each).
    static let lengths = [200, 150, 70]
    static let queries = [140..<200, 149..<150, 7..<70]

    struct Case: Sendable, CustomStringConvertible {
        let format: RowFormat, hd: Int, window: Int
        var description: String { "\(format) hd=\(hd) window=\(window)" }
    }

    static let cases: [Case] = RowFormat.allCases.flatMap { f in
        [Case(format: f, hd: 256, window: 0), Case(format: f, hd: 256, window: 37), Case(format: f, hd: 64, window: 100)]
    }

    /// Random pool, tables, queries; runs the kernel for rows `i0 + k * step` (k < n) of sequence `s`, heads
    /// `h0 ..< h0 + hn`, writing into `out[s]` ([rows, heads * hd]).
    final class Fixture {
        let c: Case
        let stride: Int, rowBytes: Int
        var kPool: [UInt8], vPool: [UInt8]
        var kDecoded: [Float], vDecoded: [Float]
        var tables: [[Int]] = []
        var q: [[Float]] = []
        let scale: Float

        init(_ c: Case) {
            self.c = c
            var rng = SystemRandomNumberGenerator()
            stride = FlashAttentionTests.kvHeads * c.hd
            rowBytes = c.format.rowBytes(stride)
            let bs = FlashAttentionTests.blockSize
            let blockCounts = FlashAttentionTests.lengths.map { ($0 + bs - 1) / bs }
            let total = blockCounts.reduce(0, +)
            var ids = Array(0..<total).shuffled(using: &rng)
            for n in blockCounts {
                tables.append(Array(ids.prefix(n)))
                ids.removeFirst(n)
            }
            let rows = total * bs
            kPool = [UInt8](repeating: 0, count: rows * rowBytes)
            vPool = kPool
            kDecoded = [Float](repeating: 0, count: rows * stride)
            vDecoded = kDecoded
            let stride = self.stride, rowBytes = self.rowBytes
            func fill(_ pool: inout [UInt8], _ decoded: inout [Float]) {
                let values = (0..<(rows * stride)).map { _ in Float.random(in: -1...1, using: &rng) }
                pool.withUnsafeMutableBytes { p in
                    values.withUnsafeBufferPointer { x in
                        decoded.withUnsafeMutableBufferPointer { y in
                            for r in 0..<rows {
                                c.format.encode(x.baseAddress! + r * stride, p.baseAddress! + r * rowBytes, stride)
                                c.format.decode(p.baseAddress! + r * rowBytes, y.baseAddress! + r * stride, stride)
                            }
                        }
                    }
                }
            }
            fill(&kPool, &kDecoded)
            fill(&vPool, &vDecoded)
            // Wide queries so the softmax is peaked (the running max matters).
            q = FlashAttentionTests.queries.map { r in
                (0..<(r.count * FlashAttentionTests.heads * c.hd)).map { _ in Float.random(in: -4...4, using: &rng) }
            }
            scale = 1 / Float(c.hd).squareRoot()
        }

        func emptyOutputs() -> [[Float]] {
            FlashAttentionTests.queries.map { [Float](repeating: .nan, count: $0.count * FlashAttentionTests.heads * c.hd) }
        }

        func run(_ s: Int, rows i0: Int, count n: Int, step: Int, heads h0: Int, _ hn: Int, into out: inout [[Float]]) {
            let bs = FlashAttentionTests.blockSize, hd = c.hd, qDim = FlashAttentionTests.heads * hd
            let p0 = FlashAttentionTests.queries[s].lowerBound + i0, pLast = p0 + (n - 1) * step
            let lo = c.window > 0 ? max(0, p0 - c.window + 1) : 0
            let firstBlock = lo / bs
            let headOffset = c.format.rowBytes(FlashAttentionTests.kvh * hd)
            var work = [Float](repeating: .nan, count: VectorMath.flashAttentionWork(vectors: n * hn, headDim: hd))
            let offset = i0 * qDim + h0 * hd
            kPool.withUnsafeBytes { kp in
                vPool.withUnsafeBytes { vp in
                    let blocks = Array(firstBlock...(pLast / bs))
                    let kb: [UnsafeRawPointer?] = blocks.map { kp.baseAddress! + tables[s][$0] * bs * rowBytes + headOffset }
                    let vb: [UnsafeRawPointer?] = blocks.map { vp.baseAddress! + tables[s][$0] * bs * rowBytes + headOffset }
                    q[s].withUnsafeBufferPointer { qp in
                        out[s].withUnsafeMutableBufferPointer { op in
                            VectorMath.flashAttend(qp.baseAddress! + offset, qRowStride: step * qDim, rows: n, heads: hn,
                                                   headDim: hd, p0: p0, positionStep: step, window: c.window,
                                                   keyBlocks: kb, valueBlocks: vb, firstBlock: firstBlock,
                                                   format: c.format, blockSize: bs, rowStride: stride, scale: scale,
                                                   work: &work, out: op.baseAddress! + offset, outRowStride: step * qDim)
                        }
                    }
                }
            }
        }

        /// Decoded K or V row of position p of sequence s, this KV head.
        func row(_ decoded: [Float], _ s: Int, _ p: Int) -> ArraySlice<Float> {
            let bs = FlashAttentionTests.blockSize
            let base = (tables[s][p / bs] * bs + p % bs) * stride + FlashAttentionTests.kvh * c.hd
            return decoded[base..<(base + c.hd)]
        }
    }

    @Test(arguments: cases)
    func rowBitsDoNotDependOnTheTile(_ c: Case) {
        let f = Fixture(c)
        let H = Self.heads
        var together = f.emptyOutputs(), alone = together, aloneHeads = together, odd = together, dealt = together
        for (s, r) in Self.queries.enumerated() {
            f.run(s, rows: 0, count: r.count, step: 1, heads: 0, H, into: &together)
            for i in 0..<r.count {
                f.run(s, rows: i, count: 1, step: 1, heads: 0, H, into: &alone)
                for h in 0..<H { f.run(s, rows: i, count: 1, step: 1, heads: h, 1, into: &aloneHeads) }
            }
            // Contiguous pieces of 3, 5, 1, 7, 3, 5, ... rows; heads split 1 + 3.
            var i = 0, k = 0
            while i < r.count {
                let n = min([3, 5, 1, 7][k % 4], r.count - i)
                f.run(s, rows: i, count: n, step: 1, heads: 0, 1, into: &odd)
                f.run(s, rows: i, count: n, step: 1, heads: 1, 3, into: &odd)
                i += n
                k += 1
            }
            for k in 0..<min(3, r.count) {
                f.run(s, rows: k, count: (r.count - k + 2) / 3, step: 3, heads: 0, H, into: &dealt)
            }
        }
        let bits = together.map { $0.map(\.bitPattern) }
        #expect(!together.joined().contains { $0.isNaN })
        #expect(alone.map { $0.map(\.bitPattern) } == bits, "one row per call")
        #expect(aloneHeads.map { $0.map(\.bitPattern) } == bits, "one row and one head per call")
        #expect(odd.map { $0.map(\.bitPattern) } == bits, "odd pieces and head splits")
        #expect(dealt.map { $0.map(\.bitPattern) } == bits, "rows dealt round-robin")
    }

    @Test(arguments: cases)
    func matchesDoubleReference(_ c: Case) {
        let f = Fixture(c)
        let H = Self.heads, hd = c.hd
        var out = f.emptyOutputs()
        var worst = 0.0
        for (s, r) in Self.queries.enumerated() {
            f.run(s, rows: 0, count: r.count, step: 1, heads: 0, H, into: &out)
            for (i, p) in r.enumerated() {
                let lo = c.window > 0 ? max(0, p - c.window + 1) : 0
                for h in 0..<H {
                    let qh = f.q[s][((i * H + h) * hd)..<((i * H + h + 1) * hd)]
                    let scores = (lo...p).map { j in
                        zip(qh, f.row(f.kDecoded, s, j)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } * Double(f.scale)
                    }
                    let m = scores.max()!
                    let e = scores.map { Foundation.exp($0 - m) }
                    let z = e.reduce(0, +)
                    var o = [Double](repeating: 0, count: hd)
                    for (j, pos) in (lo...p).enumerated() {
                        for (d, v) in f.row(f.vDecoded, s, pos).enumerated() { o[d] += e[j] / z * Double(v) }
                    }
                    for d in 0..<hd { worst = max(worst, abs(o[d] - Double(out[s][(i * H + h) * hd + d]))) }
                }
            }
        }
        #expect(!out.joined().contains { $0.isNaN })
        print("[flash \(c)] max |Δ| vs Double \(worst)")
        #expect(worst <= 2e-6, "max |Δ| \(worst)")
    }
}
