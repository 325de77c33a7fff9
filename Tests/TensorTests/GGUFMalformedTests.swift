import Foundation
import Testing
import Tensor

/// One crafted file per way a GGUF file can be malformed; each must throw the specific `GGUFError.code`
/// with a message naming the problem and, where it applies, the byte offset of the bad field or record.
///
/// Offsets used below: magic 0, version 4, n_tensors 8, n_kv 16, first KV record 24.
@Suite("GGUF malformed files")
struct GGUFMalformedTests {
    // MARK: - Header

    @Test func badMagic() throws {
        var bytes = try GGUFTestFiles.small()
        bytes.replaceSubrange(0..<4, with: Array("GGML".utf8))
        expectGGUFError(bytes, .badMagic, offset: 0, mentions: "GGUF")
    }

    @Test("unsupported versions", arguments: [UInt32(0), 1, 4, .max])
    func unsupportedVersion(version: UInt32) {
        var b = GGUFByteBuilder()
        b.header(version: version, nTensors: 0, nKV: 0)
        expectGGUFError(b.bytes, .unsupportedVersion, offset: 4, mentions: "version \(version)")
    }

    @Test func emptyImage() {
        expectGGUFError([], .truncated, offset: 0, mentions: "magic")
    }

    /// Property: every proper prefix of a valid file is rejected with a GGUFError (never a crash), and
    /// a prefix that ends inside the header is reported as truncated or absurd at an offset inside it.
    @Test("every prefix of a valid file throws", arguments: [UInt32(2), 3])
    func everyPrefixThrows(version: UInt32) throws {
        let bytes = try GGUFTestFiles.small(version: version)
        let full = try GGUFFile(bytes: bytes)
        #expect(full.tensors.count == 3)
        var seen: Set<GGUFError.Code> = []
        for n in 0..<bytes.count {
            do {
                _ = try GGUFFile(bytes: Array(bytes[0..<n]))
                Issue.record("prefix of \(n) of \(bytes.count) bytes parsed")
            } catch {
                seen.insert(error.code)
                #expect([.truncated, .absurdCount, .tensorOutOfBounds].contains(error.code), "\(n): \(error)")
                #expect(!error.message.isEmpty)
                if error.code == .truncated {
                    let offset = try #require(error.offset)
                    #expect(offset <= n, "\(n): \(error)")
                }
                if n < full.dataOffset && error.code != .tensorOutOfBounds {
                    #expect(error.offset != nil)
                }
            }
        }
        #expect(seen == [.truncated, .absurdCount, .tensorOutOfBounds])
    }

    // MARK: - Strings and counts

    @Test("a string length larger than the rest of the file")
    func truncatedString() {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 1)
        b.u64(100)
        b.bytes.append(contentsOf: Array("general".utf8))
        expectGGUFError(b.bytes, .truncated, offset: 24, mentions: "100")
    }

    @Test("a string value length larger than the rest of the file")
    func truncatedStringValue() {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 1)
        b.string("k")
        b.u32(8)
        b.u64(5)
        b.bytes.append(contentsOf: Array("abc".utf8))
        expectGGUFError(b.bytes, .truncated, offset: 37, mentions: "5")
    }

    static let hugeCounts: [UInt64] = [1 << 62, .max, 1 << 63, 1 << 32]

    @Test("absurd tensor count", arguments: hugeCounts)
    func absurdTensorCount(count: UInt64) throws {
        var bytes = try GGUFTestFiles.small()
        patchGGUF(&bytes, at: 8, u64: count)
        expectFinishesQuickly { expectGGUFError(bytes, .absurdCount, offset: 8, mentions: "tensor count") }
    }

    @Test("absurd metadata count", arguments: hugeCounts)
    func absurdKVCount(count: UInt64) throws {
        var bytes = try GGUFTestFiles.small()
        patchGGUF(&bytes, at: 16, u64: count)
        expectFinishesQuickly { expectGGUFError(bytes, .absurdCount, offset: 16, mentions: "metadata count") }
    }

    @Test("absurd array element count", arguments: hugeCounts, [UInt32(0), 8, 9, 12])
    func absurdArrayCount(count: UInt64, elementType: UInt32) {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 1)
        b.string("arr")  // 24..<35
        b.u32(9)  // 35
        b.u32(elementType)  // 39
        b.u64(count)  // 43
        b.zeros(64)
        expectFinishesQuickly { expectGGUFError(b.bytes, .absurdCount, offset: 43, mentions: "element count of arr") }
    }

    @Test("absurd string lengths in keys, values and array elements", arguments: hugeCounts)
    func absurdStringLength(length: UInt64) {
        var key = GGUFByteBuilder()
        key.header(nTensors: 0, nKV: 1)
        key.u64(length)
        key.zeros(64)
        expectFinishesQuickly { expectGGUFError(key.bytes, .truncated, offset: 24, mentions: "\(length)") }

        var element = GGUFByteBuilder()
        element.header(nTensors: 0, nKV: 1)
        element.string("toks")  // 24..<36
        element.u32(9)
        element.u32(8)
        element.u64(2)
        element.string("a")  // 52..<61
        element.u64(length)  // 61
        element.zeros(64)
        expectFinishesQuickly { expectGGUFError(element.bytes, .truncated, offset: 61, mentions: "\(length)") }

        var name = GGUFByteBuilder()
        name.header(nTensors: 1, nKV: 0)
        name.u64(length)
        name.zeros(64)
        expectFinishesQuickly { expectGGUFError(name.bytes, .truncated, offset: 24, mentions: "tensor name") }
    }

    // MARK: - Values

    @Test("unknown value type codes", arguments: [UInt32(13), 99, .max])
    func unknownValueType(code: UInt32) {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 1)
        b.string("k")  // 24..<33
        b.u32(code)
        b.zeros(16)
        expectGGUFError(b.bytes, .badValueType, offset: 33, mentions: "\(code)")

        var a = GGUFByteBuilder()
        a.header(nTensors: 0, nKV: 1)
        a.string("k")
        a.u32(9)  // 33
        a.u32(code)  // 37
        a.u64(1)
        a.zeros(16)
        expectGGUFError(a.bytes, .badValueType, offset: 37, mentions: "\(code)")
    }

    @Test("a bool byte other than 0 or 1", arguments: [UInt8(2), 0xFF])
    func badBool(value: UInt8) {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 1)
        b.string("flag")  // 24..<36
        b.u32(7)
        b.u8(value)  // 40
        expectGGUFError(b.bytes, .badValueType, offset: 40, mentions: "flag")

        var a = GGUFByteBuilder()
        a.header(nTensors: 0, nKV: 1)
        a.string("flags")  // 24..<37
        a.u32(9)
        a.u32(7)
        a.u64(3)
        a.u8(1)
        a.u8(0)
        a.u8(value)  // 55
        expectGGUFError(a.bytes, .badValueType, offset: 55, mentions: "flags")
    }

    @Test func duplicateKey() {
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 3)
        b.string("a")
        b.u32(4)
        b.u32(1)
        b.string("dup")
        b.u32(4)
        b.u32(2)
        let second = b.bytes.count
        b.string("dup")
        b.u32(8)
        b.string("x")
        expectGGUFError(b.bytes, .duplicateKey, offset: second, mentions: "dup")
    }

    static func nested(_ depth: Int) -> GGUFValue {
        depth <= 1 ? .array(.uint8, [.uint8(7)]) : .array(.array, [nested(depth - 1)])
    }

    @Test("arrays nested deeper than the limit")
    func nestingLimit() throws {
        var ok = GGUFWriter()
        try ok.add(key: "deep", Self.nested(8))
        #expect(try GGUFFile(bytes: ok.bytes()).metadata["deep"] == Self.nested(8))

        var tooDeep = GGUFWriter()
        try tooDeep.add(key: "deep", Self.nested(9))
        let error = expectGGUFError(tooDeep.bytes(), .absurdCount, mentions: "nested")
        // The 9th array header starts after the key (8 + 4), the value type and 8 (type, count) pairs.
        #expect(error?.offset == 24 + 12 + 4 + 8 * 12)
    }

    @Test("bad general.alignment", arguments: [
        GGUFValue.uint32(48), .uint32(0), .uint32(3), .uint32(0x8000_0001), .uint64(32), .int32(32), .uint16(32),
        .string("32"), .array(.uint32, [.uint32(32)]), .array(.string, Array(repeating: .string("32"), count: 5000)),
    ])
    func badAlignment(value: GGUFValue) throws {
        var w = GGUFWriter()
        try w.add(key: "general.name", .string("x"))
        try w.add(key: "general.alignment", value)
        // The record starts after the first: 24 + 8 + 12 ("general.name") + 4 + 8 + 1.
        let error = expectGGUFError(w.bytes(), .badAlignment, offset: 57, mentions: "general.alignment")
        #expect((error?.message.count ?? 0) < 120, "the message stays short whatever the value")
    }

    // MARK: - Tensor table

    /// A file with one KV record and the given tensor-info records; `data` zero bytes follow the padding.
    static func tensorFile(_ records: [(String, [UInt64], UInt32, UInt64)], data: Int) -> (bytes: [UInt8], starts: [Int]) {
        var b = GGUFByteBuilder()
        b.header(nTensors: UInt64(records.count), nKV: 1)
        b.string("general.architecture")
        b.u32(8)
        b.string("llama")
        var starts: [Int] = []
        for (name, ne, type, offset) in records {
            starts.append(b.bytes.count)
            b.tensorInfo(name, ne: ne, type: type, offset: offset)
        }
        b.pad(to: 32)
        b.zeros(data)
        return (b.bytes, starts)
    }

    @Test("the hand-assembled tensor file is valid when nothing is wrong")
    func tensorFileBaseline() throws {
        let (bytes, _) = Self.tensorFile([("a", [8], 0, 0), ("b", [32, 2], 8, 32)], data: 32 + 68)
        let file = try GGUFFile(bytes: bytes)
        #expect(file.tensors.map(\.name) == ["a", "b"])
        #expect(file.tensor("b")?.byteCount == 68)
    }

    @Test func duplicateTensorName() {
        let (bytes, starts) = Self.tensorFile([("t", [8], 0, 0), ("u", [8], 0, 32), ("t", [8], 0, 64)], data: 96)
        expectGGUFError(bytes, .duplicateTensor, offset: starts[2], mentions: "t")
    }

    @Test("unknown tensor type codes", arguments: [UInt32(4), 5, 16, 29, 31, 39, .max])
    func unknownTensorType(code: UInt32) {
        let (bytes, starts) = Self.tensorFile([("w", [32, 2], code, 0)], data: 256)
        // type field: name (8 + 1) + n_dims 4 + 2 dims.
        expectGGUFError(bytes, .unknownTensorType, offset: starts[0] + 9 + 4 + 16, mentions: "\(code)")
    }

    @Test("n_dims outside 1...4", arguments: [UInt32(0), 5, .max])
    func badDimensionCount(nDims: UInt32) {
        var b = GGUFByteBuilder()
        b.header(nTensors: 1, nKV: 0)
        b.string("w")
        b.u32(nDims)
        for _ in 0..<min(nDims, 5) { b.u64(32) }
        b.u32(0)
        b.u64(0)
        b.zeros(4096)
        expectGGUFError(b.bytes, .badTensorShape, offset: 24, mentions: "\(nDims) dimensions")
    }

    @Test("ne0 not a multiple of the block size",
          arguments: [(GGMLType.q4_0, UInt64(33)), (.q8_0, 16), (.q4_K, 255), (.q6_K, 32), (.q8_K, 512 + 32)])
    func badBlockMultiple(type: GGMLType, ne0: UInt64) {
        let (bytes, starts) = Self.tensorFile([("w", [ne0, 2], type.rawValue, 0)], data: 4096)
        expectGGUFError(bytes, .badTensorShape, offset: starts[0], mentions: "block size \(type.blockSize)")
    }

    @Test("zero or absurd dimensions", arguments: [
        [UInt64(0)], [32, 0], [4, 1, 1, 0], [1 << 62], [UInt64.max], [1 << 31],
        [1 << 30, 1 << 30, 1 << 30], [UInt64(Int32.max), UInt64(Int32.max), 4],
    ])
    func badDimensions(ne: [UInt64]) {
        let (bytes, starts) = Self.tensorFile([("w", ne, 0, 0)], data: 64)
        expectFinishesQuickly { expectGGUFError(bytes, .badTensorShape, offset: starts[0], mentions: "w") }
    }

    @Test("tensor data out of bounds", arguments: [UInt64(0), 32, 1 << 40, 1 << 62, .max])
    func outOfBounds(offset: UInt64) {
        // 48 data bytes hold the [8] f32 tensor "ok" (32 bytes), but "w" needs 64 bytes wherever it starts.
        let (bytes, starts) = Self.tensorFile([("ok", [8], 0, 0), ("w", [16], 0, offset)], data: 48)
        let error = expectGGUFError(bytes, .tensorOutOfBounds, mentions: "w")
        // The record start, or the offset field itself for offsets no file can reach.
        #expect(error?.offset == starts[1] || error?.offset == starts[1] + 9 + 4 + 8 + 4)
    }

    @Test("tensor data missing entirely (file ends at the table)")
    func noDataBlob() {
        let (bytes, _) = Self.tensorFile([("w", [8], 0, 0)], data: 0)
        expectGGUFError(bytes, .tensorOutOfBounds, mentions: "outside the file")
    }

    @Test("tensor offset not a multiple of the alignment", arguments: [UInt64(1), 16, 31, 33])
    func misalignedOffset(offset: UInt64) {
        let (bytes, starts) = Self.tensorFile([("w", [8], 0, offset)], data: 128)
        expectGGUFError(bytes, .misalignedOffset, offset: starts[0] + 9 + 4 + 8 + 4, mentions: "alignment 32")
    }

    // MARK: - Files on disk

    @Test func missingPath() {
        let path = GGUFTestFiles.temporaryPath("does-not-exist.gguf")
        let error = #expect(throws: GGUFError.self) { _ = try GGUFFile(path: path) }
        #expect(error?.code == .ioError)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("No such file") == true)
    }

    @Test func directoryPath() throws {
        let path = GGUFTestFiles.temporaryPath("dir")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: GGUFError.self) { _ = try GGUFFile(path: path) }
        #expect(error?.code == .ioError)
        #expect(error?.message.contains(path) == true)
    }

    /// A FIFO must be rejected at once, not block in open(2) waiting for a writer.
    @Test func fifoPath() throws {
        let path = GGUFTestFiles.temporaryPath("fifo")
        try #require(mkfifo(path, 0o600) == 0)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: GGUFError.self) { _ = try GGUFFile(path: path) }
        #expect(error?.code == .ioError)
        #expect(error?.message.contains("not a regular file") == true)
    }

    @Test func emptyFileOnDisk() throws {
        let path = GGUFTestFiles.temporaryPath("empty.gguf")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: GGUFError.self) { _ = try GGUFFile(path: path) }
        #expect(error?.code == .truncated)
        #expect(error?.offset == 0)
    }

    @Test func truncatedFileOnDisk() throws {
        let bytes = try GGUFTestFiles.small()
        let path = GGUFTestFiles.temporaryPath("cut.gguf")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes[0..<(bytes.count - 1)])))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: GGUFError.self) { _ = try GGUFFile(path: path) }
        #expect(error?.code == .tensorOutOfBounds)
    }
}

// MARK: - Helpers

/// Parses `bytes` expecting `code`; checks the message is non-empty (and mentions `mentions`), and
/// the offset when given. Returns the error for further checks.
@discardableResult
func expectGGUFError(_ bytes: [UInt8], _ code: GGUFError.Code, offset: Int? = nil, mentions: String? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) -> GGUFError? {
    do {
        let file = try GGUFFile(bytes: bytes)
        Issue.record("parsed (\(file.tensors.count) tensors), expected \(code)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.count > 10, "\(error)", sourceLocation: sourceLocation)
        if let offset {
            #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains("offset \(offset)"), sourceLocation: sourceLocation)
        }
        if let mentions {
            #expect(error.message.contains(mentions), "\(error)", sourceLocation: sourceLocation)
        }
        return error
    }
}

/// Runs `body` and checks it finished within a second (no allocation or loop sized by a bad count).
func expectFinishesQuickly(sourceLocation: SourceLocation = #_sourceLocation, _ body: () -> Void) {
    let elapsed = ContinuousClock().measure(body)
    #expect(elapsed < .seconds(1), "took \(elapsed)", sourceLocation: sourceLocation)
}

/// Overwrites 8 bytes at `offset` with `value` little-endian.
func patchGGUF(_ bytes: inout [UInt8], at offset: Int, u64 value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + 8), with: $0) }
}
