// Reference: llama.cpp common/sampling.cpp (chain order) and src/llama-sampler.cpp (each stage).
// SPEC-model.md section 5.

/// Picks tokens for one sequence by running llama.cpp's sampler chain over raw logits:
/// logit_bias -> penalties -> top_k -> top_p -> min_p -> temperature -> dist.
///
/// Contract: stateful and owned by one sequence (never shared). It holds the RNG and the penalty
/// window; `accept` must see every token of the sequence, prompt included, in order (as llama.cpp's
/// `common_sampler_accept`), and `sample` never records the token it returns. `reset` restores the
/// state just after `init`: empty history, RNG reseeded with `seed`.
///
/// NOTE: temperature `<= 0` takes a fast path: a single argmax pass over the (biased, penalized)
/// logits. It returns what the full chain would: top_k, top_p and min_p always keep the best entry
/// and greedy temperature keeps only it (ties: the smaller id). No RNG draw is made then.
public struct Sampler: Sendable {
    /// The parameters this sampler was built with.
    public let parameters: SamplingParameters
    /// Length of every logits vector passed to `sample`.
    public let vocabularySize: Int
    /// The seed in use: `parameters.seed`, or the random one drawn at `init` when that is nil.
    public let seed: UInt64

    private var rng: SamplingRNG
    private var history: PenaltyWindow
    /// Reusable working set. [vocabularySize] once the first non-greedy call has run.
    private(set) var candidates = SamplerCandidates()

    /// Creates a sampler for a vocabulary of `vocabularySize` tokens.
    public init(_ params: SamplingParameters, vocabularySize: Int) {
        precondition(vocabularySize > 0, "vocabularySize must be positive")
        var system = SystemRandomNumberGenerator()
        let seed = params.seed ?? system.next()
        self.parameters = params
        self.vocabularySize = vocabularySize
        self.seed = seed
        self.rng = SamplingRNG(seed: seed)
        self.history = PenaltyWindow(capacity: params.penaltyLastN)
    }

    /// Picks the next token from raw logits (length = `vocabularySize`).
    /// Does not modify the caller's logits and does not record the token (call `accept`).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        precondition(logits.count == vocabularySize, "logits length \(logits.count) != vocabulary \(vocabularySize)")
        guard parameters.temperature > 0 else { return sampleGreedy(logits) }
        applyChain(logits)
        return candidates.pick(unit: rng.nextUnitInterval())
    }

    /// Records an accepted token (prompt tokens too) in the penalty window.
    public mutating func accept(_ token: Int) {
        history.append(token)
    }

    /// Forgets the penalty history and reseeds the RNG with `seed`.
    public mutating func reset() {
        history.removeAll()
        rng = SamplingRNG(seed: seed)
    }

    /// Occurrences of each token in the current penalty window.
    var penaltyCounts: [Int: Int] { history.counts }

    /// Runs every stage up to and including temperature; the survivors are left in `candidates`.
    mutating func applyChain(_ logits: UnsafeBufferPointer<Float>) {
        candidates.load(logits)
        applyLogitAdjustments()
        candidates.applyTopK(parameters.topK)
        candidates.applyTopP(parameters.topP)
        candidates.applyMinP(parameters.minP)
        candidates.applyTemperature(parameters.temperature)
    }

    /// logit_bias then penalties, on a freshly loaded full-vocabulary candidate set.
    private mutating func applyLogitAdjustments() {
        candidates.applyLogitBias(parameters.logitBias)
        if parameters.penaltiesActive {
            candidates.applyPenalties(
                counts: history.counts, repetition: parameters.repetitionPenalty,
                frequency: parameters.frequencyPenalty, presence: parameters.presencePenalty)
        }
    }

    private mutating func sampleGreedy(_ logits: UnsafeBufferPointer<Float>) -> Int {
        let adjusted = !parameters.logitBias.isEmpty || (parameters.penaltiesActive && !history.counts.isEmpty)
        guard adjusted else { return Sampler.argmax(logits) }
        candidates.load(logits)
        applyLogitAdjustments()
        // Still the identity layout, so the index is the token id.
        return candidates.logits.withUnsafeBufferPointer {
            Sampler.argmax(UnsafeBufferPointer(rebasing: $0[..<vocabularySize]))
        }
    }

    /// Index of the largest value, the first one on ties; NaN never wins. One pass, no allocation.
    ///
    /// NOTE: eight lanes each keep their first maximum (strict `>`), then the lanes are merged by
    /// value and smallest index; this vectorizes, unlike a scalar loop-carried argmax.
    static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        let n = values.count
        precondition(n <= Int(Int32.max))
        var best = 0
        var bestValue = -Float.infinity
        var i = 0
        if n >= 16, let base = values.baseAddress {
            let raw = UnsafeRawPointer(base)
            var laneMax = SIMD8<Float>(repeating: -.infinity)
            var laneIndex = SIMD8<Int32>(repeating: 0)
            var index = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
            while i + 8 <= n {
                let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
                let better = v .> laneMax
                laneMax.replace(with: v, where: better)
                laneIndex.replace(with: index, where: better)
                index &+= 8
                i += 8
            }
            for lane in 0..<8 where laneMax[lane] > bestValue || (laneMax[lane] == bestValue && Int(laneIndex[lane]) < best) {
                best = Int(laneIndex[lane])
                bestValue = laneMax[lane]
            }
        }
        while i < n {  // the tail has larger indices than every lane, so strict `>` keeps first-wins
            if values[i] > bestValue {
                best = i
                bestValue = values[i]
            }
            i += 1
        }
        return best
    }
}
