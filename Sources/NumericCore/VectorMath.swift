import CKernels
import Foundation

/// The f32 vector kernels every layer shares (the forward pass, the sentence encoder, the semantic index):
/// vectorized transcendental functions for the activation and softmax loops (16 f32 lanes), dot products,
/// axpy, normalisation and the fused paged attention kernel.
///
/// NOTE: written with plain SIMD arithmetic only: Swift's `rounded()` / `addProduct` on SIMD types lower to
/// per-lane libm calls here, which made GELU and softmax dominate prefill. Accuracy: `exp` has a relative
/// error below 2e-7 on [-87, 88] (Cephes polynomial after range reduction), far below llama.cpp's own
/// fp16 GELU table.
public enum VectorMath {
    public typealias V = SIMD16<Float>

    /// Which implementation runs: the AVX2 C kernels (`ck_v*`) when the CPU has AVX2+FMA, else Swift.
    public enum Path: Sendable { case auto, swift }

    /// NOTE: Swift compiles for baseline x86-64 (SSE2), so the SIMD16 code below runs 4 lanes at a time;
    /// the C kernels run 8 with FMA (measured: GELU 15 ns -> ~2 ns per element).
    public static let useC: Bool = ck_has_avx2() != 0

    /// e^x per lane; inputs below -87.3 give 0, above 88.7 give +inf-like large values clamped at 88.7.
    @inline(__always)
    public static func exp(_ x: V) -> V {
        let xc = x.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.7))
        // n = round(x / ln 2) with the 1.5·2^23 trick (exact for |n| < 2^22).
        let magic = V(repeating: 12_582_912)   // bit pattern 0x4B40_0000
        let t = xc * V(repeating: 1.442_695_04) + magic
        let n = t - magic
        let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- SIMD16<Int32>(repeating: 0x4B40_0000)
        let r = xc - n * V(repeating: 0.693_359_375) + n * V(repeating: 2.121_944_4e-4)
        var p = V(repeating: 1.987_569_1e-4)
        p = p * r + V(repeating: 1.398_199_9e-3)
        p = p * r + V(repeating: 8.333_451_9e-3)
        p = p * r + V(repeating: 4.166_579_6e-2)
        p = p * r + V(repeating: 1.666_666_5e-1)
        p = p * r + V(repeating: 5.000_000_1e-1)
        let r2 = r * r
        let poly = p * r2 + r + V(repeating: 1)
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: V.self)
        var out = poly * scale
        out.replace(with: V(repeating: 0), where: x .< V(repeating: -87.3))
        return out
    }

    /// tanh(x) = 1 - 2 / (e^{2x} + 1), saturating for large |x|.
    @inline(__always)
    public static func tanh(_ x: V) -> V {
        let e = exp(x + x)
        return V(repeating: 1) - V(repeating: 2) / (e + V(repeating: 1))
    }

    /// GELU with the tanh approximation (Gemma's GeGLU), then multiplied by `up`: out = gelu(g) · u.
    public static func geluTanhMul(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int,
                                   path: Path = .auto) {
        if path == .auto && useC { return ck_vgelu_tanh_mul(g, u, n) }
        var i = 0
        let c0 = V(repeating: 0.797_884_56), c1 = V(repeating: 0.044715), half = V(repeating: 0.5)
        while i + 16 <= n {
            let x = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
            let y = half * x * (V(repeating: 1) + tanh(c0 * (x + c1 * x * x * x)))
            let uv = UnsafeRawPointer(u + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(g + i).storeBytes(of: y * uv, as: V.self)
            i += 16
        }
        while i < n {
            g[i] = geluTanh(g[i]) * u[i]
            i += 1
        }
    }

    /// SiLU(g) · u (Llama / Qwen2 SwiGLU).
    public static func siluMul(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int,
                               path: Path = .auto) {
        if path == .auto && useC { return ck_vsilu_mul(g, u, n) }
        var i = 0
        while i + 16 <= n {
            let x = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
            let y = x / (V(repeating: 1) + exp(-x))
            let uv = UnsafeRawPointer(u + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(g + i).storeBytes(of: y * uv, as: V.self)
            i += 16
        }
        while i < n {
            g[i] = silu(g[i]) * u[i]
            i += 1
        }
    }

    /// In-place softmax over n values, vectorized exp; the sum is accumulated in f32 lanes then Double.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int, path: Path = .auto) {
        if path == .auto && useC { return ck_vsoftmax(x, n) }
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        let mv = V(repeating: m)
        var acc = V()
        var i = 0
        while i + 16 <= n {
            let e = exp(UnsafeRawPointer(x + i).loadUnaligned(as: V.self) - mv)
            UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: V.self)
            acc += e
            i += 16
        }
        var sum = Double(acc.sum())
        while i < n {
            let e = expf_(x[i] - m)
            x[i] = e
            sum += Double(e)
            i += 1
        }
        let inv = V(repeating: Float(1 / sum))
        i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self) * inv
            UnsafeMutableRawPointer(x + i).storeBytes(of: v, as: V.self)
            i += 16
        }
        let invs = Float(1 / sum)
        while i < n {
            x[i] *= invs
            i += 1
        }
    }

    @inline(__always)
    static func expf_(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    /// GELU, tanh approximation (Gemma's GeGLU gate), one value (the scalar reference of `geluTanhMul`).
    @inline(__always)
    public static func geluTanh(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.797_884_56 * (x + 0.044715 * x * x * x)))
    }

    /// SiLU (Llama / Qwen2 gate), one value (the scalar reference of `siluMul`).
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (1 + expf(-x)) }

    // MARK: Dot products

    /// Σ a[i]·b[i] over n elements, 16 lanes at a time.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        if useC { return ck_vdot(a, b, n) }
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
        if useC { return ck_vaxpy(s, x, y, n) }
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

    /// Scalar reference dot product.
    public static func dotScalar(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var sum: Float = 0
        for i in 0..<n { sum += a[i] * b[i] }
        return sum
    }

    /// `dot` over two arrays of equal length.
    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "vector lengths differ")
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let x = pa.baseAddress, let y = pb.baseAddress else { return 0 }
                return dot(x, y, a.count)
            }
        }
    }

    /// `v / |v|`; nil for a zero or non-finite vector.
    public static func normalized(_ v: [Float]) -> [Float]? {
        let norm = dot(v, v).squareRoot()
        guard norm.isFinite, norm > 0 else { return nil }
        return v.map { $0 / norm }
    }

    // MARK: Half precision

    /// f32 -> IEEE half (round to nearest even), n values.
    @inline(__always)
    public static func toHalf(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<UInt16>, _ n: Int) {
        if useC { return ck_f32_to_f16(source, destination, n) }
        for i in 0..<n { destination[i] = Float16(source[i]).bitPattern }
    }

    /// IEEE half -> f32, n values.
    @inline(__always)
    public static func fromHalf(_ source: UnsafePointer<UInt16>, _ destination: UnsafeMutablePointer<Float>, _ n: Int) {
        if useC { return ck_f16_to_f32(source, destination, n) }
        for i in 0..<n { destination[i] = Float(Float16(bitPattern: source[i])) }
    }
}
