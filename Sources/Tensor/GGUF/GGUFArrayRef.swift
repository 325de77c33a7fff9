/// Where a validated metadata array lies in a GGUF file: its elements are decoded on access.
///
/// Contract: only `GGUFReader.readArrayRef` creates one, after checking every element, so decoding it
/// from the same bytes cannot fail. The decoders still check bounds and return nil instead of trapping.
struct GGUFArrayRef: Sendable {
    /// Byte offset of the first element (just after the element type and count).
    let offset: Int
    let elementType: GGUFValueType
    let count: Int
    /// Byte offset just past the last element.
    let endOffset: Int

    /// The array as a `GGUFValue` (nested arrays included); nil only if `bytes` are not the validated ones.
    func materialize(_ bytes: UnsafeRawBufferPointer, _ key: String) -> GGUFValue? {
        guard endOffset <= bytes.count else { return nil }
        var r = GGUFReader(bytes, offset: offset)
        var items: [GGUFValue] = []
        items.reserveCapacity(count)
        for _ in 0..<count {
            guard let item = try? r.readValue(elementType, key, depth: 1) else { return nil }
            items.append(item)
        }
        return .array(elementType, items)
    }

    /// Calls `body(range)` for every element of a string array, in order, with the byte range of its
    /// UTF-8 text in `bytes`. Returns false (having stopped) if the element type is not string or the
    /// bytes are inconsistent.
    func forEachString(_ bytes: UnsafeRawBufferPointer, _ body: (Range<Int>) throws -> Void) rethrows -> Bool {
        guard elementType == .string, endOffset <= bytes.count else { return false }
        var at = offset
        for _ in 0..<count {
            guard endOffset - at >= 8 else { return false }
            let len = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            guard len <= UInt64(endOffset - at - 8) else { return false }
            let start = at + 8
            at = start + Int(len)
            try body(start..<at)
        }
        return true
    }

    /// The elements as `Int`, for any integer element type; nil for other element types (unless empty)
    /// or if a u64 element does not fit an `Int` (as `GGUFValue.intValue`).
    func ints(_ bytes: UnsafeRawBufferPointer) -> [Int]? {
        integers(bytes) { $0 }
    }

    /// The elements as `Float`, for any numeric element type; converts exactly as
    /// `Float(GGUFValue.floatValue!)` does (integers go through `Double`).
    func floats(_ bytes: UnsafeRawBufferPointer) -> [Float]? {
        switch elementType {
        case .float32: return decode(UInt32.self, bytes) { Float(bitPattern: $0) }
        case .float64: return decode(UInt64.self, bytes) { Float(Double(bitPattern: $0)) }
        default: return integers(bytes) { Float(Double($0)) }
        }
    }

    /// Integer elements mapped through `transform`; nil for a non-integer element type (unless empty).
    private func integers<R>(_ bytes: UnsafeRawBufferPointer, _ transform: (Int) -> R) -> [R]? {
        switch elementType {
        case .uint8: return decode(UInt8.self, bytes) { transform(Int($0)) }
        case .int8: return decode(Int8.self, bytes) { transform(Int($0)) }
        case .uint16: return decode(UInt16.self, bytes) { transform(Int($0)) }
        case .int16: return decode(Int16.self, bytes) { transform(Int($0)) }
        case .uint32: return decode(UInt32.self, bytes) { transform(Int($0)) }
        case .int32: return decode(Int32.self, bytes) { transform(Int($0)) }
        case .uint64: return decode(UInt64.self, bytes) { Int(exactly: $0).map(transform) }
        case .int64: return decode(Int64.self, bytes) { transform(Int($0)) }
        case .float32, .float64, .bool, .string, .array: return count == 0 ? [] : nil
        }
    }

    /// Every element loaded as a little-endian `T` and mapped; nil if any maps to nil or the element
    /// size does not match `T` (never for a validated array).
    private func decode<T: FixedWidthInteger, R>(_: T.Type, _ bytes: UnsafeRawBufferPointer,
                                                 _ transform: (T) -> R?) -> [R]? {
        let size = MemoryLayout<T>.size
        guard elementType.fixedSize == size, endOffset <= bytes.count, endOffset - offset == count * size else {
            return nil
        }
        var out: [R] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let raw = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + i * size, as: T.self))
            guard let v = transform(raw) else { return nil }
            out.append(v)
        }
        return out
    }
}
