import Foundation

/// Perplexity with llama.cpp's method (`tools/perplexity`): the tokenized text (with BOS) is cut into
/// chunks of `context` tokens; each chunk starts with BOS (its first token is replaced), runs in a fresh
/// KV cache, and only the second half is scored: the logits at positions `context/2 ..< context-1`
/// predict the following token.
public struct Perplexity {
    public struct Result: Sendable {
        public var perplexity: Double
        /// llama.cpp's estimate of the standard error of the perplexity.
        public var standardError: Double
        public var chunks: Int
        public var scoredTokens: Int
        public var seconds: Double
    }

    public let model: LanguageModel
    /// How the KV cache of each chunk stores keys and values.
    public let kvCacheDType: KVCacheDType
    /// The LoRA adapter applied to every forward pass (nil: the base model).
    public let adapter: LoRAAdapter?

    public init(model: LanguageModel, kvCacheDType: KVCacheDType = .f32, adapter: LoRAAdapter? = nil) {
        self.model = model
        self.kvCacheDType = kvCacheDType
        self.adapter = adapter
    }

    /// Scores `tokens` (already including BOS if the model adds one). `progress(chunk, chunks, runningPPL)`.
    public func evaluate(tokens: [Int], context: Int,
                         progress: ((Int, Int, Double) -> Void)? = nil) throws -> Result {
        guard context >= 4, context <= model.config.contextLength else {
            throw EngineError(.invalidInput, "context must be in 4...\(model.config.contextLength), got \(context)")
        }
        try kvCacheDType.check(headDim: model.config.headDim)
        let chunks = tokens.count / context
        guard chunks > 0 else {
            throw EngineError(.invalidInput,
                              "the text has \(tokens.count) tokens; at least \(context) are needed for one chunk")
        }
        let start = Date()
        let tf = model.transformer
        let vocab = model.config.vocabularySize
        let first = context / 2
        let bos = model.tokenizer.addBOS ? model.tokenizer.bosID : nil
        var nll: Double = 0, nll2: Double = 0
        var count = 0
        let cache = tf.makeCache(capacity: context, dtype: kvCacheDType)
        for chunk in 0..<chunks {
            var chunkTokens = Array(tokens[(chunk * context)..<((chunk + 1) * context)])
            if let bos { chunkTokens[0] = bos }
            cache.truncate(to: 0)
            var i = 0
            while i < context {
                let n = min(tf.maxBatch, context - i)
                // Rows whose logits are scored: absolute positions first ..< context - 1.
                let lo = max(first, i) - i
                let hi = min(context - 1, i + n) - i
                let rows = lo < hi ? lo..<hi : 0..<0
                let logits = tf.forward(chunkTokens[i..<(i + n)], cache: cache, outputRows: rows, adapter: adapter)
                logits.withUnsafeBufferPointer { lp in
                    for (r, row) in rows.enumerated() {
                        let target = chunkTokens[i + row + 1]
                        let slice = UnsafeBufferPointer(rebasing: lp[(r * vocab)..<((r + 1) * vocab)])
                        let lpv = -Double(LogProbs.logProb(of: target, logits: slice))
                        nll += lpv
                        nll2 += lpv * lpv
                        count += 1
                    }
                }
                i += n
            }
            progress?(chunk + 1, chunks, exp(nll / Double(count)))
        }
        let mean = nll / Double(count)
        let mean2 = nll2 / Double(count)
        let ppl = exp(mean)
        let variance = count > 1 ? max(0, (mean2 - mean * mean) / Double(count - 1)) : 0
        return Result(perplexity: ppl, standardError: ppl * variance.squareRoot(), chunks: chunks,
                      scoredTokens: count, seconds: Date().timeIntervalSince(start))
    }
}
