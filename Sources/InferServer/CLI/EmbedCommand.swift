import ArgumentParser
import Engine
import Foundation
import Tensor

/// `infer embed`: sentence embeddings of one or more texts with a local sentence-transformers model.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print sentence embeddings of TEXT... (mean-pooled, L2-normalised) from a sentence-transformers folder.")

    @Option(name: .long, help: "Model folder (config.json, model.safetensors, tokenizer.json), e.g. models/all-MiniLM-L6-v2.")
    var modelDir: String

    @Option(name: .long, help: "Worker threads (default: INFER_THREADS or the number of cores).")
    var threads: Int?

    @Flag(name: .long, help: "Print one JSON object {model, dimensions, data: [{index, tokens, embedding}]}.")
    var json = false

    @Option(name: .long, help: "Values shown per text in the plain output.")
    var show = 8

    @Option(name: .customLong("repeat"), help: "Embed the texts this many times and report the fastest run (timing).")
    var repetitions: Int = 1

    @Argument(help: "The texts to embed.")
    var texts: [String]

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        if texts.isEmpty { throw ValidationError("give at least one TEXT") }
        if repetitions < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        let embedder = try SentenceEmbedder(directory: modelDir,
                                            threads: ThreadPool(threads: threads ?? ThreadPool.defaultThreadCount()))
        let tokenCounts = texts.map { embedder.tokenize($0).count }
        var vectors: [[Float]] = []
        var elapsed = Duration.seconds(Int64.max)
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            vectors = embedder.embed(texts)
            elapsed = min(elapsed, ContinuousClock.now - start)
        }
        if json {
            let data: [[String: Any]] = vectors.enumerated().map { i, v in
                ["index": i, "tokens": tokenCounts[i], "embedding": v.map(Double.init)]
            }
            let object: [String: Any] = ["model": embedder.modelName, "dimensions": embedder.dimensions, "data": data]
            let bytes = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            Console.out(String(decoding: bytes, as: UTF8.self) + "\n")
            return
        }
        for (i, v) in vectors.enumerated() {
            let head = v.prefix(show).map { String(format: "%.6f", $0) }.joined(separator: ", ")
            Console.out("[\(i)] \(tokenCounts[i]) tokens: [\(head)\(v.count > show ? ", ..." : "")] \(texts[i].prefix(60).debugDescription)\n")
        }
        Console.error("[embed] \(embedder.modelName): \(texts.count) texts, \(tokenCounts.reduce(0, +)) tokens, \(embedder.dimensions) dims, \(elapsed)"
                      + (repetitions > 1 ? " (fastest of \(repetitions))" : ""))
    }
}
