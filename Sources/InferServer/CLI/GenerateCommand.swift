import ArgumentParser
import Engine
import Foundation

/// `infer generate`: stream a continuation of a prompt.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate a continuation of a prompt (special tokens in it are parsed).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVCacheOptions
    @OptionGroup var speculativeOptions: SpeculativeOptions
    @OptionGroup var loraOptions: LoRAOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String?

    @Option(name: .long, help: "Read the prompt from this file instead.")
    var promptFile: String?

    @Option(name: .long, help: "Maximum tokens to generate.")
    var maxTokens: Int = 128

    @Option(name: .long, help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0.8

    @Option(name: .long, help: "Top-k (0 = off).")
    var topK: Int = 40

    @Option(name: .long, help: "Top-p (1 = off).")
    var topP: Float = 0.95

    @Option(name: .long, help: "Min-p (0 = off).")
    var minP: Float = 0.05

    @Option(name: .long, help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1.0

    @Option(name: .long, help: "Random seed (default: random).")
    var seed: UInt64?

    @Flag(name: .long, help: "Keep generating after an end-of-generation token.")
    var ignoreEos = false

    @Flag(name: .long, help: "Print one JSON object {prompt_tokens, tokens, text, finish_reason, decode_tokens_per_second, ...} instead of streaming text.")
    var json = false

    func validate() throws {
        guard (prompt == nil) != (promptFile == nil) else {
            throw ValidationError("give exactly one of --prompt or --prompt-file")
        }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be >= 0") }
        guard temperature >= 0, topP > 0, topP <= 1, minP >= 0, minP <= 1, repeatPenalty > 0 else {
            throw ValidationError("invalid sampling parameters")
        }
    }

    func run() throws {
        let text: String
        if let promptFile {
            guard let data = FileManager.default.contents(atPath: promptFile) else {
                throw ValidationError("cannot read --prompt-file \(promptFile)")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = prompt ?? ""
        }
        let model = try modelOptions.load()
        let promptTokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        var sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                          repetitionPenalty: repeatPenalty, seed: seed)
        if temperature <= 0 { sampling = .greedy }
        let options = GenerationOptions(maxTokens: maxTokens, sampling: sampling, stopAtEndOfGeneration: !ignoreEos,
                                        speculative: speculativeOptions.resolved())
        let generator = Generator(model: model, kvCacheDType: kvOptions.resolved(),
                                  adapter: try loraOptions.load(for: model, quiet: modelOptions.quiet))
        if !json { Console.out(text) }
        let result = try generator.generate(promptTokens: promptTokens, options: options) { piece in
            if !json { Console.out(piece) }
            return true
        }
        if json {
            struct Output: Encodable {
                let prompt_tokens: [Int]
                let tokens: [Int]
                let text: String
                let finish_reason: String
                let prefill_tokens_per_second: Double
                let decode_tokens_per_second: Double
                let decode_steps: Int
                let speculative: String
                let drafted_tokens: Int
                let accepted_tokens: Int
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try enc.encode(Output(
                prompt_tokens: result.promptTokens, tokens: result.tokens, text: result.text,
                finish_reason: result.finishReason.rawValue, prefill_tokens_per_second: result.prefillTokensPerSecond,
                decode_tokens_per_second: result.decodeTokensPerSecond, decode_steps: result.decodeSteps,
                speculative: options.speculative.rawValue, drafted_tokens: result.draftedTokens,
                accepted_tokens: result.acceptedTokens))
            Console.out(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            Console.out("\n")
        }
        if !modelOptions.quiet {
            Console.error(String(format: "[stats] prompt %d tokens in %.3f s (%.1f tok/s); generated %d tokens (%.1f tok/s decode); finish: %@; speculative %@: %d of %d drafted tokens accepted",
                                 result.promptTokens.count, result.prefillSeconds, result.prefillTokensPerSecond,
                                 result.tokens.count, result.decodeTokensPerSecond, result.finishReason.rawValue,
                                 options.speculative.rawValue, result.acceptedTokens, result.draftedTokens))
        }
    }
}
