import Testing
import Tensor

/// Metadata arrays are validated at parse time but decoded on access (`GGUFMetadata`): round trips of
/// large arrays of every element type, typed accessors against the `[GGUFValue]` reference, `arrayCount`,
/// the zero-copy string accessor, and parse-time errors inside large arrays.
@Suite("GGUF lazy metadata arrays")
struct GGUFLazyArrayTests {
    static let elementTypes: [GGUFValueType] = [
        .uint8, .int8, .uint16, .int16, .uint32, .int32, .float32, .bool, .string, .uint64, .int64, .float64, .array,
    ]

    /// A deterministic array of `count` elements of `type` (no NaN, so `==` is meaningful).
    static func array(_ type: GGUFValueType, count: Int) -> GGUFValue {
        var rng = GGUFTestRNG(seed: UInt64(type.rawValue) &* 977 &+ UInt64(count))
        let items: [GGUFValue] = (0..<count).map { i in
            let r = rng.next()
            switch type {
            case .uint8: return .uint8(UInt8(truncatingIfNeeded: r))
            case .int8: return .int8(Int8(truncatingIfNeeded: r))
            case .uint16: return .uint16(UInt16(truncatingIfNeeded: r))
            case .int16: return .int16(Int16(truncatingIfNeeded: r))
            case .uint32: return .uint32(UInt32(truncatingIfNeeded: r))
            case .int32: return .int32(Int32(truncatingIfNeeded: r))
            case .float32: return .float32(Float(Int(r % 4001) - 2000) / 8)
            case .bool: return .bool(r & 1 == 1)
            case .string: return .string(i % 7 == 0 ? "" : "▁tok\(r % 100_000)" + (i % 5 == 0 ? "🦙" : ""))
            case .uint64: return .uint64(r >> 1)
            case .int64: return .int64(Int64(bitPattern: r))
            case .float64: return .float64(Double(Int64(bitPattern: r)) / 3)
            case .array: return .array(.int16, (0..<Int(r % 4)).map { .int16(Int16($0) - 2) })
            }
        }
        return .array(type, items)
    }

    /// Every element type at sizes 0, 1, 17 and 1000, plus nested, empty-nested and a u64 too big for Int.
    static let arrays: [GGUFValue] = elementTypes.flatMap { t in [0, 1, 17, 1000].map { array(t, count: $0) } } + [
        .array(.array, [.array(.string, [.string("x"), .string("")]), .array(.array, [.array(.bool, [])])]),
        .array(.array, (0..<40).map { .array(.float32, [.float32(Float($0))]) }),
        .array(.uint64, Array(repeating: .uint64(1), count: 20) + [.uint64(.max)]),
        .array(.float32, [.float32(.infinity), .float32(-0.0), .float32(.leastNonzeroMagnitude)]),
    ]

    static func file(_ values: [GGUFValue]) throws -> GGUFFile {
        var w = GGUFWriter()
        try w.add(key: "before", .string("b"))
        for (i, v) in values.enumerated() { try w.add(key: "a.\(i)", v) }
        try w.add(key: "after", .uint32(7))
        return try GGUFFile(bytes: w.bytes())
    }

    @Test("large and nested arrays of every element type round trip", arguments: arrays)
    func roundTrip(value: GGUFValue) throws {
        let file = try Self.file([value])
        #expect(file.metadataKeys == ["before", "a.0", "after"])
        #expect(file.metadata.count == 3 && !file.metadata.isEmpty)
        #expect(file.metadata.keys == file.metadataKeys)
        #expect(file.metadata["a.0"] == value)
        #expect(file.metadata["a.0"] == value, "decoding twice gives the same value")
        #expect(try file.int("after") == 7)
        Self.expectAccessorsMatchMaterialised(file)
    }

    @Test("all arrays in one file: typed accessors agree with the materialised values")
    func allInOneFile() throws {
        let file = try Self.file(Self.arrays)
        for (i, v) in Self.arrays.enumerated() { #expect(file.metadata["a.\(i)"] == v) }
        Self.expectAccessorsMatchMaterialised(file)
    }

    @Test("the metadata keeps the file's bytes alive after the GGUFFile is gone")
    func metadataOutlivesFile() throws {
        let value = Self.array(.string, count: 300)
        let metadata = try Self.file([value]).metadata
        #expect(metadata["a.0"] == value)
    }

    @Test("arrayCount counts without decoding; nil when absent, typeMismatch for a scalar")
    func arrayCount() throws {
        let file = try Self.file(Self.arrays)
        for (i, v) in Self.arrays.enumerated() { #expect(try file.arrayCount("a.\(i)") == v.arrayValue?.count) }
        #expect(try file.arrayCount("nope") == nil)
        let error = #expect(throws: GGUFError.self) { _ = try file.arrayCount("after") }
        #expect(error?.code == .typeMismatch)
        #expect(error?.message.contains("after") == true)
    }

    @Test("withStringArrayBytes yields each token's exact bytes, invalid UTF-8 included")
    func stringArrayBytes() throws {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 3)
        b.string("toks")
        b.u32(9)
        b.u32(8)
        let raw: [[UInt8]] = [[0xFF, 0xFE], [], Array("▁hi".utf8), [0], Array(repeating: 0x61, count: 40)]
        b.u64(UInt64(raw.count))
        for r in raw {
            b.u64(UInt64(r.count))
            b.bytes += r
        }
        b.string("ints")
        b.u32(9)
        b.u32(5)
        b.u64(0)
        b.string("scalar")
        b.u32(8)
        b.string("x")
        let file = try GGUFFile(bytes: b.bytes)

        let got = try file.withStringArrayBytes("toks") { count, element in (0..<count).map { [UInt8](element($0)) } }
        #expect(got == raw)
        #expect(try file.optionalStrings("toks") == raw.map { String(decoding: $0, as: UTF8.self) })
        #expect(try file.withStringArrayBytes("nope") { count, _ in count } == nil)
        for key in ["ints", "scalar"] {
            let error = #expect(throws: GGUFError.self) { _ = try file.withStringArrayBytes(key) { count, _ in count } }
            #expect(error?.code == .typeMismatch)
            #expect(error?.message.contains(key) == true)
        }
        struct Stop: Error {}
        #expect(throws: Stop.self) { _ = try file.withStringArrayBytes("toks") { _, _ in throw Stop() } }
    }

    // MARK: - Parse-time errors inside large arrays

    /// Offsets: key "k" 24..<33, value type 33, element type 37, count 41, first element 49.
    static func arrayHeader(elementType: UInt32, count: UInt64) -> GGUFByteBuilder {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 1)
        b.string("k")
        b.u32(9)
        b.u32(elementType)
        b.u64(count)
        return b
    }

    @Test("a bad bool deep inside a large array", arguments: [0, 57, 99])
    func badBoolInLargeArray(index: Int) throws {
        var b = Self.arrayHeader(elementType: 7, count: 100)
        for i in 0..<100 { b.u8(i == index ? 2 : UInt8(i & 1)) }
        expectGGUFError(b.bytes, .badValueType, offset: 49 + index, mentions: "bool k has value 2")
        b.bytes[49 + index] = 1
        let fixed = try GGUFFile(bytes: b.bytes)
        #expect(fixed.metadata["k"]?.arrayValue?.count == 100)
        #expect(fixed.metadata["k"]?.arrayValue?[index] == .bool(true))
    }

    @Test("a string length past the end of the file deep inside a large array")
    func truncatedStringInLargeArray() {
        var b = Self.arrayHeader(elementType: 8, count: 40)
        for i in 0..<30 { b.string("tok\(i)") }
        let at = b.bytes.count
        b.u64(1 << 40)
        b.zeros(9 * 10)
        expectGGUFError(b.bytes, .truncated, offset: at, mentions: "k has length \(1 << 40)")
    }

    @Test("a large string array that ends early")
    func stringArrayEndsEarly() {
        var b = Self.arrayHeader(elementType: 8, count: 40)
        for i in 0..<20 { b.string("a much longer token text number \(i)") }
        let at = b.bytes.count
        b.u32(3)  // half a length field
        expectGGUFError(b.bytes, .truncated, offset: at, mentions: "length of k")
    }

    @Test("a bad element type or absurd count in a nested array of a large array")
    func badNestedArray() {
        // 20 inner arrays of one u32: element type, count, value = 16 bytes each.
        func file(badAt: Int, elementType: UInt32, count: UInt64) -> [UInt8] {
            var b = Self.arrayHeader(elementType: 9, count: 20)
            for i in 0..<20 {
                b.u32(i == badAt ? elementType : 4)
                b.u64(i == badAt ? count : 1)
                b.u32(UInt32(i))
            }
            return b.bytes
        }
        expectGGUFError(file(badAt: 14, elementType: 99, count: 1), .badValueType, offset: 49 + 14 * 16, mentions: "99")
        expectFinishesQuickly {
            expectGGUFError(file(badAt: 19, elementType: 4, count: .max), .absurdCount, offset: 49 + 19 * 16 + 4,
                            mentions: "element count of k")
        }
        #expect(throws: Never.self) { _ = try GGUFFile(bytes: file(badAt: -1, elementType: 0, count: 0)) }
    }

    @Test("a fixed-size array one byte short of its count")
    func fixedArrayOneByteShort() {
        var b = Self.arrayHeader(elementType: 6, count: 1000)
        b.zeros(3999)
        expectGGUFError(b.bytes, .absurdCount, offset: 41, mentions: "element count of k is 1000")
    }

    // MARK: - Reference

    /// Checks, for every key, that each typed accessor returns exactly what the pre-lazy implementation
    /// computed from the materialised `[GGUFValue]` (or throws `typeMismatch` where it did), and that
    /// materialising never fails for a parsed file.
    static func expectAccessorsMatchMaterialised(_ file: GGUFFile,
                                                 sourceLocation: SourceLocation = #_sourceLocation) {
        for key in file.metadataKeys {
            guard let v = file.metadata[key] else {
                Issue.record("metadata[\(key)] is nil for a parsed file", sourceLocation: sourceLocation)
                continue
            }
            let items = v.arrayValue
            expectSame(try file.optionalStrings(key), referenceStrings(v), key, sourceLocation)
            expectSame(try file.optionalInts(key), referenceNumbers(items) { $0.intValue }, key, sourceLocation)
            // Bit patterns, so that equal NaNs compare equal (whatever their payload).
            func bits(_ f: Float) -> UInt32 { f.isNaN ? Float.nan.bitPattern : f.bitPattern }
            expectSame(try file.optionalFloats(key)?.map(bits),
                       referenceNumbers(items) { $0.floatValue.map { bits(Float($0)) } }, key, sourceLocation)
            expectSame(try file.arrayCount(key), items?.count, key, sourceLocation)
            if case .array(.string, let strings) = v {
                let viaBytes = try? file.withStringArrayBytes(key) { count, element in
                    (0..<count).map { String(decoding: element($0), as: UTF8.self) }
                }
                #expect(viaBytes == strings.map { $0.stringValue ?? "" }, "\(key)", sourceLocation: sourceLocation)
            }
        }
    }

    /// The accessor returned `expected`, or threw `typeMismatch` when `expected` is nil.
    private static func expectSame<T: Equatable>(_ actual: @autoclosure () throws(GGUFError) -> T?, _ expected: T?,
                                                 _ key: String, _ sourceLocation: SourceLocation) {
        do {
            let got = try actual()
            #expect(got != nil && got == expected, "\(key)", sourceLocation: sourceLocation)
        } catch {
            #expect(expected == nil && error.code == .typeMismatch, "\(key): \(error)", sourceLocation: sourceLocation)
        }
    }

    private static func referenceStrings(_ v: GGUFValue) -> [String]? {
        guard case .array(.string, let items) = v else { return nil }
        return items.map { $0.stringValue ?? "" }
    }

    private static func referenceNumbers<T>(_ items: [GGUFValue]?, _ convert: (GGUFValue) -> T?) -> [T]? {
        guard let items else { return nil }
        var out: [T] = []
        for item in items {
            guard let x = convert(item) else { return nil }
            out.append(x)
        }
        return out
    }
}
