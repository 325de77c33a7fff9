import CKernels
import Foundation

/// A weight matrix repacked once into the row-interleaved layout of `ck_gemm_r16` (16 rows side by side per
/// block, unsigned weights, f32 scales; layout in `CKernels/ck_repack.h`), owned on the heap.
///
/// NOTE: why. The tiled `ck_gemm` unpacks every weight row into an L1 scratch on every call and spends one
/// convert + multiply + fma per 2 blocks for every (row, token) pair; the repacked kernel broadcasts 4
/// activation bytes into one `vpdpbusd` that serves 16 rows, and pays the f32 work once per block (K-quants:
/// once per super-block) for 16 rows: 2.1-2.8x the int8 throughput of `ck_gemm` on every layer shape of
/// Gemma 3 270M at 64 tokens, and 2.8-9x at 1 token (bench/results/kernels-2026-12-06.md). The repacked form
/// is larger than the GGUF blocks by 9.1% (Q5_0), 11% (Q4_0), 5.9% (Q8_0), 5.6% (Q4_K), 1.0% (Q6_K); the
/// mapped pages of a repacked tensor are released after repacking (`MappedFile` keeps the file as the
/// source of truth: anything that still reads them faults them back in).
/// Which types: Q4_0, Q5_0, Q8_0 (Q8_0 activations), Q4_K, Q6_K (Q8_K activations), only on CPUs with AVX-512
/// VNNI. Q5_K is not repacked (no model here uses it; it keeps the tiled kernel).
///
/// `@unchecked Sendable`: the memory is written once in `init` and only read afterwards.
public final class RepackedWeights: @unchecked Sendable {
    /// The GGUF type the blocks came from.
    public let type: GGMLType
    /// Rows and columns of the matrix.
    public let rows: Int, cols: Int
    /// Repacked bytes: `[ceil(rows / 16), cols / type.blockSize]` group-blocks (ck_repack.h), 64-byte aligned.
    let data: UnsafeMutableRawPointer
    /// Allocated bytes of `data`.
    public let byteCount: Int

    /// Repacks `rows` rows of `cols` elements of `type` at `weight`, or returns nil when this type or CPU has
    /// no repacked kernel (the caller then keeps using the mapped blocks).
    public init?(type: GGMLType, weight: UnsafeRawPointer, rows: Int, cols: Int) {
        guard Self.supports(type), rows > 0, cols > 0, cols % type.blockSize == 0,
              let kind = MatMul.gemmKind(type) else { return nil }
        let blocks = cols / type.blockSize
        let bytes = ck_r16_bytes(kind, Int32(rows), Int32(blocks))
        guard bytes > 0 else { return nil }
        self.type = type
        self.rows = rows
        self.cols = cols
        byteCount = bytes
        data = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        ck_r16_repack(kind, weight, type.rowBytes(cols), Int32(rows), Int32(blocks), data)
    }

    deinit { data.deallocate() }

    /// Whether `type` has a repacked kernel on this CPU.
    public static func supports(_ type: GGMLType) -> Bool {
        guard KernelPath.best == .vnni, enabled else { return false }
        return type == .q4_0 || type == .q5_0 || type == .q8_0 || type == .q4_K || type == .q6_K
    }

    /// `INFER_REPACK=0` turns repacking off (for side-by-side benchmarks of the two kernels).
    static let enabled: Bool = ProcessInfo.processInfo.environment["INFER_REPACK"] != "0"
}
