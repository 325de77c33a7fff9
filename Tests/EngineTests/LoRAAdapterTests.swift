import Foundation
import Testing
import Tensor
@testable import Engine

/// Loading and validating llama.cpp GGUF LoRA adapters against the Gemma base, and the batched update.
@Suite("LoRA adapters", .serialized)
struct LoRAAdapterTests {
    static func gemmaConfig() throws -> ModelConfig {
        try ModelConfig(file: GGUFFile(path: TestPaths.require(TestPaths.gemma)))
    }

    /// A well-formed adapter image over `targets` of layer 0 (f32, deterministic values), then `edit`.
    static func image(rank: Int = 4, alpha: GGUFValue? = .float32(8), arch: String = "gemma3",
                      targets: [(String, Int, Int)] = [("blk.0.attn_q.weight", 640, 1024)],
                      edit: (inout GGUFWriter) throws -> Void = { _ in }) throws -> [UInt8] {
        var w = GGUFWriter()
        try w.add(key: "general.architecture", .string(arch))
        try w.add(key: "general.type", .string("adapter"))
        try w.add(key: "adapter.type", .string("lora"))
        if let alpha { try w.add(key: "adapter.lora.alpha", alpha) }
        for (name, n, m) in targets {
            try w.addTensor(name: name + ".lora_a", ne: [n, rank], type: .f32, data: floats(n * rank, seed: 1))
            try w.addTensor(name: name + ".lora_b", ne: [rank, m], type: .f32, data: floats(rank * m, seed: 2))
        }
        try edit(&w)
        return w.bytes()
    }

    static func floats(_ count: Int, seed: Int, value: ((Int) -> Float)? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 4)
        for i in 0..<count {
            let v = value?(i) ?? Float(((i * 7919 + seed * 104_729) % 201) - 100) / 1000
            withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// The refusal message of loading `bytes` as an adapter (fails the test when it loads).
    static func refusal(_ bytes: [UInt8]) throws -> String {
        let config = try gemmaConfig()
        do {
            _ = try LoRAAdapter(file: GGUFFile(bytes: bytes), path: "x.gguf", config: config)
        } catch let e as EngineError {
            return e.description
        }
        Issue.record("the adapter was accepted")
        return ""
    }

    @Test func loadsTheTestAdapter() throws {
        let path = try TestPaths.require(TestPaths.testLoRA)
        let adapter = try LoRAAdapter(path: path, config: Self.gemmaConfig())
        #expect(adapter.matrixCount == 18 * 4)
        #expect(adapter.rank == 8)
        #expect(adapter.alpha == 16)
        let q = try #require(adapter.pair(0, .q))
        #expect(q.inputs == 640 && q.outputs == 1024 && q.scale == 2)
        #expect(adapter.pair(0, .gate) == nil)
    }

    /// The prefix-cache identity is the file's content: another path to the same bytes gives the same key,
    /// another scale or another file a different one.
    @Test func cacheKeyIsTheContent() throws {
        let path = try TestPaths.require(TestPaths.testLoRA)
        let config = try Self.gemmaConfig()
        let copy = "/tmp/issue19-lora-copy-\(getpid()).gguf"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let a = try LoRAAdapter(path: path, config: config)
        let b = try LoRAAdapter(path: copy, config: config)
        #expect(a.cacheKey == b.cacheKey)
        #expect(a.cacheKey.digest.count == 32)
        #expect(try LoRAAdapter(path: path, config: config, scale: 0.5).cacheKey != a.cacheKey)
        let other = try LoRAAdapter(file: GGUFFile(bytes: Self.image()), path: "other", config: config)
        #expect(other.cacheKey != a.cacheKey)
    }

    @Test func refusesMalformedAdapters() throws {
        #expect(try Self.refusal(Self.image(arch: "llama")).contains("architecture 'llama'"))
        #expect(try Self.refusal(Self.image(alpha: .float32(.nan))).contains("alpha"))
        #expect(try Self.refusal(Self.image(alpha: .float32(.infinity))).contains("alpha"))
        #expect(try Self.refusal(Self.image(alpha: .string("16"))).contains("alpha"))
        // lora_a with the wrong input width.
        #expect(try Self.refusal(Self.image(targets: [("blk.0.attn_q.weight", 320, 1024)])).contains("wrong base model"))
        // lora_b with the output width of attn_k on attn_q.
        #expect(try Self.refusal(Self.image(targets: [("blk.0.attn_q.weight", 640, 256)])).contains("wrong base model"))
        // A pair whose ranks differ.
        let ranks = try Self.image(targets: []) { w in
            try w.addTensor(name: "blk.0.attn_v.weight.lora_a", ne: [640, 4], type: .f32, data: Self.floats(640 * 4, seed: 1))
            try w.addTensor(name: "blk.0.attn_v.weight.lora_b", ne: [8, 256], type: .f32, data: Self.floats(8 * 256, seed: 1))
        }
        #expect(try Self.refusal(ranks).contains("rank 4"))
        // Rank above the bound (and above the matrix width).
        #expect(try Self.refusal(Self.image(rank: 1200)).contains("rank 1200"))
        // Half a pair.
        let half = try Self.image(targets: []) { w in
            try w.addTensor(name: "blk.3.attn_k.weight.lora_a", ne: [640, 4], type: .f32, data: Self.floats(640 * 4, seed: 1))
        }
        #expect(try Self.refusal(half).contains("missing its lora_b"))
        // Names that are no adaptable base matrix.
        #expect(try Self.refusal(Self.image(targets: [("blk.18.attn_q.weight", 640, 1024)])).contains("not an adaptable"))
        #expect(try Self.refusal(Self.image(targets: [("output.weight", 640, 1024)])).contains("not an adaptable"))
        #expect(try Self.refusal(Self.image(targets: [("blk.01.attn_q.weight", 640, 1024)])).contains("not an adaptable"))
        // A tensor that is neither half.
        let stray = try Self.image { w in
            try w.addTensor(name: "blk.0.attn_q.weight", ne: [4], type: .f32, data: Self.floats(4, seed: 1))
        }
        #expect(try Self.refusal(stray).contains("neither"))
        // Not an adapter, not LoRA, no tensors.
        let model = try Self.image { w in try w.add(key: "general.type", .string("model")) }
        #expect(try Self.refusal(model).contains("general.type is 'model'"))
        let cvec = try Self.image { w in try w.add(key: "adapter.type", .string("control_vector")) }
        #expect(try Self.refusal(cvec).contains("adapter.type"))
        #expect(try Self.refusal(Self.image(targets: [])).contains("no lora_a"))
        // Non-finite weights.
        let nan = try Self.image(targets: []) { w in
            try w.addTensor(name: "blk.0.attn_k.weight.lora_a", ne: [640, 4], type: .f32,
                            data: Self.floats(640 * 4, seed: 1) { $0 == 77 ? .nan : 0.01 })
            try w.addTensor(name: "blk.0.attn_k.weight.lora_b", ne: [4, 256], type: .f32, data: Self.floats(4 * 256, seed: 1))
        }
        #expect(try Self.refusal(nan).contains("NaN"))
    }

    @Test func refusesBadFiles() throws {
        let config = try Self.gemmaConfig()
        let dir = "/tmp/issue19-lora-files-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func message(_ path: String, maxBytes: Int = LoRAAdapter.defaultMaxBytes, scale: Float = 1) -> String {
            do { _ = try LoRAAdapter(path: path, config: config, scale: scale, maxBytes: maxBytes) } catch {
                return "\(error)"
            }
            return "accepted"
        }
        let good = try Self.image()
        let truncated = dir + "/truncated.gguf"
        _ = FileManager.default.createFile(atPath: truncated, contents: Data(good.prefix(good.count - 100)))
        #expect(message(truncated).contains("cannot read LoRA adapter"))
        let whole = dir + "/whole.gguf"
        _ = FileManager.default.createFile(atPath: whole, contents: Data(good))
        #expect(message(whole) == "accepted")
        let link = dir + "/link.gguf"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: whole)
        #expect(message(link) == "accepted", "a link to an adapter file is followed")
        #expect(message(whole, maxBytes: 1000).contains("limit 1000"))
        #expect(message(whole, scale: .nan).contains("scale"))
        #expect(message(dir).contains("not a regular file"))
        #expect(message(dir + "/absent.gguf").contains("not a regular file"))
    }

    /// f16 and q8_0 factors are read like llama.cpp reads them (converted to f32 once).
    @Test func readsF16AndQ8Factors() throws {
        let config = try Self.gemmaConfig()
        let values: [Float] = (0..<(640 * 32)).map { (i: Int) -> Float in Float((i * 31) % 17 - 8) / 64 }   // exact in f16
        var w = GGUFWriter()
        try w.add(key: "general.architecture", .string("gemma3"))
        try w.add(key: "general.type", .string("adapter"))
        try w.add(key: "adapter.type", .string("lora"))
        var f16: [UInt8] = []
        for v in values.prefix(640 * 32) { withUnsafeBytes(of: Half.fromFloat(v).littleEndian) { f16.append(contentsOf: $0) } }
        try w.addTensor(name: "blk.0.attn_v.weight.lora_a", ne: [640, 32], type: .f16, data: f16)
        var q8 = [UInt8](repeating: 0, count: GGMLType.q8_0.rowBytes(32) * 256)
        let bRows = (0..<(256 * 32)).map { values[$0] }
        bRows.withUnsafeBufferPointer { src in
            q8.withUnsafeMutableBytes { Quantize.row(.q8_0, src.baseAddress!, $0.baseAddress!, count: 256 * 32) }
        }
        try w.addTensor(name: "blk.0.attn_v.weight.lora_b", ne: [32, 256], type: .q8_0, data: q8)
        let adapter = try LoRAAdapter(file: GGUFFile(bytes: w.bytes()), path: "mixed", config: config)
        let pair = try #require(adapter.pair(0, .v))
        #expect(pair.a == Array(values.prefix(640 * 32)))
        // B[o][r] stored transposed; q8_0 rounds to 1/127 of the block's largest magnitude (1/8).
        for (o, r) in [(3, 5), (0, 0), (255, 31)] { #expect(abs(pair.bT[r * 256 + o] - bRows[o * 32 + r]) <= 0.001) }
        #expect(pair.scale == 1)   // no alpha: the user scale as is (llama.cpp)
    }
}
