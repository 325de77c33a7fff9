import CKernels
import Foundation

extension VectorMath {
    /// Whether `attend` runs the AVX2 C kernel for this shape (else its Swift scalar reference).
    @inline(__always)
    public static func fusedAttentionInC(heads: Int, headDim: Int) -> Bool {
        useC && headDim % 64 == 0 && (heads == 1 || heads == 2 || heads == 4 || heads == 8)
    }

    /// Fused paged attention of `heads` query heads (`q`, contiguous, `headDim` each) over `count` positions
    /// starting at `lo`, whose keys / values lie in blocks of `blockSize` rows of `rowStride` elements stored
    /// in `format` (`keyBlocks[i]` / `valueBlocks[i]` point at this KV head's slice of block i, which covers
    /// positions from `(lo / blockSize + i) * blockSize`): softmax(q·kᵀ·scale)·v into `out`. `scores` is
    /// scratch of `heads * count`. Compact rows are read where they lie: f16 converted in registers, q8_0
    /// as `d * Σ q_i k_i` per 32-block for q·k and `(p * d) * v_i` for p·V.
    ///
    /// The AVX2 C kernel (`ck_vattend*`) when `fusedAttentionInC(heads:headDim:)`, else `attendReference`.
    /// For q8_0, `rowStride` and the KV head's offset are multiples of 32 elements.
    @inline(__always)
    public static func attend(_ q: UnsafePointer<Float>, heads: Int, headDim: Int,
                              keyBlocks: UnsafePointer<UnsafeRawPointer?>, valueBlocks: UnsafePointer<UnsafeRawPointer?>,
                              format: RowFormat, blockSize: Int, rowStride: Int, lo: Int, count: Int, scale: Float,
                              scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        guard fusedAttentionInC(heads: heads, headDim: headDim) else {
            return attendReference(q, heads: heads, headDim: headDim, keyBlocks: keyBlocks, valueBlocks: valueBlocks,
                                   format: format, blockSize: blockSize, rowStride: rowStride, lo: lo, count: count,
                                   scale: scale, scores: scores, out: out)
        }
        let k = UnsafeRawPointer(keyBlocks), v = UnsafeRawPointer(valueBlocks)
        switch format {
        case .f32:
            ck_vattend(q, Int32(heads), Int32(headDim), k.assumingMemoryBound(to: UnsafePointer<Float>?.self),
                       v.assumingMemoryBound(to: UnsafePointer<Float>?.self), Int32(blockSize), Int32(rowStride),
                       Int32(lo), Int32(count), scale, scores, out)
        case .f16:
            ck_vattend_f16(q, Int32(heads), Int32(headDim), k.assumingMemoryBound(to: UnsafePointer<UInt16>?.self),
                           v.assumingMemoryBound(to: UnsafePointer<UInt16>?.self), Int32(blockSize),
                           Int32(rowStride), Int32(lo), Int32(count), scale, scores, out)
        case .q8_0:
            precondition(rowStride % Q8_0Row.blockElements == 0 && headDim % Q8_0Row.blockElements == 0)
            ck_vattend_q8_0(q, Int32(heads), Int32(headDim), keyBlocks, valueBlocks, Int32(blockSize),
                            Int32(rowStride), Int32(lo), Int32(count), scale, scores, out)
        }
    }

    /// Scalar reference of `attend` (any head count and head size; q8_0: multiples of 32): the same
    /// arithmetic one element at a time. The fallback without AVX2 and the tests' yardstick.
    public static func attendReference(_ q: UnsafePointer<Float>, heads: Int, headDim: Int,
                                       keyBlocks: UnsafePointer<UnsafeRawPointer?>,
                                       valueBlocks: UnsafePointer<UnsafeRawPointer?>, format: RowFormat,
                                       blockSize: Int, rowStride: Int, lo: Int, count: Int, scale: Float,
                                       scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let rowBytes = format.rowBytes(rowStride)
        let firstBlock = lo / blockSize
        func row(_ blocks: UnsafePointer<UnsafeRawPointer?>, _ p: Int) -> UnsafeRawPointer {
            blocks[p / blockSize - firstBlock]! + (p % blockSize) * rowBytes
        }
        for h in 0..<heads {
            let qh = q + h * headDim
            let s = scores + h * count
            for j in 0..<count { s[j] = rowDot(qh, row(keyBlocks, lo + j), format, headDim) * scale }
            var m = -Float.infinity
            for j in 0..<count { m = max(m, s[j]) }
            var sum: Float = 0
            for j in 0..<count {
                s[j] = expf(s[j] - m)
                sum += s[j]
            }
            for j in 0..<count { s[j] /= sum }
            let o = out + h * headDim
            o.initialize(repeating: 0, count: headDim)
            for j in 0..<count { rowAxpy(s[j], row(valueBlocks, lo + j), o, format, headDim) }
        }
    }

    /// `a · row` over `n` elements of a row stored in `format`.
    private static func rowDot(_ a: UnsafePointer<Float>, _ row: UnsafeRawPointer, _ format: RowFormat, _ n: Int) -> Float {
        switch format {
        case .f32:
            let r = row.assumingMemoryBound(to: Float.self)
            var s: Float = 0
            for i in 0..<n { s += a[i] * r[i] }
            return s
        case .f16:
            let r = row.assumingMemoryBound(to: UInt16.self)
            var s: Float = 0
            for i in 0..<n { s += a[i] * Float(Float16(bitPattern: r[i])) }
            return s
        case .q8_0:
            return Q8_0Row.dot(a, row, n)
        }
    }

    /// `y += s * row` over `n` elements of a row stored in `format`.
    private static func rowAxpy(_ s: Float, _ row: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>,
                                _ format: RowFormat, _ n: Int) {
        switch format {
        case .f32:
            let r = row.assumingMemoryBound(to: Float.self)
            for i in 0..<n { y[i] += s * r[i] }
        case .f16:
            let r = row.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { y[i] += s * Float(Float16(bitPattern: r[i])) }
        case .q8_0:
            Q8_0Row.axpy(s, row, y, n)
        }
    }
}
