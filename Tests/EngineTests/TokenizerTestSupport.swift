import Foundation
import Testing
import Tensor
@testable import Engine

/// Locations and cached tokenizers for the tokenizer tests.
///
/// The reference data lives in `../shared/reference` relative to the repository root (found by walking up
/// from this file to the directory holding `Package.swift`, then up its ancestors until one has
/// `shared/reference`). The Gemma model is `<repo>/models/gemma-3-270m-q4_k_m.gguf`.
enum TokenizerFixtures {
    static let repoRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }()

    static let referenceRoot: URL = {
        var dir = repoRoot.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("shared/reference")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference")
    }()

    static let gemmaModelPath = repoRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path

    /// One model with a reference folder.
    enum Model: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case gemma = "gemma3-270m"
        case llamaSPM = "tiny-llama-spm"
        case qwen2BPE = "tiny-qwen2-bpe"

        var testDescription: String { rawValue }

        var referencePath: String { referenceRoot.appendingPathComponent("\(rawValue)/reference.json").path }

        var ggufPath: String {
            switch self {
            case .gemma: return gemmaModelPath
            case .llamaSPM, .qwen2BPE: return referenceRoot.appendingPathComponent("\(rawValue)/\(rawValue).gguf").path
            }
        }
    }

    /// `reference.json`: the parts the tokenizer tests use.
    struct Reference: Decodable, Sendable {
        struct TokenizeCase: Decodable, Sendable {
            let text: String
            let ids_parse_special: [Int]
            let ids_plain: [Int]
        }
        struct CompleteCase: Decodable, Sendable {
            let prompt: String
            let prompt_ids: [Int]
        }
        let tokenize: [TokenizeCase]
        let complete: [CompleteCase]
    }

    static func reference(_ model: Model) throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: model.referencePath))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    /// Loads (once per process) the tokenizer of `model`. Throws a readable error when the file is missing;
    /// for Gemma that error says to run `models/install`.
    static func tokenizer(_ model: Model) throws -> any Tokenizer {
        switch model {
        case .gemma: return try gemma.get()
        case .llamaSPM: return try llamaSPM.get()
        case .qwen2BPE: return try qwen2BPE.get()
        }
    }

    struct MissingFixture: Error, CustomStringConvertible {
        let description: String
    }

    private static let gemma = loadResult(.gemma)
    private static let llamaSPM = loadResult(.llamaSPM)
    private static let qwen2BPE = loadResult(.qwen2BPE)

    private static func loadResult(_ model: Model) -> Result<any Tokenizer, any Error> {
        guard FileManager.default.fileExists(atPath: model.ggufPath) else {
            let hint = model == .gemma
                ? "Gemma model file \(model.ggufPath) is missing: run `models/install` in the repository root"
                : "reference model \(model.ggufPath) is missing"
            return .failure(MissingFixture(description: hint))
        }
        return Result { try TokenizerLoader.load(from: try GGUFFile(path: model.ggufPath)) }
    }
}

/// Metadata-only GGUF images for loader tests: a thin recording layer over `GGUFWriter`.
struct GGUFBytesBuilder {
    private var entries: [(String, GGUFValue)] = []

    mutating func string(_ key: String, _ value: String) { entries.append((key, .string(value))) }
    mutating func bool(_ key: String, _ value: Bool) { entries.append((key, .bool(value))) }
    mutating func uint32(_ key: String, _ value: UInt32) { entries.append((key, .uint32(value))) }
    mutating func strings(_ key: String, _ values: [String]) { entries.append((key, .array(.string, values.map { .string($0) }))) }
    mutating func int32s(_ key: String, _ values: [Int32]) { entries.append((key, .array(.int32, values.map { .int32($0) }))) }
    mutating func float32s(_ key: String, _ values: [Float]) { entries.append((key, .array(.float32, values.map { .float32($0) }))) }

    /// The file image (GGUF v3, no tensors).
    func bytes() throws -> [UInt8] {
        var writer = GGUFWriter()
        for (key, value) in entries { try writer.add(key: key, value) }
        return writer.bytes()
    }
}
