/// One tagged, length-prefixed extra key mixed into a block hash.
///
/// Canonical encoding: `kind (1 byte) | length (u32 LE) | value bytes`. The kind tag puts every namespace
/// apart (a LoRA named `X` never equals a salt `X`, unlike vLLM's untagged strings), and the length prefix
/// makes a list of keys uniquely decodable (`"ab" + "c"` never equals `"a" + "bc"`). A block's keys are
/// sorted canonically (kind, then length, then bytes) before hashing, so their order of construction does
/// not matter.
public struct ExtraKey: Hashable, Sendable, Comparable {
    /// The namespace of an extra key. Raw values are part of the hash format: never renumber them.
    public enum Kind: UInt8, Sendable, CaseIterable {
        /// Server-derived isolation salt (for example a digest of the tenant or API key).
        case tenant = 1
        /// The request's own `cache_salt`.
        case salt = 2
        /// A LoRA adapter: its name and a digest of its file.
        case lora = 3
        /// An image (or other media item) overlapping the block: content hash, offset, length.
        case image = 4
    }

    /// Which namespace the value belongs to.
    public let kind: Kind
    /// The key's value bytes (already canonically encoded for structured kinds).
    public let value: [UInt8]

    /// Creates a key of `kind` with raw `value` bytes.
    public init(kind: Kind, value: [UInt8]) {
        self.kind = kind
        self.value = value
    }

    /// Canonical order: by kind, then by value length, then by value bytes.
    public static func < (lhs: ExtraKey, rhs: ExtraKey) -> Bool {
        if lhs.kind != rhs.kind { return lhs.kind.rawValue < rhs.kind.rawValue }
        if lhs.value.count != rhs.value.count { return lhs.value.count < rhs.value.count }
        return lhs.value.lexicographicallyPrecedes(rhs.value)
    }

    /// Appends `kind | u32 length | value` to `buffer`.
    func encode(into buffer: inout [UInt8]) {
        buffer.append(kind.rawValue)
        ByteEncoding.appendU32(value.count, to: &buffer)
        buffer.append(contentsOf: value)
    }
}

/// Little-endian integer encoding shared by the hash format.
enum ByteEncoding {
    /// Appends `value` as a u32 little-endian; `value` must fit (lengths and token ids checked by callers).
    static func appendU32(_ value: Int, to buffer: inout [UInt8]) {
        let v = UInt32(truncatingIfNeeded: value)
        buffer.append(UInt8(truncatingIfNeeded: v))
        buffer.append(UInt8(truncatingIfNeeded: v >> 8))
        buffer.append(UInt8(truncatingIfNeeded: v >> 16))
        buffer.append(UInt8(truncatingIfNeeded: v >> 24))
    }

    /// Appends `value` as an i64 little-endian (two's complement).
    static func appendI64(_ value: Int, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: Int64(value).littleEndian) { buffer.append(contentsOf: $0) }
    }

    /// Appends `u32 length | bytes`.
    static func appendLengthPrefixed(_ bytes: [UInt8], to buffer: inout [UInt8]) {
        appendU32(bytes.count, to: &buffer)
        buffer.append(contentsOf: bytes)
    }
}
