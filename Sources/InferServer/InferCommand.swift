import ArgumentParser
import Engine
import Foundation

/// The `infer` command-line tool: generate, tokenize, perplexity.
@main
struct InferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "A CPU inference engine for GGUF models (Gemma 3, Llama, Qwen2).",
        subcommands: [GenerateCommand.self, TokenizeCommand.self, PerplexityCommand.self, BenchCommand.self,
                      BenchPrefixCommand.self, ServeCommand.self, EmbedCommand.self]
    )
}

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
        if let threads {
            guard threads > 0 else { throw ValidationError("--threads must be positive") }
            setenv("INFER_THREADS", String(threads), 1)
        }
        let model = try LanguageModel(path: model, maxBatch: maxBatch) { message in
            if !quiet { Console.error("[load] \(message)") }
        }
        if !quiet { Console.error("[model] \(model.summary.line)") }
        return model
    }
}

/// stdout / stderr helpers that flush immediately (streamed text must appear as it is produced).
enum Console {
    static func out(_ s: String) {
        FileHandle.standardOutput.write(Data(s.utf8))
    }

    static func error(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}
