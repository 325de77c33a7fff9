import NumericCore

/// How the KV cache stores keys and values (`--kv-cache-dtype`).
///
/// NOTE: `f16` (IEEE half, llama.cpp's default `-ctk f16 -ctv f16`) halves the bytes per token of `f32`:
/// twice the prefixes per GiB, and long-context attention reads half the memory. Rows are rounded to
/// nearest-even once when written; attention converts them back in registers (F16C), so the arithmetic
/// stays f32.
/// NOTE: `q8_0` (llama.cpp's `-ctk q8_0 -ctv q8_0`) stores each 32 elements as an f16 scale and 32 int8,
/// 34 bytes: 53 % of f16, 27 % of f32. Rows are quantized once when written (`quantize_row_q8_0_ref`);
/// attention multiplies the int8 by the scale in registers. It needs a head size that is a multiple of 32
/// (each KV head's slice of a row must start on a block), as llama.cpp does.
public enum KVCacheDType: String, Sendable, CaseIterable, Codable {
    case f32
    case f16
    case q8_0

    /// How a row is laid out in memory (what the attention kernels read).
    public var rowFormat: RowFormat {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .q8_0: .q8_0
        }
    }

    /// Bytes of a row of `elements` elements (a multiple of `blockElements`).
    @inline(__always)
    public func rowBytes(_ elements: Int) -> Int { rowFormat.rowBytes(elements) }

    /// Elements per storage unit (32 for q8_0): row lengths and offsets into a row are multiples of it.
    public var blockElements: Int { rowFormat.blockElements }

    /// Throws unless a model with KV heads of `headDim` elements can use this type (q8_0: a multiple of 32).
    public func check(headDim: Int) throws {
        guard headDim % blockElements == 0 else {
            throw EngineError(.invalidInput, "the \(rawValue) KV cache needs a head size that is a multiple of "
                              + "\(blockElements); this model's is \(headDim) (use f16 or f32)")
        }
    }
}
