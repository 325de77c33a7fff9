import CKernels

/// The format activation rows are converted to before a matmul (llama.cpp's "vec_dot_type", SPEC-model.md 2.3).
public enum ActivationFormat: Sendable, Equatable {
    /// Plain f32 (for f32, f16 and bf16 weights).
    case f32
    /// Q8_0 blocks of 32 (for q4_0, q5_0, q8_0 weights).
    case q8_0
    /// Q8_K super-blocks of 256 (for q4_K, q5_K, q6_K weights).
    case q8_K

    /// The activation format used with weights of `type`. Precondition: `type.isSupported`.
    public init(weightType type: GGMLType) {
        switch type {
        case .f32, .f16, .bf16: self = .f32
        case .q4_0, .q5_0, .q8_0: self = .q8_0
        case .q4_K, .q5_K, .q6_K: self = .q8_K
        default: preconditionFailure("ActivationFormat: unsupported weight type \(type)")
        }
    }

    /// Bytes of one converted row of `n` elements.
    public func rowBytes(_ n: Int) -> Int {
        switch self {
        case .f32: return n * 4
        case .q8_0: return (n / BlockLayout.qk32) * BlockLayout.Q8_0.bytes
        case .q8_K: return (n / BlockLayout.qkK) * BlockLayout.Q8_K.bytes
        }
    }
}

/// Scratch holding T activation rows of length n converted ONCE into the vec_dot type of a weight type
/// (Q8_0 for q4_0/q5_0/q8_0; Q8_K for q4_K/q5_K/q6_K; plain f32 for f32/f16/bf16), reused across calls (grows, never shrinks).
///
/// Contract: `prepare` mutates the buffer and must not run concurrently with anything else on it.
/// After `prepare` returns, any number of threads may call `MatMul.compute` with it at the same time
/// (they only read).
///
/// NOTE: `@unchecked Sendable` because it owns raw memory; safety relies on the contract above (the
/// forward pass prepares on one thread, then fans the row ranges out to workers and joins them).
public final class ActivationBuffer: @unchecked Sendable {
    /// Converted rows: `[rows, rowBytes]` bytes, 64-byte aligned.
    public private(set) var data: UnsafeMutableRawPointer
    /// Allocated bytes of `data`.
    public private(set) var capacity: Int
    /// Format of the rows currently held.
    public private(set) var format: ActivationFormat = .f32
    /// Number of activation rows (tokens) currently held.
    public private(set) var rows: Int = 0
    /// Elements per activation row.
    public private(set) var n: Int = 0
    /// Bytes between consecutive converted rows.
    public private(set) var rowBytes: Int = 0
    /// The same rows repacked for the tiled C kernels (`ck_pack_act`): `[rows, packedRowBytes]` bytes,
    /// 64-byte aligned. Filled only for Q8_0 / Q8_K formats and only when the C kernels can run.
    private(set) var packed: UnsafeMutableRawPointer
    /// Allocated bytes of `packed`.
    private var packedCapacity: Int
    /// Bytes between consecutive packed rows (0 when nothing is packed).
    private(set) var packedRowBytes: Int = 0

    /// Creates an empty buffer; memory is allocated by the first `prepare`.
    public init() {
        capacity = 64
        data = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        packedCapacity = 64
        packed = UnsafeMutableRawPointer.allocate(byteCount: packedCapacity, alignment: 64)
    }

    deinit {
        data.deallocate()
        packed.deallocate()
    }

    /// x is [rows, n] row-major f32. n is a multiple of the weight type's block size. With a `pool`, the rows
    /// are converted on its threads (each row alone, so the bytes are the same either way).
    public func prepare(for weightType: GGMLType, x: UnsafePointer<Float>, rows: Int, n: Int, pool: ThreadPool? = nil) {
        let format = ActivationFormat(weightType: weightType)
        precondition(rows >= 0 && n >= 0, "ActivationBuffer.prepare: negative shape")
        precondition(n % weightType.blockSize == 0, "ActivationBuffer.prepare: n = \(n) is not a multiple of \(weightType.blockSize)")
        let rowBytes = format.rowBytes(n)
        reserve(rows * rowBytes)
        self.format = format
        self.rows = rows
        self.n = n
        self.rowBytes = rowBytes
        // The C quantizers are bit-identical to ActivationQuant (QuantActivationTests checks it).
        let simd = KernelPath.best != .scalar
        let data = self.data
        let convert = { (range: Range<Int>) in
            for t in range {
                let src = x + t * n
                let dst = data + t * rowBytes  // [rowBytes] for token t
                switch format {
                case .f32: dst.copyMemory(from: src, byteCount: n * 4)
                case .q8_0 where simd: ck_quantize_q8_0(src, dst, Int32(n / BlockLayout.qk32))
                case .q8_K where simd: ck_quantize_q8_K(src, dst, Int32(n / BlockLayout.qkK))
                case .q8_0: ActivationQuant.q8_0(src, dst, count: n)
                case .q8_K: ActivationQuant.q8_K(src, dst, count: n)
                }
            }
        }
        if let pool, rows > 1 { pool.parallelFor(rows, granularity: 4, convert) } else { convert(0..<rows) }
        pack(pool: pool)
    }

    /// Repacks the converted rows for `ck_gemm` (unsigned quants, f32 scales; layout in ck_gemm_internal.h).
    /// NOTE: done here, once per prepare, because `MatMul.compute` runs on many threads that only read.
    private func pack(pool: ThreadPool?) {
        packedRowBytes = 0
        guard format != .f32, KernelPath.best != .scalar else { return }
        let kquant: Int32 = format == .q8_K ? 1 : 0
        let blocks = n / (format == .q8_K ? BlockLayout.qkK : BlockLayout.qk32)
        let bytes = ck_packed_act_bytes(kquant, Int32(blocks))
        let total = rows * bytes
        if total > packedCapacity {
            packed.deallocate()
            packedCapacity = max(total, packedCapacity * 2)
            packed = UnsafeMutableRawPointer.allocate(byteCount: packedCapacity, alignment: 64)
        }
        let (data, rowBytes, packed) = (self.data, self.rowBytes, self.packed)
        let pack = { (range: Range<Int>) in
            for t in range { ck_pack_act(kquant, data + t * rowBytes, Int32(blocks), packed + t * bytes) }
        }
        if let pool, rows > 1 { pool.parallelFor(rows, granularity: 4, pack) } else { pack(0..<rows) }
        packedRowBytes = bytes
    }

    /// Start of converted row `t`.
    @inline(__always)
    func row(_ t: Int) -> UnsafeRawPointer { UnsafeRawPointer(data + t * rowBytes) }

    private func reserve(_ bytes: Int) {
        guard bytes > capacity else { return }
        let newCapacity = max(bytes, capacity * 2)
        data.deallocate()
        data = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 64)
        capacity = newCapacity
    }
}
