import Foundation
import NumericCore

/// Small element-wise kernels of the forward pass (f32). Shapes are preconditions. The vector kernels they
/// build on (dot, axpy, exp, softmax, ...) are `NumericCore.VectorMath`.
public enum Ops {
    /// RMSNorm in place or out of place: out[i] = x[i] / sqrt(mean(x²) + eps) · w[i] (SPEC-model.md 3.2).
    /// The sum of squares is accumulated in Double as ggml does.
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                               _ n: Int, eps: Float) {
        var sum: Double = 0
        for i in 0..<n { sum += Double(x[i]) * Double(x[i]) }
        let mean = Float(sum / Double(n))
        let scale = 1 / (mean + eps).squareRoot()
        for i in 0..<n { out[i] = x[i] * scale * w[i] }
    }
}

/// Cos/sin tables of RoPE for a run of positions (SPEC-model.md 3.3, 6.5: running f32 product of theta_scale).
public struct RopeTable {
    /// [positions, headDim/2] each.
    public private(set) var cos: [Float]
    public private(set) var sin: [Float]
    public let half: Int

    /// Tables for `positions` (one row each, any order).
    public init(positions: [Int], headDim: Int, base: Float, freqScale: Float, freqFactors: [Float]?) {
        half = headDim / 2
        cos = [Float](repeating: 0, count: positions.count * half)
        sin = cos
        let thetaScale = powf(base, -2.0 / Float(headDim))
        for (r, p) in positions.enumerated() {
            var t = Float(p)
            for i in 0..<half {
                var theta = t
                if let ff = freqFactors { theta /= ff[i] }
                theta *= freqScale
                cos[r * half + i] = cosf(theta)
                sin[r * half + i] = sinf(theta)
                t *= thetaScale
            }
        }
    }

    /// Rotates one head of `2·half` values at table row `row`.
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, row: Int, style: RopeStyle) {
        cos.withUnsafeBufferPointer { c in
            sin.withUnsafeBufferPointer { s in
                let base = row * half
                switch style {
                case .neox:
                    for i in 0..<half {
                        let a = x[i], b = x[i + half]
                        x[i] = a * c[base + i] - b * s[base + i]
                        x[i + half] = a * s[base + i] + b * c[base + i]
                    }
                case .norm:
                    for i in 0..<half {
                        let a = x[2 * i], b = x[2 * i + 1]
                        x[2 * i] = a * c[base + i] - b * s[base + i]
                        x[2 * i + 1] = a * s[base + i] + b * c[base + i]
                    }
                }
            }
        }
    }
}
