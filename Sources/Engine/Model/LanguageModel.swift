import Foundation
import PrefixCache
import Tensor

/// A loaded model: the mapped GGUF file, its configuration, bound weights, tokenizer and forward pass.
///
/// NOTE: `@unchecked Sendable`: everything here is immutable after load except the transformer's scratch,
/// which one owner (the CLI loop or the engine thread) uses at a time.
public final class LanguageModel: @unchecked Sendable {
    public let path: String
    public let file: GGUFFile
    public let config: ModelConfig
    public let tokenizer: any Tokenizer
    public let transformer: Transformer
    public let summary: LoadSummary
    /// Identity of the model file (SHA-256 of the GGUF header and tensor table): seeds prefix-cache block
    /// hashes, so two processes serving the same file compute identical hashes and different models never
    /// share blocks.
    public let fingerprint: ModelFingerprint

    /// Loads and validates a GGUF model. `progress` receives human-readable stage messages.
    /// `threads`: the worker pool every kernel of this model runs on (built by the caller, e.g. from
    /// `--threads`; the default is the process-wide pool sized by `INFER_THREADS` or the core count).
    public init(path: String, maxBatch: Int = 64, threads: ThreadPool = .shared,
                progress: ((String) -> Void)? = nil) throws {
        let start = Date()
        progress?("loading \(path)")
        self.path = path
        do {
            file = try GGUFFile(path: path)
        } catch {
            throw EngineError(.loadFailed, "cannot load model \(path)", underlying: error)
        }
        config = try ModelConfig(file: file)
        progress?("binding \(file.tensors.count) tensors (\(config.architecture.rawValue), \(config.layerCount) layers)")
        var weights = try ModelWeights(file: file, config: config)
        let repackStart = Date()
        let repacked = weights.repack(threads: threads)
        if repacked > 0 {
            progress?(String(format: "repacked %.1f MiB of weights for the row-interleaved matmul in %.2f s",
                             Double(repacked) / 1_048_576, Date().timeIntervalSince(repackStart)))
        }
        progress?("loading tokenizer (\(config.vocabularySize) tokens)")
        tokenizer = try TokenizerLoader.load(from: file)
        transformer = Transformer(config: config, weights: weights, threads: threads, maxBatch: maxBatch)
        fingerprint = ModelFingerprint(digesting: file.headerBytes)
        summary = LoadSummary(file: file, config: config, threads: threads.threadCount,
                              seconds: Date().timeIntervalSince(start))
    }
}

/// What was loaded, for the one-line summary printed at start.
public struct LoadSummary: Sendable {
    public let architecture: String
    public let name: String?
    public let parameterCount: Int
    public let fileBytes: Int
    /// Tensor count per type, most frequent first.
    public let quantMix: [(type: GGMLType, count: Int)]
    public let threads: Int
    public let seconds: Double

    init(file: GGUFFile, config: ModelConfig, threads: Int, seconds: Double) {
        architecture = config.architecture.rawValue
        name = (try? file.optionalString("general.name")) ?? nil
        parameterCount = file.tensors.reduce(0) { $0 + $1.elementCount }
        fileBytes = file.fileSize
        var counts: [GGMLType: Int] = [:]
        for t in file.tensors { counts[t.type, default: 0] += 1 }
        quantMix = counts.map { ($0.key, $0.value) }.sorted { $0.count > $1.count || ($0.count == $1.count && $0.type.rawValue < $1.type.rawValue) }
        self.threads = threads
        self.seconds = seconds
    }

    /// e.g. `gemma3 "Gemma 3 270m": 268.1M params, 241.4 MiB, Q5_0 x81 F32 x109 ..., 2 threads, loaded in 0.09 s`.
    public var line: String {
        let params = String(format: "%.1fM", Double(parameterCount) / 1e6)
        let mib = String(format: "%.1f MiB", Double(fileBytes) / 1_048_576)
        let mix = quantMix.map { "\($0.type) x\($0.count)" }.joined(separator: ", ")
        let label = name.map { " \"\($0)\"" } ?? ""
        return "\(architecture)\(label): \(params) params, \(mib), tensors \(mix); \(threads) threads; loaded in \(String(format: "%.2f", seconds)) s"
    }
}
