import ArgumentParser
import Engine
import Foundation

/// `infer bench-prefix`: engine-level workloads (no HTTP) with the prefix cache on and off, batched and
/// one at a time.
struct BenchPrefixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-prefix",
        abstract: "Prefix-cache workloads (rag, chat, system): TTFT, tokens/s, requests/s, hit rate; cache on/off, batched/sequential.")

    enum Workload: String, ExpressibleByArgument, CaseIterable { case rag, chat, system }

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVCacheOptions

    @Option(name: .long, help: "rag | chat | system")
    var workload: Workload

    @Option(name: .long, help: "Concurrent requests in the batched runs.")
    var concurrency: Int = 4

    @Option(name: .long, help: "Tokens generated per request.")
    var maxTokens: Int = 16

    @Option(name: .long, help: "KV cache size in tokens.")
    var kvCacheTokens: Int = 32768

    @Option(name: .long, help: "KV cache size in GiB (overrides --kv-cache-tokens).")
    var kvCacheGib: Double?

    @Flag(name: .long, help: "Only run with the prefix cache off.")
    var noPrefixCache = false

    @Flag(name: .long, help: "Only run with the prefix cache on.")
    var onlyPrefixCache = false

    @Flag(name: .long, help: "Submit every request of a round at once (a burst the engine queues, --concurrency running) instead of keeping --concurrency in flight: the admission order then matters.")
    var burst = false

    @Option(name: .long, help: "Admission order: lpm | fcfs.")
    var schedulePolicy: SchedulePolicy = .longestPrefix

    @Option(name: .long, help: "Seconds after which a waiting request is admitted in arrival order (lpm).")
    var scheduleAging: Double = EngineOptions().scheduleAging

    @Option(name: .long, help: "Write the JSON results to this file (default bench/results/prefix-<workload>-<date>.json).")
    var output: String?

    struct RunResult: Codable {
        var cache: Bool
        var concurrency: Int
        var schedulePolicy: String = ""
        var scheduleAging: Double = 0
        var burst = false
        var requests: Int
        var seconds: Double
        var promptTokens: Int
        var cachedTokens: Int
        var generatedTokens: Int
        var prefillTokens: Int
        var ttftP50: Double
        var ttftP95: Double
        /// Median TTFT of requests that reused cached prefix tokens / that reused none.
        var ttftWarmP50: Double?
        var ttftColdP50: Double?
        var hitRate: Double { promptTokens > 0 ? Double(cachedTokens) / Double(promptTokens) : 0 }
        var tokensPerSecond: Double { Double(generatedTokens) / seconds }
        var requestsPerSecond: Double { Double(requests) / seconds }
    }

    func run() async throws {
        let model = try modelOptions.load(maxBatch: 128)
        let dtype = kvOptions.resolved()
        let kvTokens = kvCacheGib.map { EngineOptions.kvTokens(forGiB: $0, config: model.config, dtype: dtype) }
            ?? kvCacheTokens
        let workloads = try PrefixWorkloads(tokenizer: model.tokenizer)
        var results: [RunResult] = []
        guard !(noPrefixCache && onlyPrefixCache) else { throw ValidationError("--no-prefix-cache and --only-prefix-cache exclude each other") }
        let modes = noPrefixCache ? [false] : onlyPrefixCache ? [true] : [true, false]
        let configs: [(Bool, Int)] = modes.flatMap { [($0, concurrency), ($0, 1)] }
        for (cacheOn, n) in configs {
            var options = EngineOptions(kvCacheTokens: kvTokens, maxBatchTokens: 128, maxRunning: max(n, 1),
                                        prefixCaching: cacheOn, kvCacheDType: dtype)
            options.schedulePolicy = schedulePolicy
            options.scheduleAging = scheduleAging
            let engine = try InferenceEngine(model: model, options: options)
            var r = try await runWorkload(engine, workloads, cache: cacheOn, concurrency: n)
            r.schedulePolicy = schedulePolicy.rawValue
            r.scheduleAging = scheduleAging
            r.burst = burst
            engine.shutdown()
            results.append(r)
            Console.error(String(format: "[bench-prefix] %@ \(schedulePolicy.rawValue) aging \(scheduleAging)\(burst ? " burst" : "") cache %@ concurrency %d: %.1f s, TTFT p50 %.3f s p95 %.3f s, %.1f gen tok/s, %.2f req/s, hit rate %.1f %%, prefill %d tokens",
                                 workload.rawValue, cacheOn ? "on " : "off", n, r.seconds, r.ttftP50, r.ttftP95,
                                 r.tokensPerSecond, r.requestsPerSecond, r.hitRate * 100, r.prefillTokens))
        }
        let baseline = results.first { !$0.cache && $0.concurrency == 1 }
        Console.out("| workload | cache | concurrency | TTFT p50 s | TTFT p95 s | warm / cold TTFT p50 s | gen tok/s | req/s | hit rate | prefill tokens | speed-up vs off/sequential |\n")
        Console.out("|---|---|---|---|---|---|---|---|---|---|---|\n")
        for r in results {
            let speedup = baseline.map { r.requestsPerSecond / $0.requestsPerSecond } ?? 1
            let wc = (r.ttftWarmP50.map { String(format: "%.3f", $0) } ?? "-") + " / "
                + (r.ttftColdP50.map { String(format: "%.3f", $0) } ?? "-")
            Console.out(String(format: "| %@ | %@ | %d | %.3f | %.3f | %@ | %.1f | %.2f | %.1f %% | %d | %.2fx |\n",
                               workload.rawValue, r.cache ? "on" : "off", r.concurrency, r.ttftP50, r.ttftP95, wc,
                               r.tokensPerSecond, r.requestsPerSecond, r.hitRate * 100, r.prefillTokens, speedup))
        }
        let path = output ?? "bench/results/prefix-\(workload.rawValue)-\(ISO8601DateFormatter().string(from: Date()).prefix(10)).json"
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Report: Encodable {
            let workload: String
            let model: String
            let maxTokens: Int
            let runs: [RunResult]
        }
        try enc.encode(Report(workload: workload.rawValue, model: modelOptions.model, maxTokens: maxTokens, runs: results))
            .write(to: URL(fileURLWithPath: path))
        Console.error("[bench-prefix] wrote \(path)")
    }

    /// Runs the workload on `engine` with at most `concurrency` requests in flight.
    func runWorkload(_ engine: InferenceEngine, _ w: PrefixWorkloads, cache: Bool, concurrency: Int) async throws -> RunResult {
        let start = Date()
        var summaries: [GenerationSummary] = []
        switch workload {
        case .rag:
            summaries = try await runBatch(engine, prompts: w.rag(), concurrency: concurrency).map(\.summary)
        case .system:
            summaries = try await runBatch(engine, prompts: w.system(), concurrency: concurrency).map(\.summary)
        case .chat:
            let conversations = 16, turns = 6
            var history = (0..<conversations).map { w.chatOpening($0) + w.text("\nAssistant:") }
            for turn in 0..<turns {
                if turn > 0 { for c in 0..<conversations { history[c] += w.chatFollowUp(c, turn: turn) } }
                let outs = try await runBatch(engine, prompts: history, concurrency: concurrency)
                for c in 0..<conversations { history[c] += outs[c].tokens }
                summaries += outs.map(\.summary)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let ttfts = summaries.compactMap(\.timeToFirstToken).sorted()
        func pct(_ p: Double) -> Double { ttfts.isEmpty ? 0 : ttfts[min(ttfts.count - 1, Int(Double(ttfts.count) * p))] }
        func median(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.sorted()[xs.count / 2] }
        let warm = median(summaries.filter { $0.cachedTokens > 0 }.compactMap(\.timeToFirstToken))
        let cold = median(summaries.filter { $0.cachedTokens == 0 }.compactMap(\.timeToFirstToken))
        return RunResult(cache: cache, concurrency: concurrency, requests: summaries.count, seconds: seconds,
                         promptTokens: summaries.reduce(0) { $0 + $1.promptTokens },
                         cachedTokens: summaries.reduce(0) { $0 + $1.cachedTokens },
                         generatedTokens: summaries.reduce(0) { $0 + $1.generatedTokens },
                         prefillTokens: engine.stats().prefillTokens, ttftP50: pct(0.5), ttftP95: pct(0.95),
                         ttftWarmP50: warm, ttftColdP50: cold)
    }

    /// Runs `prompts` in order with at most `concurrency` in flight; results in prompt order.
    func runBatch(_ engine: InferenceEngine, prompts: [[Int]], concurrency: Int) async throws -> [(tokens: [Int], summary: GenerationSummary)] {
        let maxTokens = self.maxTokens
        return try await withThrowingTaskGroup(of: (Int, [Int], GenerationSummary).self) { group in
            var next = 0
            var results = [([Int], GenerationSummary)?](repeating: nil, count: prompts.count)
            func launch(_ i: Int) {
                let request = GenerationRequest(promptTokens: prompts[i], maxTokens: maxTokens, sampling: .greedy,
                                                stopAtEndOfGeneration: false)
                group.addTask {
                    var tokens: [Int] = []
                    for try await event in engine.submit(request) {
                        switch event {
                        case .token(let t): tokens.append(t.id)
                        case .finished(let s): return (i, tokens, s)
                        }
                    }
                    throw BenchError("request \(i) ended without a summary")
                }
            }
            let inFlight = burst ? prompts.count : concurrency
            var progress = ProgressBar("[bench-prefix] \(workload.rawValue) cache \(engine.options.prefixCaching ? "on" : "off") "
                                       + "x\(concurrency)", total: prompts.count)
            while next < min(inFlight, prompts.count) { launch(next); next += 1 }
            while let (i, tokens, summary) = try await group.next() {
                results[i] = (tokens, summary)
                progress.advance()
                if next < prompts.count { launch(next); next += 1 }
            }
            return results.map { ($0!.0, $0!.1) }
        }
    }
}
