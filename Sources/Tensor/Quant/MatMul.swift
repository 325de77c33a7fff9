import CKernels

/// Which implementation of the per-row dot kernels to run.
enum KernelPath: Sendable {
    /// AVX2 plus AVX-512 VNNI (`vpdpbusd`) in the tiled kernels (`CKernels/ck_gemm.c`) and row dots.
    case vnni
    /// C kernels with AVX2/FMA/F16C intrinsics (`CKernels/ck_dot_avx2.c`, `ck_gemm.c`).
    case avx2
    /// Portable Swift scalar reference (`ScalarDot`).
    case scalar

    /// The fastest path this CPU supports, decided once at first use.
    static let best: KernelPath = ck_has_avx512vnni() != 0 ? .vnni : (ck_has_avx2() != 0 ? .avx2 : .scalar)

    /// `ck_gemm`'s `level` argument for this path (0 = not usable).
    var gemmLevel: Int32 {
        switch self {
        case .vnni: return 2
        case .avx2: return 1
        case .scalar: return 0
        }
    }
}

/// A row dot kernel: (weight row, prepared activation row, blocks or elements) -> Σ.
typealias RowDot = (UnsafeRawPointer, UnsafeRawPointer, Int) -> Float

/// Quantized matrix multiplication `out = W·x` on the CPU, llama.cpp style (SPEC-model.md 2.3):
/// the activations are converted once (`ActivationBuffer`), then every output is an integer dot per block
/// scaled in float.
public enum MatMul {
    /// out[t * outStride + o] = Σ_i W[o][i] * x[t][i] for every o in `rows` and t in 0..<act.rows.
    /// W: row o starts at weight + o * type.rowBytes(n). Single-threaded; the caller splits `rows` across threads
    /// (so it must be safe to call concurrently on disjoint row ranges with the same ActivationBuffer).
    /// For T > 1, loop so each weight row/block is read from memory once for all T activation rows (tile over tokens).
    public static func compute(_ type: GGMLType, weight: UnsafeRawPointer, n: Int, rows: Range<Int>,
                               act: ActivationBuffer, out: UnsafeMutablePointer<Float>, outStride: Int) {
        compute(type, weight: weight, n: n, rows: rows, act: act, out: out, outStride: outStride, path: .best)
    }

    /// `compute` on an explicit kernel path (tests force `.scalar`, `.avx2` and `.vnni` to compare them).
    static func compute(_ type: GGMLType, weight: UnsafeRawPointer, n: Int, rows: Range<Int>,
                        act: ActivationBuffer, out: UnsafeMutablePointer<Float>, outStride: Int,
                        path: KernelPath) {
        precondition(act.format == ActivationFormat(weightType: type),
                     "MatMul.compute: activations prepared as \(act.format), \(type) needs \(ActivationFormat(weightType: type))")
        precondition(act.n == n, "MatMul.compute: activations have n = \(act.n), weights n = \(n)")
        precondition(act.rows <= 1 || outStride >= rows.upperBound, "MatMul.compute: outStride too small")
        let count = n / type.blockSize
        let rowBytes = type.rowBytes(n)
        let tokens = act.rows
        // NOTE: tiled path (ck_gemm.c) for every T: each weight row is unpacked once per call into an L1
        // scratch and reused for all T tokens, and tiles of rows x tokens keep their partial sums in
        // registers. Each output's sum runs over the blocks in the same order whatever the tile, so a row's
        // result does not depend on how many tokens share the call: decode (T = 1), a batch of sequences and a
        // speculative verification (T = 1 + drafts) give bit-identical logits for the same row, which is what
        // makes speculative greedy output identical to plain decoding (and outputs independent of batching).
        let tiled = tokens >= gemmMinTokens || (path == .vnni && (type == .q5_0 || type == .q8_0))
        if tokens > 0, tiled, path != .scalar, act.packedRowBytes > 0, let kind = gemmKind(type), !rows.isEmpty {
            ck_gemm(kind, path.gemmLevel, weight + rows.lowerBound * rowBytes, rowBytes, Int32(rows.count),
                    act.packed, act.packedRowBytes, Int32(tokens), Int32(count), out + rows.lowerBound, outStride)
            return
        }
        let dot = rowDot(type, path: path)
        // NOTE: weight-row outer, token inner. A weight row is at most a few KiB, so it stays in L1 while
        // all T activation rows (which live in L2 for realistic T) stream past it: each weight byte is read
        // from memory once per call, which is what bounds decode and prefill alike.
        for o in rows {
            let w = weight + o * rowBytes  // [rowBytes] of row o
            for t in 0..<tokens {
                out[t * outStride + o] = dot(w, act.row(t), count)
            }
        }
    }

    /// `compute` over repacked weights (`ck_gemm_r16`, one kernel for every token count, so the result of a row
    /// is the same whatever else shares the call). `rows.lowerBound` must be a multiple of 16 (ThreadPool's
    /// `parallelFor` with a granularity of 16 guarantees it).
    public static func compute(_ w: RepackedWeights, rows: Range<Int>, act: ActivationBuffer,
                               out: UnsafeMutablePointer<Float>, outStride: Int) {
        precondition(act.format == ActivationFormat(weightType: w.type), "MatMul.compute: activations prepared as \(act.format)")
        precondition(act.n == w.cols, "MatMul.compute: activations have n = \(act.n), weights n = \(w.cols)")
        precondition(rows.lowerBound % 16 == 0 && rows.upperBound <= w.rows, "MatMul.compute: rows \(rows) of \(w.rows)")
        precondition(act.rows <= 1 || outStride >= rows.upperBound, "MatMul.compute: outStride too small")
        precondition(act.packedRowBytes > 0, "MatMul.compute: activations not packed")
        guard act.rows > 0, !rows.isEmpty, let kind = gemmKind(w.type) else { return }
        ck_gemm_r16(kind, w.data, Int32(w.cols / w.type.blockSize), Int32(rows.lowerBound), Int32(rows.count),
                    act.data, act.rowBytes, act.packed, act.packedRowBytes, Int32(act.rows), out, outStride)
    }

    /// Smallest token count that takes the tiled `ck_gemm` path on every type: 1, for batch invariance (see
    /// `compute`; QuantMatMulTests checks it bit for bit). T = 1 used the per-row AVX2 dots before.
    static let gemmMinTokens = 1

    /// The `ck_gemm` weight kind for `type`, or nil when the tiled path does not cover it.
    static func gemmKind(_ type: GGMLType) -> Int32? {
        switch type {
        case .q4_0: return Int32(CK_Q4_0)
        case .q5_0: return Int32(CK_Q5_0)
        case .q8_0: return Int32(CK_Q8_0)
        case .q4_K: return Int32(CK_Q4_K)
        case .q5_K: return Int32(CK_Q5_K)
        case .q6_K: return Int32(CK_Q6_K)
        default: return nil
        }
    }

    /// Scalar reference: dequantize the row then an f32 dot (Double accumulation ok). Used by tests.
    public static func referenceDot(_ type: GGMLType, row: UnsafeRawPointer, x: UnsafePointer<Float>, n: Int) -> Float {
        let w = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))  // [n]
        defer { w.deallocate() }
        Dequant.row(type, row, w, count: n)
        var sum: Double = 0
        for i in 0..<n { sum += Double(w[i]) * Double(x[i]) }
        return Float(sum)
    }

    /// The row kernel for weights of `type` on `path`.
    static func rowDot(_ type: GGMLType, path: KernelPath) -> RowDot {
        switch path {
        case .avx2, .vnni:
            switch type {
            case .f32: return { w, a, c in ck_dot_f32_f32(w, a, Int32(c)) }
            case .f16: return { w, a, c in ck_dot_f16_f32(w, a, Int32(c)) }
            case .bf16: return { w, a, c in ck_dot_bf16_f32(w, a, Int32(c)) }
            case .q4_0: return { w, a, c in ck_dot_q4_0_q8_0(w, a, Int32(c)) }
            case .q5_0: return { w, a, c in ck_dot_q5_0_q8_0(w, a, Int32(c)) }
            case .q8_0: return { w, a, c in ck_dot_q8_0_q8_0(w, a, Int32(c)) }
            case .q4_K: return { w, a, c in ck_dot_q4_K_q8_K(w, a, Int32(c)) }
            case .q5_K: return { w, a, c in ck_dot_q5_K_q8_K(w, a, Int32(c)) }
            case .q6_K: return { w, a, c in ck_dot_q6_K_q8_K(w, a, Int32(c)) }
            default: preconditionFailure("MatMul: unsupported weight type \(type)")
            }
        case .scalar:
            switch type {
            case .f32: return ScalarDot.f32
            case .f16: return ScalarDot.f16
            case .bf16: return ScalarDot.bf16
            case .q4_0: return ScalarDot.q4_0
            case .q5_0: return ScalarDot.q5_0
            case .q8_0: return ScalarDot.q8_0
            case .q4_K: return ScalarDot.q4_K
            case .q5_K: return ScalarDot.q5_K
            case .q6_K: return ScalarDot.q6_K
            default: preconditionFailure("MatMul: unsupported weight type \(type)")
            }
        }
    }
}
