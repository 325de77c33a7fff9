import ArgumentParser
import Engine
import Foundation

/// `infer bench`: prompt-processing and decode throughput, llama-bench style (pp / tg on random tokens).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing (pp) and decode (tg) tokens/s, like llama-bench.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVCacheOptions

    @Option(name: [.customShort("p"), .long], help: "Prompt tokens for the pp test (0 = skip).")
    var prompt: Int = 512

    @Option(name: [.customShort("n"), .long], help: "Generated tokens for the tg test (0 = skip).")
    var generate: Int = 128

    @Option(name: [.customShort("r"), .long], help: "Repetitions (after one warm-up run).")
    var repetitions: Int = 5

    @Option(name: [.customShort("b"), .long], help: "Tokens per forward call during prompt processing.")
    var batch: Int = 64

    @Option(name: [.customShort("d"), .long], help: "Context depth: tokens already in the KV cache before each test.")
    var depth: Int = 0

    @Flag(name: .long, help: "Print the result as one JSON object on the last line.")
    var json = false

    func validate() throws {
        guard prompt >= 0, generate >= 0, prompt + generate > 0 else { throw ValidationError("nothing to measure") }
        guard repetitions >= 1 else { throw ValidationError("-r must be >= 1") }
        guard batch >= 1 else { throw ValidationError("-b must be >= 1") }
        guard depth >= 0 else { throw ValidationError("-d must be >= 0") }
    }

    func run() throws {
        let model = try modelOptions.load(maxBatch: batch)
        let tf = model.transformer
        guard depth + prompt + 1 <= model.config.contextLength, depth + generate + 1 <= model.config.contextLength else {
            throw ValidationError("-p / -n exceed the model context \(model.config.contextLength)")
        }
        try kvOptions.resolved().check(headDim: model.config.headDim)
        var rng = SystemRandomNumberGenerator()
        let vocab = model.config.vocabularySize
        let cache = tf.makeCache(capacity: depth + max(prompt, generate) + 1, dtype: kvOptions.resolved())
        let generator = Generator(model: model, kvCacheDType: kvOptions.resolved())
        // The depth prefix is computed once and kept; each test truncates back to it.
        if depth > 0 {
            _ = generator.prefill((0..<depth).map { _ in Int.random(in: 0..<vocab, using: &rng) }, cache: cache)
        }

        func timePrompt() -> Double {
            let tokens = (0..<prompt).map { _ in Int.random(in: 0..<vocab, using: &rng) }
            cache.truncate(to: depth)
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = generator.prefill(tokens, cache: cache)
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        func timeDecode() -> Double {
            cache.truncate(to: depth)
            var token = model.tokenizer.bosID ?? 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<generate {
                let logits = tf.forward([token][...], cache: cache, outputRows: 0..<1)
                token = Int(logits[0].bitPattern % UInt32(vocab))   // data-dependent, cheap
            }
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }

        var pp: [Double] = [], tg: [Double] = []
        for rep in 0...repetitions {
            if prompt > 0 {
                let s = timePrompt()
                if rep > 0 { pp.append(Double(prompt) / s) }
            }
            if generate > 0 {
                let s = timeDecode()
                if rep > 0 { tg.append(Double(generate) / s) }
            }
            if rep > 0 && !modelOptions.quiet {
                Console.error("[bench] run \(rep)/\(repetitions)"
                              + (pp.last.map { String(format: ": pp%d %.1f tok/s", prompt, $0) } ?? "")
                              + (tg.last.map { String(format: ", tg%d %.1f tok/s", generate, $0) } ?? ""))
            }
        }
        let threads = tf.threadPool.threadCount
        let ppStats = BenchStats(pp), tgStats = BenchStats(tg)
        Console.out("| model | test | threads | t/s (median) | spread |\n|---|---|---|---|---|\n")
        let name = URL(fileURLWithPath: modelOptions.model).lastPathComponent + (depth > 0 ? " @ d\(depth)" : "")
        if prompt > 0 {
            Console.out(String(format: "| %@ | pp%d | %d | %.1f | ± %.1f |\n", name, prompt, threads, ppStats.median, ppStats.spread))
        }
        if generate > 0 {
            Console.out(String(format: "| %@ | tg%d | %d | %.1f | ± %.1f |\n", name, generate, threads, tgStats.median, tgStats.spread))
        }
        if json {
            var obj: [String: Any] = ["threads": threads, "model": name, "batch": batch, "repetitions": repetitions,
                                      "depth": depth]
            if prompt > 0 { obj["pp"] = ppStats.median; obj["pp_runs"] = pp; obj["pp_tokens"] = prompt }
            if generate > 0 { obj["tg"] = tgStats.median; obj["tg_runs"] = tg; obj["tg_tokens"] = generate }
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            Console.out(String(decoding: data, as: UTF8.self) + "\n")
        }
    }
}
