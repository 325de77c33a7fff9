import CKernels
import Foundation

/// Small element-wise and reduction kernels of the forward pass (f32, SIMD). Shapes are preconditions.
public enum Ops {
    /// Σ a[i]·b[i] over n elements, 16 lanes at a time.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        if VectorMath.useC { return ck_vdot(a, b, n) }
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            let a0 = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
            let b0 = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            let a1 = UnsafeRawPointer(a + i + 16).loadUnaligned(as: SIMD16<Float>.self)
            let b1 = UnsafeRawPointer(b + i + 16).loadUnaligned(as: SIMD16<Float>.self)
            // NOTE: `addProduct` lowers to a libm `fmaf` call per lane here; `+ *` vectorizes (vmulps/vaddps).
            acc0 = acc0 + a0 * b0
            acc1 = acc1 + a1 * b1
            i += 32
        }
        var sum = (acc0 + acc1).sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// y[i] += s·x[i] over n elements.
    @inline(__always)
    public static func axpy(_ s: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        if VectorMath.useC { return ck_vaxpy(s, x, y, n) }
        let sv = SIMD16<Float>(repeating: s)
        var i = 0
        while i + 16 <= n {
            var yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            yv = yv + sv * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: yv, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            y[i] += s * x[i]
            i += 1
        }
    }

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

    /// GELU, tanh approximation (Gemma's GeGLU gate).
    @inline(__always)
    public static func geluTanh(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.797_884_56 * (x + 0.044715 * x * x * x)))
    }

    /// SiLU (Llama / Qwen2 gate).
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (1 + expf(-x)) }
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
