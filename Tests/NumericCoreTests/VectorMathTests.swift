import Foundation
import Testing
@testable import NumericCore

/// The vectorized exp / tanh / GELU / SiLU / softmax against libm references.
@Suite("VectorMath")
struct VectorMathTests {
    /// Relative error of exp below 1e-6 over the usable range, exact 0 below the underflow cut.
    @Test func expMatchesLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            var v = SIMD16<Float>()
            for i in 0..<16 { v[i] = x + Float(i) * 0.0137 }
            let got = VectorMath.exp(v)
            for i in 0..<16 {
                let want = expf(v[i])
                worst = max(worst, abs(got[i] - want) / want)
            }
            x += 0.29
        }
        #expect(worst < 1e-6, "max relative error \(worst)")
        #expect(VectorMath.exp(SIMD16<Float>(repeating: -100))[0] == 0)
    }

    /// The attention dot / axpy (C on AVX2 machines) against a Double reference, odd lengths included.
    @Test(arguments: [1, 7, 8, 31, 256, 300])
    func dotAndAxpyMatchReference(n: Int) {
        var rng = SystemRandomNumberGenerator()
        let a = (0..<n).map { _ in Float.random(in: -2...2, using: &rng) }
        let b = (0..<n).map { _ in Float.random(in: -2...2, using: &rng) }
        let want = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let bound = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) } * 1e-6 + 1e-6
        #expect(abs(Double(VectorMath.dot(a, b, n)) - want) <= bound)
        var y = b
        y.withUnsafeMutableBufferPointer { VectorMath.axpy(0.5, a, $0.baseAddress!, n) }
        for i in 0..<n { #expect(abs(y[i] - (b[i] + 0.5 * a[i])) <= 1e-6 * (abs(b[i]) + abs(a[i])) + 1e-7) }
    }

    @Test func tanhMatchesLibm() {
        for x in stride(from: Float(-12), through: 12, by: 0.013) {
            let got = VectorMath.tanh(SIMD16<Float>(repeating: x))[0]
            #expect(abs(got - tanhf(x)) <= 2e-6, "x=\(x)")
        }
    }

    /// The vector loops (with odd tails: n = 37), in C (AVX2) and in Swift, equal the scalar formulas
    /// within 2e-6 relative.
    @Test(arguments: [1, 16, 37, 2048], [VectorMath.Path.auto, .swift])
    func gatedActivationsMatchScalar(n: Int, path: VectorMath.Path) {
        var rng = SystemRandomNumberGenerator()
        let g = (0..<n).map { _ in Float.random(in: -12...12, using: &rng) }
        let u = (0..<n).map { _ in Float.random(in: -3...3, using: &rng) }
        var gelu = g, silu = g
        gelu.withUnsafeMutableBufferPointer { VectorMath.geluTanhMul($0.baseAddress!, u, n, path: path) }
        silu.withUnsafeMutableBufferPointer { VectorMath.siluMul($0.baseAddress!, u, n, path: path) }
        for i in 0..<n {
            let wantGelu = 0.5 * g[i] * (1 + tanhf(0.797_884_56 * (g[i] + 0.044715 * g[i] * g[i] * g[i]))) * u[i]
            let wantSilu = g[i] / (1 + expf(-g[i])) * u[i]
            #expect(abs(gelu[i] - wantGelu) <= 2e-6 * max(1, abs(wantGelu)), "gelu i=\(i)")
            #expect(abs(silu[i] - wantSilu) <= 2e-6 * max(1, abs(wantSilu)), "silu i=\(i)")
        }
    }

    @Test(arguments: [1, 5, 16, 33, 511], [VectorMath.Path.auto, .swift])
    func softmaxMatchesDoubleReference(n: Int, path: VectorMath.Path) {
        var rng = SystemRandomNumberGenerator()
        let x = (0..<n).map { _ in Float.random(in: -30...30, using: &rng) }
        var y = x
        y.withUnsafeMutableBufferPointer { VectorMath.softmax($0.baseAddress!, n, path: path) }
        let m = x.max()!
        let z = x.reduce(0.0) { $0 + Foundation.exp(Double($1 - m)) }
        for i in 0..<n {
            let want = Foundation.exp(Double(x[i] - m)) / z
            #expect(abs(Double(y[i]) - want) <= 1e-6 * max(want, 1e-3), "i=\(i)")
        }
        #expect(abs(y.reduce(0, +) - 1) < 1e-5)
    }
}
