/// A bounds-checked little-endian cursor over the header of a GGUF file.
///
/// Every read checks the remaining length first and throws `GGUFError(.truncated)` with the offset,
/// so a malformed file can never make the parser read out of bounds or allocate without limit.
struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    /// Arrays may nest (GGUF allows it in principle); deeper than this is rejected as absurd.
    static let maxArrayDepth = 8

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int, _ what: String) throws(GGUFError) {
        guard n >= 0, n <= remaining else {
            throw GGUFError(.truncated, "file ends while reading \(what) (need \(n) bytes, \(remaining) left)",
                            offset: offset)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size, what)
        let v = T(littleEndian: bytes.baseAddress!.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func readU32(_ what: String) throws(GGUFError) -> UInt32 { try read(UInt32.self, what) }

    mutating func readU64(_ what: String) throws(GGUFError) -> UInt64 { try read(UInt64.self, what) }

    /// A count that must fit in the rest of the file given each item takes at least `minItemSize` bytes.
    mutating func readCount(_ what: String, minItemSize: Int) throws(GGUFError) -> Int {
        let at = offset
        let raw = try readU64(what)
        let limit = UInt64(remaining / max(1, minItemSize))
        guard raw <= limit else {
            throw GGUFError(.absurdCount, "\(what) is \(raw), but only \(remaining) bytes remain", offset: at)
        }
        return Int(raw)
    }

    mutating func readString(_ what: String) throws(GGUFError) -> String {
        let at = offset
        let len = try readU64("length of \(what)")
        guard len <= UInt64(remaining) else {
            throw GGUFError(.truncated, "\(what) has length \(len) but only \(remaining) bytes remain", offset: at)
        }
        let n = Int(len)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        // Token texts may contain invalid UTF-8 in broken files; decode with replacement, never crash.
        return String(decoding: slice, as: UTF8.self)
    }

    mutating func readValueType(_ what: String) throws(GGUFError) -> GGUFValueType {
        let at = offset
        let raw = try readU32(what)
        guard let t = GGUFValueType(rawValue: raw) else {
            throw GGUFError(.badValueType, "unknown value type code \(raw) for \(what)", offset: at)
        }
        return t
    }

    mutating func readValue(_ type: GGUFValueType, _ what: String, depth: Int = 0) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, what))
        case .int8: return .int8(try read(Int8.self, what))
        case .uint16: return .uint16(try read(UInt16.self, what))
        case .int16: return .int16(try read(Int16.self, what))
        case .uint32: return .uint32(try read(UInt32.self, what))
        case .int32: return .int32(try read(Int32.self, what))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, what)))
        case .bool:
            let at = offset
            let b = try read(UInt8.self, what)
            guard b <= 1 else { throw GGUFError(.badValueType, "bool \(what) has value \(b)", offset: at) }
            return .bool(b == 1)
        case .string: return .string(try readString(what))
        case .uint64: return .uint64(try read(UInt64.self, what))
        case .int64: return .int64(try read(Int64.self, what))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, what)))
        case .array:
            guard depth < Self.maxArrayDepth else {
                throw GGUFError(.absurdCount, "arrays nested deeper than \(Self.maxArrayDepth) in \(what)",
                                offset: offset)
            }
            let elem = try readValueType("element type of \(what)")
            let count = try readCount("element count of \(what)", minItemSize: elem.minimumSize)
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                items.append(try readValue(elem, what, depth: depth + 1))
            }
            return .array(elem, items)
        }
    }
}
