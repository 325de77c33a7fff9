import Foundation
import Testing
@testable import Engine

/// Prompt-lookup speculative decoding: the drafter, the per-sequence draft control, and the guarantee that
/// matters: the output is what plain decoding gives (token for token when greedy, the same distribution when
/// sampling), in the single-sequence generator and under continuous batching.
@Suite("SpeculativeDecoding", .serialized)
struct SpeculativeDecodingTests {
    // MARK: - Drafter and draft control

    @Test func draftsContinueTheNewestEarlierOccurrenceOfTheLongestSuffix() {
        let d = NgramDrafter(maxNgram: 3, minNgram: 2)
        // Suffix [7, 8, 9] occurs at 0 (followed by 1, 2) and at 5 (followed by 4, 4): the newest wins.
        #expect(d.draft([7, 8, 9, 1, 2, 7, 8, 9, 4, 4, 7, 8, 9], count: 2) == [4, 4])
        // Only a 2-gram matches ([5, 6] at 0); the draft stops at the end of the sequence.
        #expect(d.draft([5, 6, 3, 9, 5, 6], count: 10) == [3, 9, 5, 6])
        // Unigrams are below minNgram: no draft.
        #expect(d.draft([1, 2, 3, 4, 3], count: 4) == [])
        #expect(d.draft([1, 2], count: 4) == [])
        #expect(d.draft([1, 2, 1, 2], count: 0) == [])
        // The window bounds the search: the only occurrence is too far back.
        let far = NgramDrafter(maxNgram: 2, minNgram: 2, searchWindow: 3)
        #expect(far.draft([4, 5, 6, 0, 0, 0, 0, 4, 5], count: 1) == [])
        #expect(NgramDrafter(maxNgram: 2, minNgram: 2, searchWindow: 8).draft([4, 5, 6, 0, 0, 0, 0, 4, 5], count: 1) == [6])
    }

    @Test func draftLengthGrowsWhenAcceptedShrinksWhenNotAndPausesWhenAcceptanceIsLow() {
        var s = SpeculationState()
        #expect(s.wanted() == 4)
        s.record(drafted: 4, accepted: 4)
        #expect(s.wanted() == 8)
        s.record(drafted: 8, accepted: 8)
        #expect(s.wanted() == SpeculationState.maxDraft)
        s.record(drafted: 8, accepted: 2)
        #expect(s.wanted() == 3)
        // Low acceptance over a window of 16 drafted tokens: drafting pauses for 16 tokens, then resumes short.
        var low = SpeculationState()
        for _ in 0..<4 { low.record(drafted: 4, accepted: 0) }
        for _ in 0..<16 { #expect(low.wanted() == 0) }
        #expect(low.wanted() == 2)
        // A second low window pauses twice as long.
        for _ in 0..<8 { low.record(drafted: 2, accepted: 0) }
        var paused = 0
        while low.wanted() == 0 { paused += 1 }
        #expect(paused == 32)
        #expect(low.drafted == 32 && low.accepted == 0)
    }

    // MARK: - Greedy output is unchanged

    static func gemma() throws -> LanguageModel {
        try LanguageModel(path: try TestPaths.require(TestPaths.gemma), maxBatch: 128)
    }

    /// Prompts whose continuation copies from the prompt (so drafts are accepted), plus ordinary ones.
    static let groundedPrompts = [
        "Repeat the text exactly.\nText: The licensee may copy and distribute verbatim copies of the Program's source code as received, in any medium, provided that each copy carries an appropriate copyright notice.\nRepeat: The licensee may copy",
        "def area(width, height):\n    return width * height\n\ndef perimeter(width, height):\n    return 2 * (width + height)\n\n# The same two functions again:\ndef area(width, height):\n",
        "Numbers: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5,",
    ]

    static func referencePrompts() throws -> [String] {
        let data = try Data(contentsOf: TestPaths.referenceFile("gemma3-270m", "reference.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let complete = try #require(json["complete"] as? [[String: Any]])
        return complete.compactMap { $0["prompt"] as? String }
    }

    @Test func generatorGreedyOutputIsIdenticalWithSpeculation() async throws {
        let model = try Self.gemma()
        let prompts = try Self.referencePrompts() + Self.groundedPrompts
        #expect(prompts.count >= 8)
        let (accepted, drafted) = try await offCooperativePool { () -> (Int, Int) in
            let generator = Generator(model: model, kvCacheDType: .f16)
            var accepted = 0, drafted = 0
            for prompt in prompts {
                let ids = model.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
                func run(_ mode: SpeculativeMode) throws -> GenerationResult {
                    try generator.generate(promptTokens: ids, options: GenerationOptions(
                        maxTokens: 48, sampling: .greedy, stopAtEndOfGeneration: false, speculative: mode))
                }
                let plain = try run(.off), spec = try run(.ngram)
                #expect(spec.tokens == plain.tokens, "prompt \(prompt.prefix(40))")
                #expect(spec.text == plain.text)
                #expect(plain.draftedTokens == 0 && plain.decodeSteps == plain.tokens.count - 1)
                #expect(spec.decodeSteps == spec.tokens.count - 1 - spec.acceptedTokens)
                accepted += spec.acceptedTokens
                drafted += spec.draftedTokens
            }
            return (accepted, drafted)
        }
        // The grounded prompts must actually exercise acceptance (else the comparison proves nothing).
        #expect(accepted >= 40, "accepted \(accepted) of \(drafted) drafted")
    }

    @Test func engineGreedyOutputIsIdenticalWithSpeculationUnderBatching() async throws {
        let model = try Self.gemma()
        let prompts = Self.groundedPrompts + (try Self.referencePrompts().prefix(3))
        func run(_ mode: SpeculativeMode) async throws -> ([[Int]], EngineStats) {
            var options = EngineOptions(kvCacheTokens: 8192, kvCacheDType: .f16)
            options.speculative = mode
            let engine = try InferenceEngine(model: model, options: options)
            defer { engine.shutdown() }
            // All at once: they decode in one batch, drafts riding along with other sequences' tokens.
            let outs = try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
                for (i, prompt) in prompts.enumerated() {
                    let ids = model.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
                    let stream = try engine.submit(GenerationRequest(promptTokens: ids, maxTokens: 40, sampling: .greedy,
                                                                     stopAtEndOfGeneration: false))
                    group.addTask { (i, try await InferenceEngineTests.collect(stream).tokens) }
                }
                var outs = [[Int]](repeating: [], count: prompts.count)
                for try await (i, t) in group { outs[i] = t }
                return outs
            }
            try await InferenceEngineTests.settle(engine)
            return (outs, engine.stats())
        }
        let (plain, plainStats) = try await run(.off)
        let (spec, specStats) = try await run(.ngram)
        for i in prompts.indices { #expect(spec[i] == plain[i], "prompt \(i)") }
        #expect(plain.allSatisfy { $0.count == 40 })
        #expect(plainStats.draftedTokens == 0)
        #expect(specStats.acceptedDraftTokens >= 20, "accepted \(specStats.acceptedDraftTokens) of \(specStats.draftedTokens)")
        #expect(specStats.steps < plainStats.steps)
        // Every block went back: nothing leaked by rejected drafts.
        #expect(specStats.prefix?.blocksInUse == 0 && specStats.prefix?.sequences == 0)
    }

    // MARK: - Sampling keeps its distribution

    /// Draws `n` 4-token continuations of a short prompt from the tiny model with two tokens boosted, so that
    /// the drafts (always those two tokens, in turn) are accepted often but not always, and counts them.
    static func draws(_ mode: SpeculativeMode, n: Int, model: LanguageModel) throws -> (counts: [[Int]: Int], accepted: Int, drafted: Int) {
        let (a, b) = (310, 311)
        let prompt = [1, 400, 401, 402, 403]
        var generator = Generator(model: model, kvCacheDType: .f32)
        generator.draftOverride = { history, count in
            (0..<count).map { (history.count + $0) % 2 == 0 ? a : b }
        }
        var counts: [[Int]: Int] = [:]
        var accepted = 0, drafted = 0
        for i in 0..<n {
            let sampling = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, logitBias: [a: 8, b: 8],
                                              seed: UInt64(i) &* 0x9E37_79B9 &+ (mode == .off ? 1 : 2))
            let r = try generator.generate(promptTokens: prompt, options: GenerationOptions(
                maxTokens: 4, sampling: sampling, stopAtEndOfGeneration: false, speculative: mode))
            counts[r.tokens, default: 0] += 1
            accepted += r.acceptedTokens
            drafted += r.draftedTokens
        }
        return (counts, accepted, drafted)
    }

    @Test func sampledContinuationsFollowTheSameDistribution() async throws {
        let model = try InferenceEngineTests.load("tiny-llama-spm")
        let n = 2500
        let (plain, spec) = try await offCooperativePool {
            (try Self.draws(.off, n: n, model: model), try Self.draws(.ngram, n: n, model: model))
        }
        #expect(plain.drafted == 0)
        // Speculation really ran, and both outcomes of verification happened often.
        #expect(spec.drafted > n && spec.accepted > n / 10 && spec.drafted - spec.accepted > n / 4,
                "accepted \(spec.accepted) of \(spec.drafted)")
        // Two-sample chi-square over the continuations seen at least 10 times in total (the rest pooled).
        var keys = Set(plain.counts.keys).union(spec.counts.keys)
        var pooled = (0, 0)
        for k in keys where plain.counts[k, default: 0] + spec.counts[k, default: 0] < 10 {
            pooled.0 += plain.counts[k, default: 0]
            pooled.1 += spec.counts[k, default: 0]
            keys.remove(k)
        }
        var cells = keys.map { (plain.counts[$0, default: 0], spec.counts[$0, default: 0]) }
        if pooled.0 + pooled.1 > 0 { cells.append(pooled) }
        #expect(cells.count >= 10, "only \(cells.count) categories: the test would be weak")
        var chi2 = 0.0
        for (a, b) in cells {
            // Equal sample sizes: sum over cells of (a - b)^2 / (a + b).
            chi2 += Double((a - b) * (a - b)) / Double(a + b)
        }
        let df = Double(cells.count - 1)
        // 99.9th percentile of chi-square(df), Wilson-Hilferty approximation.
        let z = 3.090
        let critical = df * pow(1 - 2 / (9 * df) + z * (2 / (9 * df)).squareRoot(), 3)
        #expect(chi2 < critical, "chi2 \(chi2) over \(cells.count) cells (critical \(critical))")
    }
}
