import Foundation
import Testing
import Tensor

/// Writer → reader round trips: every metadata value type, the tensor table and data, v2/v3,
/// custom alignment, and the writer's own input checks.
@Suite("GGUF round trip")
struct GGUFRoundTripTests {
    /// One value of every type, the edge values of each, and nested / empty arrays.
    static let values: [GGUFValue] = [
        .uint8(0), .uint8(.max), .int8(.min), .int8(-1), .uint16(.max), .int16(.min),
        .uint32(0), .uint32(.max), .int32(.min), .int32(.max),
        .float32(1.5), .float32(-0.0), .float32(.infinity), .float32(.leastNonzeroMagnitude), .float32(1e-6),
        .bool(true), .bool(false),
        .string(""), .string("gemma3"), .string("héllo ☃ 🦙 \u{0}nul"), .string(String(repeating: "▁", count: 300)),
        .uint64(.max), .int64(.min), .float64(-2.5e300), .float64(.leastNormalMagnitude),
        .array(.uint8, []), .array(.string, []), .array(.array, []),
        .array(.uint8, [.uint8(1), .uint8(255)]), .array(.int8, [.int8(-128)]),
        .array(.uint16, [.uint16(7)]), .array(.int16, [.int16(-7), .int16(7)]),
        .array(.uint32, [.uint32(1), .uint32(2), .uint32(3)]), .array(.int32, [.int32(-1), .int32(0)]),
        .array(.float32, [.float32(0.25), .float32(-1e30)]), .array(.bool, [.bool(true), .bool(false)]),
        .array(.string, [.string("a"), .string(""), .string("<0x0A>"), .string("日本語")]),
        .array(.uint64, [.uint64(1 << 40)]), .array(.int64, [.int64(-1 << 40)]), .array(.float64, [.float64(3.25)]),
        .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.string, [.string("x")]), .array(.bool, [])]),
        .array(.array, [.array(.array, [.array(.array, [.array(.uint8, [.uint8(9)])])])]),
    ]

    @Test("every metadata value type survives a round trip", arguments: values, [UInt32(2), 3])
    func valueRoundTrip(value: GGUFValue, version: UInt32) throws {
        var w = GGUFWriter(version: version)
        try w.add(key: "before", .uint32(1))
        try w.add(key: "test.value", value)
        try w.add(key: "after", .string("end"))
        let file = try GGUFFile(bytes: w.bytes())
        #expect(file.version == version)
        #expect(file.metadataKeys == ["before", "test.value", "after"])
        #expect(file.metadata["test.value"] == value)
        #expect(file.metadata["test.value"]?.type == value.type)
        #expect(try file.string("after") == "end")
    }

    @Test("all values in one file, with unicode and empty keys, keep file order")
    func allValuesInOneFile() throws {
        var w = GGUFWriter()
        var keys: [String] = []
        for (i, v) in Self.values.enumerated() {
            let key = i % 3 == 0 ? "ключ.\(i).🦙" : "k.\(i)"
            keys.append(key)
            try w.add(key: key, v)
        }
        try w.add(key: "", .string("empty key"))
        keys.append("")
        let file = try GGUFFile(bytes: w.bytes())
        #expect(file.metadataKeys == keys)
        #expect(file.metadata.count == keys.count)
        for (i, v) in Self.values.enumerated() { #expect(file.metadata[keys[i]] == v) }
        #expect(try file.string("") == "empty key")
        #expect(file.tensors.isEmpty)
    }

    @Test("tensor table and data round trip", arguments: GGMLType.allCases, [UInt32(2), 3])
    func tensorRoundTrip(type: GGMLType, version: UInt32) throws {
        let b = type.blockSize
        let shapes: [[Int]] = [[b], [2 * b, 3], [b, 2, 3], [b, 1, 2, 2]]
        var w = GGUFWriter(version: version)
        try w.add(key: "general.architecture", .string("test"))
        var rng = GGUFTestRNG(seed: UInt64(type.rawValue) &* 31 &+ UInt64(version))
        var expected: [(String, [Int], [UInt8])] = []
        for (i, ne) in shapes.enumerated() {
            let n = GGUFTensorInfo(name: "", ne: ne, type: type, offset: 0).byteCount
            let data = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            try w.addTensor(name: "blk.\(i).weight", ne: ne, type: type, data: data)
            expected.append(("blk.\(i).weight", ne, data))
        }
        let file = try GGUFFile(bytes: w.bytes())
        try expectTensors(file, expected, type: type)
    }

    @Test("custom alignment writes general.alignment and aligns every tensor", arguments: [1, 8, 32, 64, 4096])
    func customAlignment(alignment: Int) throws {
        var w = GGUFWriter(alignment: alignment)
        try w.add(key: "x", .uint8(1))
        var expected: [(String, [Int], [UInt8])] = []
        for (i, n) in [3, 1, 5, 64].enumerated() {
            let data = (0..<(4 * n)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            try w.addTensor(name: "t\(i)", ne: [n], type: .f32, data: data)
            expected.append(("t\(i)", [n], data))
        }
        let bytes = w.bytes()
        let file = try GGUFFile(bytes: bytes)
        #expect(file.alignment == alignment)
        #expect(file.dataOffset % alignment == 0)
        #expect(bytes.count % alignment == 0)
        if alignment == 32 {
            #expect(file.metadata["general.alignment"] == nil)
        } else {
            #expect(file.metadata["general.alignment"] == .uint32(UInt32(alignment)))
            #expect(file.metadataKeys == ["x", "general.alignment"])
        }
        try expectTensors(file, expected, type: .f32)
    }

    @Test("an explicit general.alignment is not written twice")
    func explicitAlignmentKey() throws {
        var w = GGUFWriter(alignment: 64)
        try w.add(key: "general.alignment", .uint32(64))
        try w.add(key: "y", .int8(-1))
        let file = try GGUFFile(bytes: w.bytes())
        #expect(file.metadataKeys == ["general.alignment", "y"])
        #expect(file.alignment == 64)
    }

    @Test("add replaces an existing key in place")
    func addReplaces() throws {
        var w = GGUFWriter()
        try w.add(key: "a", .uint32(1))
        try w.add(key: "b", .uint32(2))
        try w.add(key: "a", .string("again"))
        let file = try GGUFFile(bytes: w.bytes())
        #expect(file.metadataKeys == ["a", "b"])
        #expect(file.metadata["a"] == .string("again"))
    }

    @Test("write(to:) then GGUFFile(path:) maps the same image")
    func writeToDisk() throws {
        var w = GGUFWriter()
        try w.add(key: "general.name", .string("disk"))
        let data = (0..<(18 * 4)).map { UInt8($0) }
        try w.addTensor(name: "q", ne: [64, 2], type: .q4_0, data: data)
        let path = GGUFTestFiles.temporaryPath("write.gguf")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try w.write(to: path)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == w.bytes())
        let file = try GGUFFile(path: path)
        try expectTensors(file, [("q", [64, 2], data)], type: .q4_0)
        #expect(try file.string("general.name") == "disk")
    }

    @Test("write(to:) into a missing directory throws ioError")
    func writeFails() throws {
        let w = GGUFWriter()
        let path = "/nonexistent-dir-\(UInt32.random(in: 0 ... .max))/x.gguf"
        let error = #expect(throws: GGUFError.self) { try w.write(to: path) }
        #expect(error?.code == .ioError)
        #expect(error?.message.contains(path) == true)
    }

    @Test("writer rejects a data length that does not match the shape",
          arguments: [(GGMLType.f32, [4], 15), (.q8_0, [32, 2], 34), (.q4_K, [256], 145), (.f16, [3, 3], 0)])
    func writerRejectsBadLength(type: GGMLType, ne: [Int], count: Int) {
        var w = GGUFWriter()
        let error = #expect(throws: GGUFError.self) {
            try w.addTensor(name: "w", ne: ne, type: type, data: [UInt8](repeating: 0, count: count))
        }
        #expect(error?.code == .badTensorShape)
        #expect(error?.message.contains("\(count)") == true)
    }

    @Test("writer rejects bad shapes, duplicate tensors and inconsistent arrays")
    func writerRejectsBadInput() throws {
        var w = GGUFWriter()
        for ne in [[], [1, 1, 1, 1, 1], [0], [4, -1], [33]] {
            #expect(throws: GGUFError.self) { try w.addTensor(name: "x", ne: ne, type: .q8_0, data: []) }
        }
        try w.addTensor(name: "t", ne: [1], type: .f32, data: [0, 0, 0, 0])
        let dup = #expect(throws: GGUFError.self) {
            try w.addTensor(name: "t", ne: [1], type: .f32, data: [0, 0, 0, 0])
        }
        #expect(dup?.code == .duplicateTensor)
        let mismatch = #expect(throws: GGUFError.self) {
            try w.add(key: "bad", .array(.uint32, [.uint32(1), .int32(2)]))
        }
        #expect(mismatch?.code == .typeMismatch)
        let nested = #expect(throws: GGUFError.self) {
            try w.add(key: "bad", .array(.array, [.array(.string, [.uint8(1)])]))
        }
        #expect(nested?.code == .typeMismatch)
        #expect(try GGUFFile(bytes: w.bytes()).metadata.isEmpty)
    }

    @Test("the header layout matches SPEC-model.md 1.1 byte for byte")
    func headerBytes() throws {
        var w = GGUFWriter()
        try w.add(key: "general.architecture", .string("gemma3"))
        let bytes = w.bytes()
        var b = GGUFByteBuilder()
        b.header(nTensors: 0, nKV: 1)
        b.string("general.architecture")
        b.u32(8)
        b.string("gemma3")
        b.pad(to: 32)
        #expect(bytes == b.bytes)
        #expect(Array(bytes[0..<4]) == Array("GGUF".utf8))
        #expect(Array(bytes[24..<32]) == [0x14, 0, 0, 0, 0, 0, 0, 0])
    }

    /// Checks names, shapes, types, alignment and that `data(of:)` yields exactly the bytes written.
    private func expectTensors(_ file: GGUFFile, _ expected: [(String, [Int], [UInt8])], type: GGMLType) throws {
        try #require(file.tensors.count == expected.count)
        for (info, (name, ne, data)) in zip(file.tensors, expected) {
            #expect(info.name == name)
            #expect(info.ne == ne)
            #expect(info.type == type)
            #expect(info.byteCount == data.count)
            #expect(info.offset % file.alignment == 0)
            #expect(file.tensor(name) == info)
            let got = [UInt8](UnsafeRawBufferPointer(start: file.data(of: info), count: info.byteCount))
            #expect(got == data, "data of \(name)")
        }
        #expect(file.tensor("missing") == nil)
    }
}

/// Little-endian byte assembler for hand-made (possibly malformed) GGUF images.
struct GGUFByteBuilder {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }
    mutating func header(version: UInt32 = 3, nTensors: UInt64, nKV: UInt64) {
        u32(GGUFFile.magic)
        u32(version)
        u64(nTensors)
        u64(nKV)
    }
    /// One tensor-info record with raw fields (no validation, so it can be malformed).
    mutating func tensorInfo(_ name: String, ne: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(ne.count))
        for n in ne { u64(n) }
        u32(type)
        u64(offset)
    }
    mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }
    mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
}

/// Deterministic 64-bit generator (GGUFTestRNG) so fuzz and fixture data are reproducible.
struct GGUFTestRNG: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Shared fixtures: a small valid file, temporary paths and the `../shared/reference` directory.
enum GGUFTestFiles {
    /// A small valid v3 file: 3 KV records (one string array) and 3 tensors. The last tensor's size is a
    /// multiple of 32, so the file has no trailing padding and every proper prefix is invalid.
    static func small(version: UInt32 = 3) throws -> [UInt8] {
        var w = GGUFWriter(version: version)
        try w.add(key: "general.architecture", .string("llama"))
        try w.add(key: "llama.block_count", .uint32(2))
        try w.add(key: "tokenizer.ggml.tokens", .array(.string, [.string("<s>"), .string("▁a"), .string("")]))
        try w.addTensor(name: "a", ne: [4, 2], type: .f32, data: (0..<32).map { UInt8($0) })
        try w.addTensor(name: "b", ne: [32], type: .q8_0, data: (0..<34).map { UInt8($0 &+ 100) })
        try w.addTensor(name: "c", ne: [8, 2], type: .f16, data: (0..<32).map { UInt8($0 &+ 200) })
        return w.bytes()
    }

    /// A fresh path in the temporary directory (the file is not created).
    static func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.path
        return "\(dir)/gguf-tests-\(getpid())-\(UInt64.random(in: 0 ... .max))-\(name)"
    }

    /// `/work/shared` found from this source file: repo root (3 levels up from Tests/TensorTests/X.swift)
    /// + `../shared`, else the first ancestor directory holding `shared/reference`.
    static let sharedDirectory: String? = {
        let fm = FileManager.default
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let root = dir.deletingLastPathComponent().deletingLastPathComponent()
        let primary = root.deletingLastPathComponent().appendingPathComponent("shared")
        if fm.fileExists(atPath: primary.appendingPathComponent("reference").path) { return primary.path }
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("shared")
            if fm.fileExists(atPath: candidate.appendingPathComponent("reference").path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    /// Path of a file under `shared/reference`, if it exists.
    static func reference(_ relative: String) -> String? {
        guard let shared = sharedDirectory else { return nil }
        let path = "\(shared)/reference/\(relative)"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
