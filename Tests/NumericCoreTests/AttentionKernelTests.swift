import CKernels
import Foundation
import Testing
@testable import NumericCore

/// The fused C attention kernel (`ck_vattend`, AVX2) against a Double-precision reference on random paged
/// K/V: several head counts, head sizes, block sizes, ranges starting mid-block (sliding window) and odd
/// lengths. Tolerance 2e-6 absolute on outputs of magnitude ~0.5 (f32 summation order only).
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
    ]

    /// `half`: the f16 kernel over the same values rounded to IEEE half (the reference uses the rounded
    /// values, so only the summation order differs).
    @Test(.enabled(if: VectorMath.useC, "the C kernel needs AVX2 (the Swift loop is used otherwise)"),
          arguments: cases, [false, true])
    func fusedAttentionMatchesReference(_ c: Case, half: Bool) {
        var rng = SystemRandomNumberGenerator()
        let kvHeads = 2, kvh = 1                      // the tested KV head is not the first one
        let stride = kvHeads * c.hd
        let firstBlock = c.lo / c.blockSize, lastBlock = (c.lo + c.count - 1) / c.blockSize
        let blocks = lastBlock - firstBlock + 1
        // Blocks are stored out of order in the pool, as a block table would point at them.
        let order = Array((0..<blocks).reversed())
        func value() -> Float {
            let x = Float.random(in: -1...1, using: &rng)
            return half ? Float(Float16(x)) : x
        }
        var kPool = (0..<(blocks * c.blockSize * stride)).map { _ in value() }
        var vPool = (0..<(blocks * c.blockSize * stride)).map { _ in value() }
        var kHalf = kPool.map { Float16($0).bitPattern }, vHalf = vPool.map { Float16($0).bitPattern }
        let q = (0..<(c.heads * c.hd)).map { _ in Float.random(in: -1...1, using: &rng) }
        let scale = 1 / Float(c.hd).squareRoot()
        var out = [Float](repeating: .nan, count: c.heads * c.hd)
        var scores = [Float](repeating: 0, count: c.heads * c.count)
        func offset(_ b: Int) -> Int { order[b] * c.blockSize * stride + kvh * c.hd }
        if half {
            kHalf.withUnsafeMutableBufferPointer { kp in
                vHalf.withUnsafeMutableBufferPointer { vp in
                    let kb: [UnsafePointer<UInt16>?] = (0..<blocks).map { UnsafePointer(kp.baseAddress! + offset($0)) }
                    let vb: [UnsafePointer<UInt16>?] = (0..<blocks).map { UnsafePointer(vp.baseAddress! + offset($0)) }
                    ck_vattend_f16(q, Int32(c.heads), Int32(c.hd), kb, vb, Int32(c.blockSize), Int32(stride),
                                   Int32(c.lo), Int32(c.count), scale, &scores, &out)
                }
            }
        } else {
            kPool.withUnsafeMutableBufferPointer { kp in
                vPool.withUnsafeMutableBufferPointer { vp in
                    let kb: [UnsafePointer<Float>?] = (0..<blocks).map { UnsafePointer(kp.baseAddress! + offset($0)) }
                    let vb: [UnsafePointer<Float>?] = (0..<blocks).map { UnsafePointer(vp.baseAddress! + offset($0)) }
                    ck_vattend(q, Int32(c.heads), Int32(c.hd), kb, vb, Int32(c.blockSize), Int32(stride), Int32(c.lo),
                               Int32(c.count), scale, &scores, &out)
                }
            }
        }
        // Reference: position p is in pool block order[p / bs - firstBlock], slot p % bs.
        func row(_ pool: [Float], _ p: Int) -> ArraySlice<Float> {
            let base = (order[p / c.blockSize - firstBlock] * c.blockSize + p % c.blockSize) * stride + kvh * c.hd
            return pool[base..<(base + c.hd)]
        }
        var worst = 0.0
        for h in 0..<c.heads {
            let qh = q[(h * c.hd)..<((h + 1) * c.hd)]
            let s = (c.lo..<(c.lo + c.count)).map { p in
                zip(qh, row(kPool, p)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } * Double(scale)
            }
            let m = s.max()!
            let e = s.map { Foundation.exp($0 - m) }
            let z = e.reduce(0, +)
            for d in 0..<c.hd {
                var o = 0.0
                for (j, p) in (c.lo..<(c.lo + c.count)).enumerated() { o += e[j] / z * Double(row(vPool, p)[row(vPool, p).startIndex + d]) }
                worst = max(worst, abs(o - Double(out[h * c.hd + d])))
            }
        }
        #expect(worst <= 2e-6, "max |Δ| \(worst)")
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
