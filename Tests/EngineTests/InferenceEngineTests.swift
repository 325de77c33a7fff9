import Foundation
import Testing
@testable import Engine

/// The serving engine end to end on the real tiny models: prefix hits, in-flight sharing, cancellation,
/// preemption and batching.
@Suite("InferenceEngine", .serialized)
struct InferenceEngineTests {
    static func load(_ folder: String = "tiny-qwen2-bpe") throws -> LanguageModel {
        try LanguageModel(path: try TestPaths.require(TestPaths.model(for: folder)), maxBatch: 128)
    }

    /// Deterministic pseudo-random prompt of `n` ordinary token ids.
    static func prompt(_ n: Int, seed: UInt64, vocab: Int = 1900) -> [Int] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return 3 + Int(x % UInt64(vocab - 3))
        }
    }

    struct Outcome {
        var tokens: [Int] = []
        var logprobs: [Float] = []
        var top: [[(id: Int, logprob: Float)]] = []
        var text = ""
        var summary: GenerationSummary?
    }

    static func collect(_ stream: AsyncThrowingStream<GenerationEvent, any Error>, stopAfter: Int? = nil) async throws -> Outcome {
        var out = Outcome()
        for try await event in stream {
            switch event {
            case .token(let t):
                out.tokens.append(t.id)
                out.text += t.text
                if let lp = t.logprob { out.logprobs.append(lp) }
                out.top.append(t.top)
                if let stopAfter, out.tokens.count >= stopAfter { return out }
            case .finished(let s):
                out.summary = s
                out.text += s.trailingText
            }
        }
        return out
    }

    static func greedy(_ prompt: [Int], max: Int = 8, salt: String? = nil) -> GenerationRequest {
        GenerationRequest(promptTokens: prompt, maxTokens: max, sampling: .greedy, stopAtEndOfGeneration: false,
                          cacheSalt: salt, logprobs: true, topLogprobs: 5)
    }

    @Test("an engine released without shutdown() stops its thread in deinit (idle, or right after a request)")
    func releasedWithoutShutdown() async throws {
        let model = try Self.load()
        for i in 0..<4 {
            var engine: InferenceEngine? = try InferenceEngine(model: model, options: EngineOptions(kvCacheTokens: 1024))
            if i % 2 == 1 {
                let out = try await Self.collect(engine!.submit(Self.greedy(Self.prompt(20, seed: UInt64(i)), max: 3)))
                #expect(out.tokens.count == 3)
            }
            engine = nil   // deinit shuts the loop down (the thread once trapped on an unowned self here)
        }
    }

    /// Waits (bounded) until the engine has no running or waiting sequence.
    static func settle(_ engine: InferenceEngine) async throws {
        for _ in 0..<2000 {
            let s = engine.stats()
            if s.running == 0 && s.waiting == 0 { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("engine did not settle")
    }

    @Test(arguments: KVCacheDType.allCases)
    func prefixHitLogitsEqualColdLogits(dtype: KVCacheDType) async throws {
        let engine = try InferenceEngine(model: try Self.load(),
                                         options: EngineOptions(kvCacheTokens: 8192, kvCacheDType: dtype))
        defer { engine.shutdown() }
        let shared = Self.prompt(300, seed: 1)
        let cold = try await Self.collect(engine.submit(Self.greedy(shared + [17, 18, 19])))
        #expect(cold.summary?.cachedTokens == 0)
        let warm = try await Self.collect(engine.submit(Self.greedy(shared + [17, 18, 19])))
        #expect(warm.summary?.cachedTokens == 288, "cached \(String(describing: warm.summary?.cachedTokens))")
        #expect(warm.tokens == cold.tokens)
        var worst: Float = 0
        for (a, b) in zip(cold.top, warm.top) {
            for (x, y) in zip(a, b) {
                #expect(x.id == y.id)
                worst = max(worst, abs(x.logprob - y.logprob))
            }
        }
        for (a, b) in zip(cold.logprobs, warm.logprobs) { worst = max(worst, abs(a - b)) }
        print("[engine] prefix hit vs cold: max |Δ logprob| \(worst)")
        #expect(worst <= 1e-3)
        // A different salt must not hit.
        let salted = try await Self.collect(engine.submit(Self.greedy(shared + [17, 18, 19], salt: "tenant-b")))
        #expect(salted.summary?.cachedTokens == 0)
    }

    @Test func concurrentRequestsShareAnInFlightPrefix() async throws {
        let engine = try InferenceEngine(model: try Self.load(), options: EngineOptions(kvCacheTokens: 16384))
        defer { engine.shutdown() }
        let shared = Self.prompt(2048, seed: 2)
        async let a = Self.collect(engine.submit(Self.greedy(shared + [21, 22], max: 4)))
        async let b = Self.collect(engine.submit(Self.greedy(shared + [31, 32, 33], max: 4)))
        let (ra, rb) = try await (a, b)
        let stats = engine.stats()
        print("[engine] two requests with a 2048-token shared prefix: prefill tokens \(stats.prefillTokens), "
              + "cached \(ra.summary?.cachedTokens ?? -1) / \(rb.summary?.cachedTokens ?? -1)")
        // Computed once: 2048 shared + the two short suffixes, not 2 x 2048.
        #expect(stats.prefillTokens < 2048 + 64)
        #expect(max(ra.summary?.cachedTokens ?? 0, rb.summary?.cachedTokens ?? 0) == 2048)
        #expect(ra.tokens.count == 4 && rb.tokens.count == 4)
    }

    @Test func multiTurnConversationHitsItsPreviousAnswer() async throws {
        let engine = try InferenceEngine(model: try Self.load(), options: EngineOptions(kvCacheTokens: 8192))
        defer { engine.shutdown() }
        let turn1 = Self.prompt(100, seed: 3)
        let first = try await Self.collect(engine.submit(Self.greedy(turn1, max: 40)))
        let turn2 = turn1 + first.tokens + Self.prompt(20, seed: 4)
        let second = try await Self.collect(engine.submit(Self.greedy(turn2, max: 2)))
        // The answer's full blocks were registered during decode: the hit reaches past the first prompt.
        let cached = second.summary?.cachedTokens ?? 0
        print("[engine] multi-turn: turn 2 reused \(cached) of \(turn2.count) tokens")
        #expect(cached >= (turn1.count + first.tokens.count - 1) / 16 * 16 - 16)
        #expect(cached > turn1.count)
    }

    @Test func cancellingAStreamReturnsEveryBlock() async throws {
        let engine = try InferenceEngine(model: try Self.load(), options: EngineOptions(kvCacheTokens: 4096))
        defer { engine.shutdown() }
        let partial = try await Self.collect(engine.submit(Self.greedy(Self.prompt(500, seed: 5), max: 1000)),
                                             stopAfter: 3)
        #expect(partial.tokens.count == 3)
        try await Self.settle(engine)
        let stats = try #require(engine.stats().prefix)
        #expect(stats.blocksInUse == 0, "blocks still held: \(stats.blocksInUse)")
        #expect(stats.sequences == 0)
    }

    @Test func preemptionUnderAFullPoolStillCompletesEveryRequestWithTheSameTokens() async throws {
        let model = try Self.load()
        let prompts = (0..<4).map { Self.prompt(200, seed: 10 + UInt64($0)) }
        // Reference: each alone in a roomy engine.
        let roomy = try InferenceEngine(model: model, options: EngineOptions(kvCacheTokens: 8192, prefixCaching: false))
        var alone: [[Int]] = []
        for p in prompts { alone.append(try await Self.collect(roomy.submit(Self.greedy(p, max: 24))).tokens) }
        roomy.shutdown()
        // Tight pool: 4 x 224 tokens do not fit in 512, so sequences are preempted and recomputed.
        let tight = try InferenceEngine(model: model, options: EngineOptions(kvCacheTokens: 512))
        defer { tight.shutdown() }
        let results = try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            for (i, p) in prompts.enumerated() {
                group.addTask { (i, try await Self.collect(tight.submit(Self.greedy(p, max: 24)))) }
            }
            var out = [Outcome](repeating: Outcome(), count: prompts.count)
            for try await (i, o) in group { out[i] = o }
            return out
        }
        for (i, r) in results.enumerated() {
            #expect(r.tokens == alone[i], "request \(i) differs under preemption/batching")
            #expect(r.summary?.finishReason == .length)
        }
        print("[engine] tight pool: \(tight.stats().preemptions) preemptions")
    }

    @Test func rejectsRequestsThatCanNeverFit() async throws {
        let engine = try InferenceEngine(model: try Self.load(), options: EngineOptions(kvCacheTokens: 256))
        defer { engine.shutdown() }
        await #expect(throws: EngineError.self) {
            _ = try await Self.collect(engine.submit(Self.greedy(Self.prompt(600, seed: 6))))
        }
        await #expect(throws: EngineError.self) {
            _ = try await Self.collect(engine.submit(Self.greedy([])))
        }
        // The engine keeps serving.
        let ok = try await Self.collect(engine.submit(Self.greedy(Self.prompt(50, seed: 7), max: 3)))
        #expect(ok.tokens.count == 3)
    }
}
