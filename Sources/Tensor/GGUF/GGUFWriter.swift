#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF v2/v3 image in memory (SPEC-model.md 1.1-1.3), the inverse of `GGUFFile`.
///
/// Layout written by `bytes()`: header (magic, version, n_tensors, n_kv), the KV records in insertion
/// order, the tensor-info records (offsets relative to the data blob, each a multiple of `alignment`),
/// zero padding up to a multiple of `alignment`, then the data blob with every tensor zero-padded to a
/// multiple of `alignment` (the last one too, as `gguf_write_to_buf` does).
///
/// Contract: `add` and `addTensor` validate their input and throw instead of producing an image that
/// `GGUFFile` would reject for a reason the caller did not ask for. Nested arrays are written as they
/// are, even deeper than the reader accepts, so tests can build files that exercise reader limits.
///
/// NOTE: a value type with copy-on-write arrays; a writer is cheap to copy and `Sendable`.
public struct GGUFWriter: Sendable {
    /// GGUF version written in the header (2 or 3; both encode counts and lengths as u64).
    public let version: UInt32
    /// Alignment of the data blob and of every tensor inside it.
    public let alignment: Int

    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var tensors: [(name: String, ne: [Int], type: GGMLType, data: [UInt8])] = []
    private var tensorNames: Set<String> = []

    /// A writer for an empty file. `alignment` must be a power of two that fits in a u32.
    public init(version: UInt32 = 3, alignment: Int = GGUFFile.defaultAlignment) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0 && alignment <= Int(UInt32.max),
                     "GGUF alignment must be a power of two")
        self.version = version
        self.alignment = alignment
    }

    /// Adds (or replaces, keeping its position) the metadata value for `key`, like `gguf_set_val_*`.
    ///
    /// Throws `typeMismatch` if an array holds an element whose type differs from its element type.
    public mutating func add(key: String, _ value: GGUFValue) throws(GGUFError) {
        try Self.validate(value, key)
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Appends a tensor. `ne[0]` is the contiguous dimension; `data` holds exactly
    /// `(ne[0] / blockSize) * typeSize * ne[1] * ...` bytes.
    ///
    /// Throws `badTensorShape` for 0 or more than 4 dimensions, a non-positive dimension, `ne[0]` not a
    /// multiple of the block size, or a data length that does not match; `duplicateTensor` for a name
    /// already added.
    public mutating func addTensor(name: String, ne: [Int], type: GGMLType, data: [UInt8]) throws(GGUFError) {
        guard (1...4).contains(ne.count) else {
            throw GGUFError(.badTensorShape, "tensor \(name) has \(ne.count) dimensions (1...4 allowed)")
        }
        guard ne.allSatisfy({ $0 > 0 && $0 <= Int(Int32.max) }) else {
            throw GGUFError(.badTensorShape, "tensor \(name) has a dimension outside 1...\(Int32.max): \(ne)")
        }
        guard ne[0] % type.blockSize == 0 else {
            throw GGUFError(.badTensorShape,
                            "tensor \(name): ne[0] = \(ne[0]) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        let info = GGUFTensorInfo(name: name, ne: ne, type: type, offset: 0)
        guard data.count == info.byteCount else {
            throw GGUFError(.badTensorShape,
                            "tensor \(name) (\(type) \(ne)) needs \(info.byteCount) bytes, got \(data.count)")
        }
        guard tensorNames.insert(name).inserted else {
            throw GGUFError(.duplicateTensor, "duplicate tensor name \(name)")
        }
        tensors.append((name, ne, type, data))
    }

    /// The complete file image.
    public func bytes() -> [UInt8] {
        var kv = keys.map { ($0, values[$0]!) }
        if alignment != GGUFFile.defaultAlignment && values["general.alignment"] == nil {
            kv.append(("general.alignment", .uint32(UInt32(alignment))))
        }

        var out: [UInt8] = []
        Self.put(GGUFFile.magic, &out)
        Self.put(version, &out)
        Self.put(UInt64(tensors.count), &out)
        Self.put(UInt64(kv.count), &out)
        for (key, value) in kv {
            Self.putString(key, &out)
            Self.put(value.type.rawValue, &out)
            Self.putValue(value, &out)
        }

        var offset = 0
        for t in tensors {
            Self.putString(t.name, &out)
            Self.put(UInt32(t.ne.count), &out)
            for n in t.ne { Self.put(UInt64(n), &out) }
            Self.put(t.type.rawValue, &out)
            Self.put(UInt64(offset), &out)
            offset += padded(t.data.count)
        }
        out.reserveCapacity(padded(out.count) + offset)
        pad(&out)
        for t in tensors {
            out.append(contentsOf: t.data)
            pad(&out)
        }
        return out
    }

    /// Writes `bytes()` to `path` (created or truncated). Throws `ioError` naming the path and errno text.
    public func write(to path: String) throws(GGUFError) {
        let image = bytes()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw GGUFError(.ioError, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        var failure: Int32 = 0
        image.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        let closed = close(fd)
        if failure == 0 && closed != 0 { failure = errno }
        guard failure == 0 else {
            throw GGUFError(.ioError, "cannot write \(path): \(String(cString: strerror(failure)))")
        }
    }

    // MARK: - Encoding

    private func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private func pad(_ out: inout [UInt8]) {
        out.append(contentsOf: repeatElement(0, count: padded(out.count) - out.count))
    }

    private static func put<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func putString(_ s: String, _ out: inout [UInt8]) {
        let utf8 = Array(s.utf8)
        put(UInt64(utf8.count), &out)
        out.append(contentsOf: utf8)
    }

    /// Encodes a value without its type tag (arrays include their element type and count).
    private static func putValue(_ v: GGUFValue, _ out: inout [UInt8]) {
        switch v {
        case .uint8(let x): put(x, &out)
        case .int8(let x): put(x, &out)
        case .uint16(let x): put(x, &out)
        case .int16(let x): put(x, &out)
        case .uint32(let x): put(x, &out)
        case .int32(let x): put(x, &out)
        case .float32(let x): put(x.bitPattern, &out)
        case .bool(let x): put(UInt8(x ? 1 : 0), &out)
        case .string(let s): putString(s, &out)
        case .uint64(let x): put(x, &out)
        case .int64(let x): put(x, &out)
        case .float64(let x): put(x.bitPattern, &out)
        case .array(let elem, let items):
            put(elem.rawValue, &out)
            put(UInt64(items.count), &out)
            for item in items { putValue(item, &out) }
        }
    }

    /// Checks that every array element (recursively) has its array's element type.
    private static func validate(_ v: GGUFValue, _ key: String) throws(GGUFError) {
        guard case .array(let elem, let items) = v else { return }
        for item in items {
            guard item.type == elem else {
                throw GGUFError(.typeMismatch, "array \(key) of \(elem) holds an element of type \(item.type)")
            }
            try validate(item, key)
        }
    }
}

/// `write(2)`, named apart from `GGUFWriter.write(to:)`.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
