import Foundation
import Testing
@testable import NumericCore

/// `Q8_0Row`: the scalar q·k and p·V of the q8_0 KV cache against Double arithmetic on the dequantized
/// values, and quantization of rows that no finite model produces (no trap).
@Suite("Q8_0 rows")
struct Q8_0RowTests {
    /// Random quantized rows; `dot` and `axpy` within 1e-5 relative of Double on the dequantized values.
    @Test func dotAndAxpyMatchDequantizedValues() {
        var rng = SystemRandomNumberGenerator()
        let n = 256
        for _ in 0..<100 {
            let x = (0..<n).map { _ in Float.random(in: -30...30, using: &rng) }
            let a = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
            var row = [UInt8](repeating: 0, count: RowFormat.q8_0.rowBytes(n))
            row.withUnsafeMutableBytes { Q8_0Row.quantize(x, $0.baseAddress!, n) }
            var deq = [Float](repeating: .nan, count: n)
            row.withUnsafeBytes { Q8_0Row.dequantize($0.baseAddress!, &deq, n) }
            let exact = zip(a, deq).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let magnitude = zip(a, deq).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            let dot = row.withUnsafeBytes { Q8_0Row.dot(a, $0.baseAddress!, n) }
            #expect(abs(Double(dot) - exact) <= 1e-6 * magnitude, "dot \(dot) vs \(exact)")
            var y = a
            let s: Float = 0.37
            row.withUnsafeBytes { Q8_0Row.axpy(s, $0.baseAddress!, &y, n) }
            for i in 0..<n {
                let e = Double(a[i]) + Double(s) * Double(deq[i])
                #expect(abs(Double(y[i]) - e) <= 1e-6 * (1 + abs(e)))
            }
        }
    }

    /// The AVX2 quantizer and the scalar one write the same bytes: random rows at several scales, exact ties
    /// (x·id = k + 0.5 with d = 1 or 2), a zero block, tiny and huge blocks, and NaN / infinite elements.
    @Test(.enabled(if: VectorMath.useC, "the C quantizer needs AVX2"))
    func kernelMatchesScalarQuantizer() {
        var rng = SystemRandomNumberGenerator()
        var rows: [[Float]] = []
        for scale: Float in [1e-30, 1e-3, 1, 30, 1e30] {
            for _ in 0..<40 { rows.append((0..<256).map { _ in Float.random(in: -scale...scale, using: &rng) }) }
        }
        var ties = (0..<32).map { Float($0) - 15.5 }
        ties[0] = 127
        rows.append(ties + ties.map { $0 * 2 } + [Float](repeating: 0, count: 32) + ties.map { -$0 * 2 })
        var special = [Float](repeating: 0.25, count: 64)
        special[3] = .nan
        special[40] = .infinity
        special[41] = -.infinity
        rows.append(special)
        rows.append([Float](repeating: Float.leastNormalMagnitude / 16, count: 32) + [Float](repeating: Float.leastNonzeroMagnitude * 2, count: 32))
        for x in rows {
            var c = [UInt8](repeating: 0xAA, count: RowFormat.q8_0.rowBytes(x.count)), s = c
            c.withUnsafeMutableBytes { Q8_0Row.quantize(x, $0.baseAddress!, x.count) }
            s.withUnsafeMutableBytes { Q8_0Row.quantizeScalar(x, $0.baseAddress!, x.count) }
            #expect(c == s, "row starting \(x.prefix(4))")
        }
    }

    @Test func nonFiniteInputsDoNotTrap() {
        var x = [Float](repeating: 1, count: 64)
        x[3] = .nan
        x[40] = .infinity
        var row = [UInt8](repeating: 0xAA, count: RowFormat.q8_0.rowBytes(64))
        row.withUnsafeMutableBytes { Q8_0Row.quantize(x, $0.baseAddress!, 64) }
        var back = [Float](repeating: .nan, count: 64)
        row.withUnsafeBytes { Q8_0Row.dequantize($0.baseAddress!, &back, 64) }
        #expect(abs(back[0] - 1) < 0.01 && back[3] == 0)   // NaN is skipped by amax and stored as 0
        #expect(Int8(bitPattern: row[34 + 2 + 8]) == 0 && !back[40].isFinite)   // inf scale: inf * 0 = NaN
    }
}
