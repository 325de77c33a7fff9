import CKernels
import Foundation

extension VectorMath {
    /// Whether the tiled attention kernel (`flashAttend`) runs on this machine: AVX-512F, unless the
    /// environment sets `INFER_FLASH_ATTN=0` (then attention uses the per-row `attend`, e.g. to compare).
    public static let flashAttention: Bool =
        ck_has_avx512f() != 0 && ProcessInfo.processInfo.environment["INFER_FLASH_ATTN"] != "0"

    /// Whether `flashAttend` takes this head size (`flashAttention` must hold too).
    @inline(__always)
    public static func flashAttentionSupports(headDim: Int) -> Bool { headDim % 64 == 0 }

    /// Scratch floats `flashAttend` needs for `vectors` (rows × heads) query vectors of `headDim`.
    public static func flashAttentionWork(vectors: Int, headDim: Int) -> Int {
        ck_flash_work_floats(vectors, headDim)
    }

    /// Tiled attention of `rows` query rows of one sequence, row i at position `p0 + i * positionStep`,
    /// each with `heads` query heads sharing one KV head (head h of row i at `q + i * qRowStride + h *
    /// headDim`, its output at `out + i * outRowStride + h * headDim`). Row i attends to positions
    /// `lo_i ... p_i` (`lo_i = max(0, p_i - window + 1)` when `window > 0`, else 0): softmax(q·kᵀ·scale)·v
    /// with an online softmax over K/V tiles of 64 positions aligned to multiples of 64; each tile is
    /// converted once to f32 for all rows. Position p's K/V row is at slot `p % blockSize` of
    /// `keyBlocks/valueBlocks[p / blockSize - firstBlock]` (offset to the KV head), rows `rowStride` elements
    /// apart in `format`. `work`: `flashAttentionWork(vectors: rows * heads, headDim:)` floats.
    ///
    /// A row's output is bit-identical whichever rows share the call (decode of one row, a prefill chunk, a
    /// split of it): the reduction order of each row depends only on its own positions.
    /// PRECONDITION: `flashAttention && flashAttentionSupports(headDim:)`.
    @inline(__always)
    public static func flashAttend(_ q: UnsafePointer<Float>, qRowStride: Int, rows: Int, heads: Int, headDim: Int,
                                   p0: Int, positionStep: Int, window: Int,
                                   keyBlocks: UnsafePointer<UnsafeRawPointer?>,
                                   valueBlocks: UnsafePointer<UnsafeRawPointer?>, firstBlock: Int,
                                   format: RowFormat, blockSize: Int, rowStride: Int, scale: Float,
                                   work: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
                                   outRowStride: Int) {
        precondition(rows > 0 && heads > 0 && positionStep > 0 && flashAttentionSupports(headDim: headDim))
        precondition(format != .q8_0 || rowStride % Q8_0Row.blockElements == 0)
        let code: Int32 = switch format {
        case .f32: 0
        case .f16: 1
        case .q8_0: 2
        }
        ck_flash_attend(q, qRowStride, Int32(rows), Int32(heads), Int32(headDim), Int32(p0), Int32(positionStep),
                        Int32(window), keyBlocks, valueBlocks, Int32(firstBlock), code, Int32(blockSize),
                        Int32(rowStride), scale, work, out, outRowStride)
    }
}
