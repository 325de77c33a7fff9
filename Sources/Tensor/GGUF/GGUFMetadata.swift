/// The metadata of a GGUF file: scalars and strings parsed eagerly, arrays kept as validated references
/// into the file's bytes and decoded on access.
///
/// NOTE: a tokenizer's arrays (262144 tokens, scores and types for Gemma) cost tens of MB as
/// `[GGUFValue]` and would live as long as the model. Keeping only (offset, element type, count) makes
/// them free until read; the typed accessors on `GGUFFile` decode them straight into `[String]`,
/// `[Float]` or `[Int]`, and `withStringArrayBytes` hands out the UTF-8 bytes without copying.
/// Parsing still validates every element, so decoding later cannot fail.
///
/// Holds a reference to the file's bytes, so a copy stays valid even after its `GGUFFile` is gone.
public struct GGUFMetadata: Sendable {
    /// One stored value.
    enum Entry: Sendable {
        case value(GGUFValue)
        case array(GGUFArrayRef)

        var type: GGUFValueType {
            switch self {
            case .value(let v): return v.type
            case .array: return .array
            }
        }
    }

    /// Keys in file order.
    public let keys: [String]
    private let entries: [String: Entry]
    private let storage: GGUFFile.Storage

    init(keys: [String], entries: [String: Entry], storage: GGUFFile.Storage) {
        self.keys = keys
        self.entries = entries
        self.storage = storage
    }

    /// Number of metadata records.
    public var count: Int { keys.count }

    /// True when the file has no metadata.
    public var isEmpty: Bool { keys.isEmpty }

    /// The value for `key`, if present. An array is decoded from the file on every call (prefer the typed
    /// accessors of `GGUFFile` or `arrayCount` for large arrays); parsing validated it, so decoding cannot
    /// fail, and if it somehow did the result would be nil rather than a trap.
    public subscript(key: String) -> GGUFValue? {
        switch entries[key] {
        case nil: return nil
        case .value(let v): return v
        case .array(let a): return a.materialize(storage.bytes, key)
        }
    }

    /// The stored entry for `key`, without decoding arrays.
    func entry(_ key: String) -> Entry? { entries[key] }

    /// The bytes that array entries point into.
    var bytes: UnsafeRawBufferPointer { storage.bytes }
}
