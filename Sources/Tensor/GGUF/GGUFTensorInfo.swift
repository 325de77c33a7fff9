/// One entry of the GGUF tensor table (SPEC-model.md 1.3, 1.4).
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions, `ne[0]` first (the contiguous one). Always 1...4 entries.
    public let ne: [Int]
    public let type: GGMLType
    /// Offset of the data relative to the start of the data blob.
    public let offset: Int

    public init(name: String, ne: [Int], type: GGMLType, offset: Int) {
        self.name = name
        self.ne = ne
        self.type = type
        self.offset = offset
    }

    /// Number of elements.
    public var elementCount: Int { ne.reduce(1, *) }
    /// Elements per row (`ne[0]`).
    public var rowLength: Int { ne[0] }
    /// Number of rows (product of `ne[1...]`).
    public var rowCount: Int { ne.dropFirst().reduce(1, *) }
    /// Bytes of one row.
    public var rowBytes: Int { type.rowBytes(ne[0]) }
    /// Total data bytes.
    public var byteCount: Int { rowBytes * rowCount }
}
