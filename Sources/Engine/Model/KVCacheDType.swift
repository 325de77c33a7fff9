/// How the KV cache stores keys and values (`--kv-cache-dtype`).
///
/// NOTE: `f16` (IEEE half, llama.cpp's default `-ctk f16 -ctv f16`) halves the bytes per token of `f32`:
/// twice the prefixes per GiB, and long-context attention reads half the memory. Rows are rounded to
/// nearest-even once when written; attention converts them back in registers (F16C), so the arithmetic
/// stays f32.
public enum KVCacheDType: String, Sendable, CaseIterable, Codable {
    case f32
    case f16

    /// Bytes of one stored element.
    public var bytesPerElement: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        }
    }
}
