import ArgumentParser
import Engine

/// `--speculative`, shared by `serve` and `generate`.
struct SpeculativeOptions: ParsableArguments {
    @Option(name: .long, help: "Speculative decoding: ngram (prompt-lookup drafts verified in one batched pass; output unchanged) | off (default: serve: general_settings.speculative or ngram; generate: ngram).")
    var speculative: SpeculativeMode?

    /// The flag, else the config's value, else the default.
    func resolved(config: SpeculativeMode? = nil) -> SpeculativeMode { speculative ?? config ?? SpeculativeMode.defaultMode }
}

extension SpeculativeMode: ExpressibleByArgument {}
