import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// f32 kernels of the BERT sentence encoder: C = A·Bᵀ, exact GELU, LayerNorm.
///
/// NOTE: the matmul and GELU run in the AVX2 C kernels (`ck_sgemm_nt`, `ck_vgelu_erf`) when the CPU has
/// AVX2+FMA, because Swift compiles for baseline x86-64; the Swift loops below are the scalar reference
/// used on other CPUs and by the tests.
public enum EmbeddingMath {
    static let useC: Bool = ck_has_avx2() != 0

    /// c[i·ldc + j] = Σ_p a[i·lda + p] · b[j·ldb + p] (+ bias[j]), for i < m, j < n, p < k.
    public static func sgemmNT(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                               bias: UnsafePointer<Float>?, path: VectorMath.Path = .auto) {
        if m == 0 || n == 0 { return }
        if path == .auto && useC {
            return ck_sgemm_nt(Int32(m), Int32(n), Int32(k), a, lda, b, ldb, c, ldc, bias)
        }
        for i in 0..<m {
            let ar = a + i * lda
            for j in 0..<n {
                let br = b + j * ldb
                var s: Float = 0
                for p in 0..<k { s += ar[p] * br[p] }
                c[i * ldc + j] = s + (bias?[j] ?? 0)
            }
        }
    }

    /// x = 0.5·x·(1 + erf(x/√2)) in place (BERT `hidden_act: gelu`).
    public static func geluErf(_ x: UnsafeMutablePointer<Float>, _ n: Int, path: VectorMath.Path = .auto) {
        if path == .auto && useC { return ck_vgelu_erf(x, n) }
        for i in 0..<n { x[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.707_106_78)) }
    }

    /// LayerNorm of each of `rows` rows of width `n` in place: (x - mean) / sqrt(var + eps) · gamma + beta.
    /// Mean and (biased) variance are accumulated in Double.
    public static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, n: Int, gamma: UnsafePointer<Float>,
                                 beta: UnsafePointer<Float>, eps: Float) {
        for r in 0..<rows {
            let row = x + r * n
            var sum = 0.0
            for i in 0..<n { sum += Double(row[i]) }
            let mean = sum / Double(n)
            var sq = 0.0
            for i in 0..<n {
                let d = Double(row[i]) - mean
                sq += d * d
            }
            let inv = 1 / (sq / Double(n) + Double(eps)).squareRoot()
            let meanF = Float(mean), invF = Float(inv)
            for i in 0..<n { row[i] = (row[i] - meanF) * invF * gamma[i] + beta[i] }
        }
    }
}
