import ArgumentParser
import Engine
import Foundation
import Tensor

/// Options shared by every subcommand that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Path to a GGUF model file.")
    var model: String

    @Option(name: .long, help: "Worker threads (default: INFER_THREADS or the number of cores).")
    var threads: Int?

    @Flag(name: .long, help: "Do not print the load progress and summary lines.")
    var quiet = false

    /// Loads the model, printing a progress line and a one-line summary to stderr.
    func load(maxBatch: Int = 64) throws -> LanguageModel {
        try Self.load(path: model, threads: threads, quiet: quiet, maxBatch: maxBatch)
    }

    /// Loads the model at `path` (see `load(maxBatch:)`).
    static func load(path model: String, threads: Int?, quiet: Bool, maxBatch: Int) throws -> LanguageModel {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        // The command builds the pool and hands it to the model (and, in `serve`, to the embedders).
        let pool = ThreadPool(threads: threads ?? ThreadPool.defaultThreadCount())
        let model = try LanguageModel(path: model, maxBatch: maxBatch, threads: pool) { message in
            if !quiet { Console.error("[load] \(message)") }
        }
        if !quiet { Console.error("[model] \(model.summary.line)") }
        return model
    }
}
