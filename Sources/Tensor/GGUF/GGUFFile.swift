/// A parsed GGUF v2/v3 file whose tensor data stays in the (memory-mapped) file.
///
/// Parsing validates the whole header: magic, version, every metadata record, the tensor table,
/// `general.alignment`, and that every tensor's data lies aligned inside the file. Anything malformed
/// throws a `GGUFError`; nothing is copied except small metadata values (arrays are validated, then
/// decoded from the file on access: see `GGUFMetadata`).
///
/// NOTE: `@unchecked Sendable` is safe: all stored properties are immutable after `init` and the
/// backing bytes are read-only.
public final class GGUFFile: @unchecked Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    public static let defaultAlignment = 32

    public let version: UInt32
    /// Metadata values by key (arrays are decoded on access).
    public let metadata: GGUFMetadata
    /// Metadata keys in file order.
    public var metadataKeys: [String] { metadata.keys }
    /// Tensor table in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute offset of the tensor data blob.
    public let dataOffset: Int
    /// Bytes of the whole file.
    public let fileSize: Int

    private let tensorIndex: [String: Int]
    private let storage: Storage

    /// Opens and memory-maps a GGUF file.
    public convenience init(path: String) throws(GGUFError) {
        try self.init(storage: .mapped(try MappedFile(path: path)))
    }

    /// Parses a GGUF image held in memory (copied; used by tests and tools).
    public convenience init(bytes: [UInt8]) throws(GGUFError) {
        try self.init(storage: .owned(OwnedBytes(bytes)))
    }

    private init(storage: Storage) throws(GGUFError) {
        self.storage = storage
        let bytes = storage.bytes
        fileSize = bytes.count
        var r = GGUFReader(bytes)

        let magic = try r.readU32("magic")
        guard magic == Self.magic else {
            let hex = String(magic, radix: 16)
            throw GGUFError(.badMagic, "not a GGUF file (magic 0x\(hex), expected \"GGUF\")", offset: 0)
        }
        let version = try r.readU32("version")
        guard version == 2 || version == 3 else {
            throw GGUFError(.unsupportedVersion, "GGUF version \(version) is not supported (2 and 3 are)",
                            offset: 4)
        }
        self.version = version
        // Each tensor record takes at least 8 (name) + 4 (n_dims) + 8 (ne0) + 4 (type) + 8 (offset) bytes.
        let nTensors = try r.readCount("tensor count", minItemSize: 32)
        // Each KV record takes at least 8 (key) + 4 (type) + 1 (value) bytes.
        let nKV = try r.readCount("metadata count", minItemSize: 13)

        var entries: [String: GGUFMetadata.Entry] = [:]
        entries.reserveCapacity(nKV)
        var keys: [String] = []
        var alignmentAt: Int?
        for _ in 0..<nKV {
            let at = r.offset
            let key = try r.readString("metadata key")
            if key == "general.alignment" { alignmentAt = at }
            let type = try r.readValueType("value of \(key)")
            let entry: GGUFMetadata.Entry = if type == .array {
                .array(try r.readArrayRef(key))
            } else {
                .value(try r.readValue(type, key))
            }
            guard entries.updateValue(entry, forKey: key) == nil else {
                throw GGUFError(.duplicateKey, "duplicate metadata key \(key)", offset: at)
            }
            keys.append(key)
        }
        self.metadata = GGUFMetadata(keys: keys, entries: entries, storage: storage)

        var alignment = Self.defaultAlignment
        if let a = metadata.entry("general.alignment") {
            guard case .value(.uint32(let v)) = a, v > 0, v & (v - 1) == 0 else {
                // NOTE: name the type, never interpolate the whole value: it may be a huge array.
                let found = if case .value(.uint32(let v)) = a { "\(v)" } else { "a value of type \(a.type)" }
                throw GGUFError(.badAlignment, "general.alignment must be a u32 power of two, got \(found)",
                                offset: alignmentAt)
            }
            alignment = Int(v)
        }
        self.alignment = alignment

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(nTensors)
        var index: [String: Int] = [:]
        var rawOffsets: [(offset: Int, at: Int)] = []
        for i in 0..<nTensors {
            let at = r.offset
            let name = try r.readString("tensor name")
            let nDims = try r.readU32("n_dims of \(name)")
            guard (1...4).contains(nDims) else {
                throw GGUFError(.badTensorShape, "tensor \(name) has \(nDims) dimensions (1...4 allowed)", offset: at)
            }
            var ne: [Int] = []
            var elements = 1
            for d in 0..<Int(nDims) {
                let v = try r.readU64("ne[\(d)] of \(name)")
                guard v > 0, v <= UInt64(Int32.max) else {
                    throw GGUFError(.badTensorShape, "tensor \(name) has ne[\(d)] = \(v)", offset: at)
                }
                let (m, overflow) = elements.multipliedReportingOverflow(by: Int(v))
                guard !overflow, m <= Int(1) << 48 else {
                    throw GGUFError(.badTensorShape, "tensor \(name) has an absurd element count", offset: at)
                }
                elements = m
                ne.append(Int(v))
            }
            let typeAt = r.offset
            let rawType = try r.readU32("type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw GGUFError(.unknownTensorType, "tensor \(name) has unknown type code \(rawType)", offset: typeAt)
            }
            guard ne[0] % type.blockSize == 0 else {
                throw GGUFError(.badTensorShape,
                                "tensor \(name): ne[0] = \(ne[0]) is not a multiple of the \(type) block size \(type.blockSize)",
                                offset: at)
            }
            let offAt = r.offset
            let off = try r.readU64("offset of \(name)")
            guard off <= UInt64(Int.max / 2) else {
                throw GGUFError(.tensorOutOfBounds, "tensor \(name) has offset \(off)", offset: offAt)
            }
            guard index.updateValue(i, forKey: name) == nil else {
                throw GGUFError(.duplicateTensor, "duplicate tensor name \(name)", offset: at)
            }
            infos.append(GGUFTensorInfo(name: name, ne: ne, type: type, offset: Int(off)))
            rawOffsets.append((Int(off), offAt))
        }

        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        for (i, info) in infos.enumerated() {
            let at = rawOffsets[i].at
            guard info.offset % alignment == 0 else {
                throw GGUFError(.misalignedOffset,
                                "tensor \(info.name) offset \(info.offset) is not a multiple of the alignment \(alignment)",
                                offset: at)
            }
            let end = dataOffset + info.offset + info.byteCount
            guard nTensors == 0 || dataOffset <= fileSize, end <= fileSize else {
                throw GGUFError(.tensorOutOfBounds,
                                "tensor \(info.name) data [\(dataOffset + info.offset), \(end)) lies outside the file (\(fileSize) bytes)",
                                offset: at)
            }
        }
        self.tensors = infos
        self.tensorIndex = index
    }

    /// The tensor named `name`, if present.
    public func tensor(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Pointer to the first byte of a tensor's data (valid while this object lives).
    public func data(of info: GGUFTensorInfo) -> UnsafeRawPointer {
        storage.bytes.baseAddress!.advanced(by: dataOffset + info.offset)
    }

    /// Releases the resident pages of `count` bytes at `start` (inside this file's data) when the file is
    /// memory-mapped (`MappedFile.releasePages`); nothing for a file parsed from memory.
    public func releasePages(_ start: UnsafeRawPointer, count: Int) {
        if case .mapped(let m) = storage { m.releasePages(start, count: count) }
    }

    /// Every byte of the file, valid while this object lives (hashed to identify a LoRA adapter).
    public var bytes: UnsafeRawBufferPointer { storage.bytes }

    /// The header (metadata and tensor table, up to `dataOffset`), valid while this object lives; hashed
    /// to identify the model.
    public var headerBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage.bytes[0..<min(dataOffset, fileSize)])
    }

    /// The bytes a file was parsed from; metadata arrays point into them.
    enum Storage: Sendable {
        case mapped(MappedFile)
        case owned(OwnedBytes)

        var bytes: UnsafeRawBufferPointer {
            switch self {
            case .mapped(let m): return m.bytes
            case .owned(let o): return UnsafeRawBufferPointer(start: o.buffer.baseAddress, count: o.count)
            }
        }
    }
}

/// Heap bytes owned by a `GGUFFile` parsed from memory.
final class OwnedBytes: @unchecked Sendable {
    // NOTE: immutable after init; freed in deinit only.
    let buffer: UnsafeMutableRawBufferPointer
    let count: Int

    init(_ bytes: [UInt8]) {
        count = bytes.count
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { src in
            if let b = src.baseAddress { buffer.baseAddress!.copyMemory(from: b, byteCount: bytes.count) }
        }
    }

    deinit { buffer.deallocate() }
}
