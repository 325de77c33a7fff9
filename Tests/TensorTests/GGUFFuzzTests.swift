import Foundation
import Testing
import Tensor

/// Random-mutation fuzzing with fixed seeds: thousands of mutated copies of valid files must either
/// parse into a self-consistent `GGUFFile` or throw a `GGUFError`, and never crash or hang.
@Suite("GGUF mutation fuzz")
struct GGUFFuzzTests {
    /// Values that break size arithmetic when written into a u64 (or u32) field.
    static let hugeValues: [UInt64] = [
        1 << 62, .max, 1 << 63, (1 << 63) - 1, 1 << 32, 1 << 31, UInt64(UInt32.max), 0, 1, 13, 9,
    ]

    /// A small file touching every value kind, nested arrays, a custom alignment and several tensor types.
    static func richFile() throws -> [UInt8] {
        var w = GGUFWriter(alignment: 64)
        try w.add(key: "general.architecture", .string("qwen2"))
        try w.add(key: "b", .bool(true))
        try w.add(key: "f", .float32(0.5))
        try w.add(key: "u64", .uint64(7))
        try w.add(key: "flags", .array(.bool, [.bool(false), .bool(true)]))
        try w.add(key: "ids", .array(.int32, [.int32(1), .int32(-2)]))
        try w.add(key: "nested", .array(.array, [.array(.string, [.string("x")]), .array(.uint16, [])]))
        try w.addTensor(name: "q", ne: [32, 2], type: .q4_0, data: [UInt8](repeating: 0x11, count: 36))
        try w.addTensor(name: "k", ne: [256], type: .q4_K, data: [UInt8](repeating: 0x22, count: 144))
        try w.addTensor(name: "n", ne: [2, 2, 2, 2], type: .f32, data: [UInt8](repeating: 0x33, count: 64))
        return w.bytes()
    }

    enum Fixture: String, CaseIterable, Sendable { case small, rich }

    @Test("mutated copies parse consistently or throw GGUFError", arguments: Fixture.allCases)
    func mutations(fixture: Fixture) throws {
        let original = fixture == .small ? try GGUFTestFiles.small() : try Self.richFile()
        let headerEnd = try GGUFFile(bytes: original).dataOffset
        var rng = GGUFTestRNG(seed: fixture == .small ? 0x6767_5546 : 0x5EED_0003)
        var parsed = 0
        var codes: [GGUFError.Code: Int] = [:]
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                Self.mutate(&bytes, headerEnd: headerEnd, using: &rng)
            }
            do {
                let file = try GGUFFile(bytes: bytes)
                parsed += 1
                Self.checkInvariants(file)
            } catch {
                codes[error.code, default: 0] += 1
                #expect(!error.message.isEmpty)
                if let offset = error.offset { #expect(offset >= 0 && offset <= bytes.count, "\(error)") }
            }
        }
        // Not vacuous: some mutations survive (e.g. in tensor data) and many kinds of error are reached.
        #expect(parsed > 0)
        #expect(codes.count >= 6, "\(codes)")
        #expect(codes[.truncated] != nil && codes[.absurdCount] != nil && codes[.badValueType] != nil)
    }

    @Test("mutations of a real model header")
    func realHeaderMutations() throws {
        let path = try #require(GGUFTestFiles.reference("tiny-llama-spm/tiny-llama-spm.gguf"))
        let reference = try GGUFFile(path: path)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var rng = GGUFTestRNG(seed: 42)
        var failures = 0
        for _ in 0..<300 {
            var bytes = original
            Self.mutate(&bytes, headerEnd: reference.dataOffset, using: &rng, allowTruncation: false)
            do {
                Self.checkInvariants(try GGUFFile(bytes: bytes))
            } catch {
                failures += 1
            }
        }
        #expect(failures > 0)
    }

    /// Applies one random mutation; positions fall in the header 90% of the time.
    static func mutate(_ bytes: inout [UInt8], headerEnd: Int, using rng: inout GGUFTestRNG,
                       allowTruncation: Bool = true) {
        guard !bytes.isEmpty else { return }
        let limit = Int.random(in: 0..<10, using: &rng) == 0 ? bytes.count : min(headerEnd, bytes.count)
        let at = Int.random(in: 0..<limit, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:  // flip one bit
            bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
        case 1:  // random byte
            bytes[at] = UInt8.random(in: 0 ... .max, using: &rng)
        case 2, 3:  // a huge or special u64, anywhere or at an 8-aligned position
            let value = hugeValues.randomElement(using: &rng)!
            let start = Bool.random(using: &rng) ? at : at & ~7
            withUnsafeBytes(of: value.littleEndian) { v in
                for i in 0..<8 where start + i < bytes.count { bytes[start + i] = v[i] }
            }
        case 4:  // a small u32 (type codes, n_dims, bool bytes)
            let value = UInt32.random(in: 0...40, using: &rng)
            withUnsafeBytes(of: value.littleEndian) { v in
                for i in 0..<4 where at + i < bytes.count { bytes[at + i] = v[i] }
            }
        case 5:  // delete or insert a byte (shifts every later field)
            if Bool.random(using: &rng) { bytes.remove(at: at) } else { bytes.insert(0xFF, at: at) }
        default:
            if allowTruncation { bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &rng)...) }
        }
    }

    /// What a successfully parsed file must guarantee to its users.
    static func checkInvariants(_ file: GGUFFile) {
        #expect(file.version == 2 || file.version == 3)
        #expect(file.alignment > 0 && file.alignment & (file.alignment - 1) == 0)
        #expect(file.dataOffset % file.alignment == 0)
        #expect(file.metadataKeys.count == file.metadata.count)
        var sum = 0
        for info in file.tensors {
            #expect((1...4).contains(info.ne.count) && info.ne.allSatisfy { $0 > 0 })
            #expect(info.ne[0] % info.type.blockSize == 0)
            #expect(info.offset % file.alignment == 0)
            #expect(info.byteCount > 0)
            #expect(file.dataOffset + info.offset + info.byteCount <= file.fileSize)
            #expect(file.tensor(info.name) != nil)
            let p = file.data(of: info)
            sum &+= Int(p.load(as: UInt8.self)) &+ Int(p.load(fromByteOffset: info.byteCount - 1, as: UInt8.self))
        }
        _ = sum
        for key in file.metadataKeys {
            _ = try? file.optionalString(key)
            _ = try? file.optionalInt(key)
            _ = try? file.optionalFloat(key)
            _ = try? file.optionalStrings(key)
            _ = try? file.optionalInts(key)
            _ = try? file.optionalUniformInt(key)
        }
        GGUFLazyArrayTests.expectAccessorsMatchMaterialised(file)
    }
}
