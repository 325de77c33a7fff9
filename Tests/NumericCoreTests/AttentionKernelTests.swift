import CKernels
import Foundation
import Testing
@testable import NumericCore

/// The fused C attention kernels (`ck_vattend*`, AVX2) and their Swift scalar reference against a
/// Double-precision reference on random paged K/V in every row format: several head counts, head sizes,
/// block sizes, ranges starting mid-block (sliding window) and odd lengths; a shape the C kernel does not
/// take (3 heads of 96) goes through the Swift reference. Tolerance 2e-6 absolute on outputs of magnitude
/// ~0.5 (f32 summation order only).
@Suite("Attention kernel")
struct AttentionKernelTests {
    struct Case: Sendable, CustomStringConvertible {
        let heads: Int, hd: Int, blockSize: Int, lo: Int, count: Int
        var description: String { "hn=\(heads) hd=\(hd) bs=\(blockSize) lo=\(lo) count=\(count)" }
    }

    static let cases: [Case] = [
        Case(heads: 1, hd: 64, blockSize: 16, lo: 0, count: 1),
        Case(heads: 2, hd: 64, blockSize: 16, lo: 0, count: 64),
        Case(heads: 4, hd: 256, blockSize: 16, lo: 0, count: 17),
        Case(heads: 4, hd: 256, blockSize: 16, lo: 37, count: 512),
        Case(heads: 8, hd: 128, blockSize: 32, lo: 5, count: 99),
        Case(heads: 1, hd: 256, blockSize: 1, lo: 3, count: 40),
        Case(heads: 3, hd: 96, blockSize: 16, lo: 2, count: 33),
    ]

    /// Every row format: the kernel reads K/V stored in `format` (f16: rounded to IEEE half; q8_0: quantized
    /// as `Q8_0Row.quantize`); the reference uses the decoded values, so only the summation order differs.
    /// `VectorMath.attend` (the C kernel) and `attendReference` (its scalar Swift twin) are both checked.
    @Test(arguments: cases, RowFormat.allCases)
    func fusedAttentionMatchesReference(_ c: Case, format: RowFormat) {
        var rng = SystemRandomNumberGenerator()
        let kvHeads = 2, kvh = 1                      // the tested KV head is not the first one
        let stride = kvHeads * c.hd
        let rowBytes = format.rowBytes(stride)
        let firstBlock = c.lo / c.blockSize, lastBlock = (c.lo + c.count - 1) / c.blockSize
        let blocks = lastBlock - firstBlock + 1
        let rows = blocks * c.blockSize
        // Blocks are stored out of order in the pool, as a block table would point at them.
        let order = Array((0..<blocks).reversed())
        let kValues = (0..<(rows * stride)).map { _ in Float.random(in: -1...1, using: &rng) }
        let vValues = (0..<(rows * stride)).map { _ in Float.random(in: -1...1, using: &rng) }
        // Stored rows, and what they decode to (the reference's inputs).
        var kPool = [UInt8](repeating: 0, count: rows * rowBytes), vPool = kPool
        var kDecoded = [Float](repeating: 0, count: rows * stride), vDecoded = kDecoded
        func fill(_ pool: inout [UInt8], _ decoded: inout [Float], from values: [Float]) {
            pool.withUnsafeMutableBytes { p in
                values.withUnsafeBufferPointer { x in
                    decoded.withUnsafeMutableBufferPointer { y in
                        for r in 0..<rows {
                            format.encode(x.baseAddress! + r * stride, p.baseAddress! + r * rowBytes, stride)
                            format.decode(p.baseAddress! + r * rowBytes, y.baseAddress! + r * stride, stride)
                        }
                    }
                }
            }
        }
        fill(&kPool, &kDecoded, from: kValues)
        fill(&vPool, &vDecoded, from: vValues)
        let q = (0..<(c.heads * c.hd)).map { _ in Float.random(in: -1...1, using: &rng) }
        let scale = 1 / Float(c.hd).squareRoot()
        var out = [Float](repeating: .nan, count: c.heads * c.hd)
        var outSwift = [Float](repeating: .nan, count: c.heads * c.hd)
        var scores = [Float](repeating: 0, count: c.heads * c.count)
        func offset(_ b: Int) -> Int { order[b] * c.blockSize * rowBytes + format.rowBytes(kvh * c.hd) }
        kPool.withUnsafeBytes { kp in
            vPool.withUnsafeBytes { vp in
                let kb: [UnsafeRawPointer?] = (0..<blocks).map { kp.baseAddress! + offset($0) }
                let vb: [UnsafeRawPointer?] = (0..<blocks).map { vp.baseAddress! + offset($0) }
                VectorMath.attend(q, heads: c.heads, headDim: c.hd, keyBlocks: kb, valueBlocks: vb, format: format,
                                  blockSize: c.blockSize, rowStride: stride, lo: c.lo, count: c.count, scale: scale,
                                  scores: &scores, out: &out)
                VectorMath.attendReference(q, heads: c.heads, headDim: c.hd, keyBlocks: kb, valueBlocks: vb,
                                           format: format, blockSize: c.blockSize, rowStride: stride, lo: c.lo,
                                           count: c.count, scale: scale, scores: &scores, out: &outSwift)
            }
        }
        // Reference: position p is in pool block order[p / bs - firstBlock], slot p % bs.
        func row(_ pool: [Float], _ p: Int) -> ArraySlice<Float> {
            let base = (order[p / c.blockSize - firstBlock] * c.blockSize + p % c.blockSize) * stride + kvh * c.hd
            return pool[base..<(base + c.hd)]
        }
        var worst = 0.0, worstSwift = 0.0
        for h in 0..<c.heads {
            let qh = q[(h * c.hd)..<((h + 1) * c.hd)]
            let s = (c.lo..<(c.lo + c.count)).map { p in
                zip(qh, row(kDecoded, p)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } * Double(scale)
            }
            let m = s.max()!
            let e = s.map { Foundation.exp($0 - m) }
            let z = e.reduce(0, +)
            for d in 0..<c.hd {
                var o = 0.0
                for (j, p) in (c.lo..<(c.lo + c.count)).enumerated() {
                    let v = row(vDecoded, p)
                    o += e[j] / z * Double(v[v.startIndex + d])
                }
                worst = max(worst, abs(o - Double(out[h * c.hd + d])))
                worstSwift = max(worstSwift, abs(o - Double(outSwift[h * c.hd + d])))
            }
        }
        print("[attend \(format) \(c)] max |Δ| C \(worst), Swift \(worstSwift)")
        #expect(worst <= 2e-6, "C kernel: max |Δ| \(worst)")
        #expect(worstSwift <= 2e-6, "Swift reference: max |Δ| \(worstSwift)")
    }

    /// The C conversions agree bit for bit with Swift's `Float16` (round to nearest even), both ways,
    /// including subnormals, infinities and values past the half range.
    @Test(.enabled(if: VectorMath.useC, "the C conversion needs F16C"))
    func halfConversionsMatchSwift() {
        var rng = SystemRandomNumberGenerator()
        var values: [Float] = [0, -0, 1, -1, 65504, 65520, 1e9, -1e9, 6e-8, 3e-8, 1e-10, .infinity, -.infinity]
        values += (0..<1000).map { _ in Float.random(in: -70000...70000, using: &rng) }
        values += (0..<1000).map { _ in Float.random(in: -1e-4...1e-4, using: &rng) }
        var halves = [UInt16](repeating: 0, count: values.count)
        VectorMath.toHalf(values, &halves, values.count)
        #expect(halves == values.map { Float16($0).bitPattern })
        var back = [Float](repeating: .nan, count: values.count)
        VectorMath.fromHalf(halves, &back, values.count)
        #expect(back == halves.map { Float(Float16(bitPattern: $0)) })
    }
}
