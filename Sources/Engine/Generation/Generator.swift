import Foundation
import Tensor

/// Options of one generation.
public struct GenerationOptions: Sendable {
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Stop when an end-of-generation token is sampled (it is not emitted as text).
    public var stopAtEndOfGeneration: Bool
    /// Draft tokens and verify them in one forward pass (the output is the same as without).
    public var speculative: SpeculativeMode

    public init(maxTokens: Int = 128, sampling: SamplingParameters = SamplingParameters(),
                stopAtEndOfGeneration: Bool = true, speculative: SpeculativeMode = .off) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
        self.speculative = speculative
    }
}

/// Why generation ended.
public enum FinishReason: String, Sendable { case length, stop, contextFull = "context_full", cancelled }

/// Result of one generation with timings.
public struct GenerationResult: Sendable {
    public var promptTokens: [Int]
    public var tokens: [Int]
    public var text: String
    public var finishReason: FinishReason
    /// Seconds spent on the prompt (prefill) and on generated tokens (decode).
    public var prefillSeconds: Double
    public var decodeSeconds: Double
    /// Speculative decoding: tokens drafted and how many of them were accepted.
    public var draftedTokens = 0
    public var acceptedTokens = 0
    /// Forward passes in decode (with speculation, fewer than the generated tokens).
    public var decodeSteps = 0

    public var prefillTokensPerSecond: Double { Double(promptTokens.count) / max(prefillSeconds, 1e-9) }
    public var decodeTokensPerSecond: Double { Double(max(tokens.count - 1, 0)) / max(decodeSeconds, 1e-9) }
}

/// The single-sequence token loop: prefill the prompt in micro-batches, then sample and decode one token
/// at a time with a contiguous KV cache. (The paged, batched scheduler builds on the same forward pass.)
public struct Generator {
    public let model: LanguageModel
    /// How the KV cache stores keys and values.
    public let kvCacheDType: KVCacheDType
    /// Replaces prompt lookup as the source of drafts (tests: drafts chosen to be accepted some of the time).
    var draftOverride: (@Sendable (_ history: [Int], _ count: Int) -> [Int])?
    /// The LoRA adapter applied to every forward pass (nil: the base model).
    public let adapter: LoRAAdapter?

    public init(model: LanguageModel, kvCacheDType: KVCacheDType = .f32, adapter: LoRAAdapter? = nil) {
        self.model = model
        self.kvCacheDType = kvCacheDType
        self.adapter = adapter
    }

    /// Runs the prompt through the model and returns the logits of its last token.
    public func prefill(_ tokens: [Int], cache: KVCache) -> [Float] {
        let tf = model.transformer
        var logits: [Float] = []
        var i = 0
        while i < tokens.count {
            let n = min(tf.maxBatch, tokens.count - i)
            let last = i + n == tokens.count
            logits = tf.forward(tokens[i..<(i + n)], cache: cache, outputRows: last ? (n - 1)..<n : 0..<0,
                                adapter: adapter)
            i += n
        }
        return logits
    }

    /// Generates up to `options.maxTokens` tokens after `promptTokens`. `onText` receives each decoded text
    /// fragment as soon as it forms whole UTF-8 characters; returning false cancels.
    public func generate(promptTokens: [Int], options: GenerationOptions,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        let cfg = model.config
        guard !promptTokens.isEmpty else { throw EngineError(.invalidInput, "the prompt is empty") }
        if let bad = promptTokens.first(where: { $0 < 0 || $0 >= cfg.vocabularySize }) {
            throw EngineError(.invalidInput, "token id \(bad) is out of range 0..<\(cfg.vocabularySize)")
        }
        guard promptTokens.count < cfg.contextLength else {
            throw EngineError(.contextOverflow,
                              "the prompt has \(promptTokens.count) tokens; the model's context is \(cfg.contextLength)")
        }
        try kvCacheDType.check(headDim: cfg.headDim)
        let capacity = min(cfg.contextLength, promptTokens.count + max(options.maxTokens, 0))
        let cache = model.transformer.makeCache(capacity: capacity, dtype: kvCacheDType)
        var sampler = Sampler(options.sampling, vocabularySize: cfg.vocabularySize)
        for t in promptTokens { sampler.accept(t) }
        var detok = StreamingDetokenizer(tokenizer: model.tokenizer)
        var result = GenerationResult(promptTokens: promptTokens, tokens: [], text: "", finishReason: .length,
                                      prefillSeconds: 0, decodeSeconds: 0)
        let t0 = Date()
        var logits = prefill(promptTokens, cache: cache)
        result.prefillSeconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        var speculation = SpeculationState()
        let drafter = NgramDrafter()
        var history = promptTokens
        // `logits` holds one row per fed token; `row` is the one the next token is sampled from.
        var row = 0
        var drafts: [Int] = []
        decoding: while result.tokens.count < options.maxTokens {
            let next = logits.withUnsafeBufferPointer {
                sampler.sample(UnsafeBufferPointer(rebasing: $0[(row * cfg.vocabularySize)..<((row + 1) * cfg.vocabularySize)]))
            }
            sampler.accept(next)
            if options.stopAtEndOfGeneration && model.tokenizer.eogIDs.contains(next) {
                result.finishReason = .stop
                break
            }
            result.tokens.append(next)
            history.append(next)
            let piece = detok.append(next)
            if !piece.isEmpty {
                result.text += piece
                if !onText(piece) { result.finishReason = .cancelled; break }
            }
            if result.tokens.count == options.maxTokens { break }
            if row < drafts.count, drafts[row] == next {
                row += 1   // the draft was right: its row (already in the cache) gives the next logits
                continue decoding
            }
            if !drafts.isEmpty {
                // `row` drafted tokens were accepted; the cache keeps the fed token and them.
                speculation.record(drafted: drafts.count, accepted: row)
                cache.truncate(to: cache.count - drafts.count + row)
                drafts = []
            }
            if cache.count >= cache.capacity { result.finishReason = .contextFull; break }
            let room = min(options.maxTokens - result.tokens.count - 1, cache.capacity - cache.count - 1,
                           model.transformer.maxBatch - 1)
            drafts = options.speculative == .ngram && room > 0
                ? (draftOverride ?? { drafter.draft($0, count: $1) })(history, min(speculation.wanted(), room)) : []
            result.draftedTokens += drafts.count
            logits = model.transformer.forward(([next] + drafts)[...], cache: cache, outputRows: 0..<(drafts.count + 1),
                                               adapter: adapter)
            result.decodeSteps += 1
            row = 0
        }
        if !drafts.isEmpty { speculation.record(drafted: drafts.count, accepted: row) }
        result.acceptedTokens = speculation.accepted
        let tail = detok.finish()
        if !tail.isEmpty {
            result.text += tail
            _ = onText(tail)
        }
        result.decodeSeconds = Date().timeIntervalSince(t1)
        return result
    }
}
