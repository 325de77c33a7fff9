import ArgumentParser
import Engine
import Foundation

/// `infer perplexity`: llama.cpp's perplexity method over a text file.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text file (chunks of --ctx tokens, each starting with BOS, second half scored).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVCacheOptions
    @OptionGroup var loraOptions: LoRAOptions

    @Option(name: .long, help: "Text file to score.")
    var file: String

    @Option(name: .long, help: "Tokens per chunk.")
    var ctx: Int = 512

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read --file \(file)")
        }
        let model = try modelOptions.load(maxBatch: 128)
        let text = String(decoding: data, as: UTF8.self)
        let tokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        Console.error("[perplexity] \(tokens.count) tokens, \(tokens.count / ctx) chunks of \(ctx)")
        let result = try Perplexity(model: model, kvCacheDType: kvOptions.resolved(),
                                adapter: try loraOptions.load(for: model, quiet: modelOptions.quiet)).evaluate(tokens: tokens, context: ctx) { chunk, total, ppl in
            Console.error(String(format: "[perplexity] chunk %d/%d: running PPL %.4f", chunk, total, ppl))
        }
        Console.error(String(format: "[perplexity] %d tokens scored in %.1f s", result.scoredTokens, result.seconds))
        Console.out(String(format: "PPL = %.4f +/- %.5f\n", result.perplexity, result.standardError))
    }
}
