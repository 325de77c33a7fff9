import Foundation
import Testing
import Tensor

/// Parses the real reference model files from `../shared/reference` (fails when absent: CI always has them) and checks
/// the counts and types their READMEs state.
@Suite("GGUF reference model files")
struct GGUFModelFileTests {
    struct Expected: Sendable, CustomTestStringConvertible {
        let path: String
        let architecture: String
        let tensors: Int
        let keys: Int
        let vocab: Int
        let types: [String: GGMLType]
        var testDescription: String { path }
    }

    /// Counts and types from the READMEs next to each file (tensor/key counts from the header).
    static let files: [Expected] = [
        Expected(path: "tiny-llama-spm/tiny-llama-spm.gguf", architecture: "llama", tensors: 39, keys: 25,
                 vocab: 2000,
                 types: ["token_embd.weight": .q4_K, "output.weight": .q6_K, "output_norm.weight": .f32,
                         "blk.0.attn_q.weight": .q4_0, "blk.1.attn_q.weight": .q5_K, "blk.2.attn_v.weight": .f16,
                         "blk.3.attn_v.weight": .f32, "blk.0.ffn_down.weight": .q6_K]),
        Expected(path: "tiny-qwen2-bpe/tiny-qwen2-bpe.gguf", architecture: "qwen2", tensors: 38, keys: 25,
                 vocab: 2003,
                 types: ["token_embd.weight": .q8_0, "output_norm.weight": .f32, "blk.0.attn_q.bias": .f32,
                         "blk.0.attn_output.weight": .q4_K, "blk.0.ffn_down.weight": .q6_K]),
    ]

    @Test("header, metadata and tensor table match the README", arguments: files)
    func parse(expected: Expected) throws {
        let path = try #require(GGUFTestFiles.reference(expected.path), "missing \(expected.path)")
        let file = try GGUFFile(path: path)
        #expect(file.version == 3)
        #expect(file.tensors.count == expected.tensors)
        #expect(file.metadata.count == expected.keys)
        #expect(file.metadataKeys.count == expected.keys)
        #expect(try file.string("general.architecture") == expected.architecture)
        #expect(try file.optionalStrings("tokenizer.ggml.tokens")?.count == expected.vocab)
        #expect(file.alignment == 32)
        #expect(file.dataOffset % 32 == 0)
        for (name, type) in expected.types {
            #expect(file.tensor(name)?.type == type, "\(name)")
        }
        #expect(file.tensor("output.weight") == nil || expected.architecture == "llama")
        let end = file.tensors.map { file.dataOffset + $0.offset + $0.byteCount }.max() ?? 0
        #expect(end <= file.fileSize)
        #expect(file.fileSize - end < 32, "only final padding follows the last tensor")
        #expect(Set(file.tensors.map(\.name)).count == file.tensors.count)
    }

    /// Rewriting a parsed file with `GGUFWriter` reproduces it byte for byte: same KV order, tensor
    /// order, offsets and padding as `gguf_write_to_buf`.
    @Test("GGUFWriter reproduces the reference file exactly", arguments: files)
    func rewriteIsIdentical(expected: Expected) throws {
        let path = try #require(GGUFTestFiles.reference(expected.path), "missing \(expected.path)")
        let file = try GGUFFile(path: path)
        var w = GGUFWriter(version: file.version, alignment: file.alignment)
        for key in file.metadataKeys { try w.add(key: key, file.metadata[key]!) }
        for info in file.tensors {
            let data = [UInt8](UnsafeRawBufferPointer(start: file.data(of: info), count: info.byteCount))
            try w.addTensor(name: info.name, ne: info.ne, type: info.type, data: data)
        }
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let rewritten = w.bytes()
        #expect(rewritten.count == original.count)
        #expect(rewritten == original)
    }
}
