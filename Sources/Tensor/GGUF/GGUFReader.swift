/// A bounds-checked little-endian cursor over the header of a GGUF file.
///
/// Every read checks the remaining length first and throws `GGUFError(.truncated)` with the offset,
/// so a malformed file can never make the parser read out of bounds or allocate without limit.
///
/// NOTE: `what` parameters are autoclosures: the text naming a field is only built when an error is
/// thrown, so validating a 262144-element string array allocates nothing per element.
struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    /// Arrays may nest (GGUF allows it in principle); deeper than this is rejected as absurd.
    static let maxArrayDepth = 8

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard n >= 0, n <= remaining else {
            throw GGUFError(.truncated, "file ends while reading \(what()) (need \(n) bytes, \(remaining) left)",
                            offset: offset)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: bytes.baseAddress!.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func readU32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try read(UInt32.self, what())
    }

    mutating func readU64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try read(UInt64.self, what())
    }

    /// A count that must fit in the rest of the file given each item takes at least `minItemSize` bytes.
    mutating func readCount(_ what: @autoclosure () -> String, minItemSize: Int) throws(GGUFError) -> Int {
        let at = offset
        let raw = try readU64(what())
        let limit = UInt64(remaining / max(1, minItemSize))
        guard raw <= limit else {
            throw GGUFError(.absurdCount, "\(what()) is \(raw), but only \(remaining) bytes remain", offset: at)
        }
        return Int(raw)
    }

    /// The raw bytes of a length-prefixed string (a view into `bytes`, not a copy).
    mutating func readStringBytes(_ what: @autoclosure () -> String) throws(GGUFError) -> UnsafeRawBufferPointer {
        let at = offset
        let len = try readU64("length of \(what())")
        guard len <= UInt64(remaining) else {
            throw GGUFError(.truncated, "\(what()) has length \(len) but only \(remaining) bytes remain", offset: at)
        }
        let n = Int(len)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        return slice
    }

    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        // Token texts may contain invalid UTF-8 in broken files; decode with replacement, never crash.
        String(decoding: try readStringBytes(what()), as: UTF8.self)
    }

    mutating func readBool(_ what: @autoclosure () -> String) throws(GGUFError) -> Bool {
        let at = offset
        let b = try read(UInt8.self, what())
        guard b <= 1 else { throw GGUFError(.badValueType, "bool \(what()) has value \(b)", offset: at) }
        return b == 1
    }

    mutating func readValueType(_ what: @autoclosure () -> String) throws(GGUFError) -> GGUFValueType {
        let at = offset
        let raw = try readU32(what())
        guard let t = GGUFValueType(rawValue: raw) else {
            throw GGUFError(.badValueType, "unknown value type code \(raw) for \(what())", offset: at)
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
        case .bool: return .bool(try readBool(what))
        case .string: return .string(try readString(what))
        case .uint64: return .uint64(try read(UInt64.self, what))
        case .int64: return .int64(try read(Int64.self, what))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, what)))
        case .array:
            let (elem, count) = try readArrayHeader(what, depth: depth)
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                items.append(try readValue(elem, what, depth: depth + 1))
            }
            return .array(elem, items)
        }
    }

    /// Validates an array value exactly as `readValue` would (same checks, errors and offsets, elements
    /// and nested arrays included) without materialising it: O(1) memory, work linear in its bytes.
    /// Returns where its elements lie so they can be decoded later.
    mutating func readArrayRef(_ what: String, depth: Int = 0) throws(GGUFError) -> GGUFArrayRef {
        let (elem, count) = try readArrayHeader(what, depth: depth)
        let start = offset
        switch elem {
        case .string:
            for _ in 0..<count { _ = try readStringBytes(what) }
        case .bool:
            for _ in 0..<count { _ = try readBool(what) }
        case .array:
            for _ in 0..<count { _ = try readArrayRef(what, depth: depth + 1) }
        case .uint8, .int8, .uint16, .int16, .uint32, .int32, .float32, .uint64, .int64, .float64:
            // `readCount` bounded count by the remaining bytes / element size, so this cannot fail.
            let n = count * elem.minimumSize
            try need(n, what)
            offset += n
        }
        return GGUFArrayRef(offset: start, elementType: elem, count: count, endOffset: offset)
    }

    /// An array's element type and count, after checking the nesting depth.
    private mutating func readArrayHeader(_ what: String, depth: Int) throws(GGUFError) -> (GGUFValueType, Int) {
        guard depth < Self.maxArrayDepth else {
            throw GGUFError(.absurdCount, "arrays nested deeper than \(Self.maxArrayDepth) in \(what)",
                            offset: offset)
        }
        let elem = try readValueType("element type of \(what)")
        let count = try readCount("element count of \(what)", minItemSize: elem.minimumSize)
        return (elem, count)
    }
}
