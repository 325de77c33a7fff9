import ArgumentParser
import Engine

/// `--lora PATH [--lora-scale S]` of the single-sequence commands (`generate`, `perplexity`): llama.cpp's
/// `--lora` / `--lora-scaled`, one adapter.
struct LoRAOptions: ParsableArguments {
    @Option(name: .long, help: "A LoRA adapter in llama.cpp's GGUF format, applied to every token.")
    var lora: String?

    @Option(name: .long, help: "Multiplier of the adapter's update (llama.cpp --lora-scaled; default 1).")
    var loraScale: Float = 1

    func validate() throws {
        guard loraScale.isFinite else { throw ValidationError("--lora-scale must be a finite number") }
        if lora == nil, loraScale != 1 { throw ValidationError("--lora-scale needs --lora") }
    }

    /// The adapter validated against `model`, or nil without `--lora`.
    func load(for model: LanguageModel, quiet: Bool) throws -> LoRAAdapter? {
        guard let lora else { return nil }
        let adapter = try LoRAAdapter(path: lora, config: model.config, scale: loraScale)
        if !quiet {
            Console.error("[lora] \(lora): \(adapter.matrixCount) matrices, rank \(adapter.rank), alpha \(adapter.alpha), scale \(adapter.scale)")
        }
        return adapter
    }
}
