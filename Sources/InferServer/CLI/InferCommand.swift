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
