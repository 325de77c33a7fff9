/// Samples under a grammar for the engine: the sampler's pick is taken when the grammar allows it, and only
/// otherwise is the full mask computed (from the token trie, cached by state) and the pick redone over the
/// allowed tokens.
///
/// NOTE: drawing first and masking only on refusal gives exactly the masked distribution for plain
/// sampling (a refused draw is redrawn from the renormalized rest) and the masked argmax for greedy, while
/// most tokens of a schema-following answer cost one grammar step instead of a vocabulary walk. With
/// top-k / top-p / min-p the fast path truncates before masking and the fallback after, as llama.cpp's
/// `common_sampler_sample` does.
///
/// Contract: owned by the engine thread; the trie is built on first use.
final class ConstrainedSampler {
    private let tokenizer: any Tokenizer
    private var trieStorage: TokenTrie?
    private let cache = GrammarMaskCache()
    private var masked: [Float] = []   // [vocabularySize] logits with refused tokens at -infinity
    private(set) var fullMasks = 0

    init(tokenizer: any Tokenizer) {
        self.tokenizer = tokenizer
    }

    var trie: TokenTrie {
        if let t = trieStorage { return t }
        let t = TokenTrie(tokenizer: tokenizer)
        trieStorage = t
        return t
    }

    /// Picks the next token of a sequence under `matcher` and advances the matcher over it. nil when the
    /// grammar allows no token at all (the sequence must end). `allowEnd`: end-of-generation tokens may end
    /// the sequence (they are allowed only where the grammar is complete).
    func sample(_ sampler: inout Sampler, _ matcher: inout GrammarMatcher, logits: UnsafeBufferPointer<Float>,
                allowEnd: Bool) -> Int? {
        let eog = tokenizer.eogIDs
        let first = sampler.sample(logits)
        if take(first, &matcher, eog: eog, allowEnd: allowEnd) { return first }

        fullMasks += 1
        let trie = self.trie
        let key = GrammarMaskCache.Key(grammar: matcher.grammar.id, stacks: matcher.stacks,
                                       acceptsEnd: allowEnd && matcher.isAccepting)
        let m = matcher
        let mask = cache.mask(for: key) {
            GrammarMask.compute(m, trie: trie, endOfGeneration: allowEnd ? eog : [])
        }
        if masked.count != logits.count { masked = [Float](repeating: 0, count: logits.count) }
        var any = false
        masked.withUnsafeMutableBufferPointer { out in
            for i in 0..<logits.count {
                if i < mask.vocabularySize && mask.contains(i) {
                    out[i] = logits[i]
                    any = true
                } else {
                    out[i] = -.infinity
                }
            }
        }
        guard any else { return nil }
        let second = masked.withUnsafeBufferPointer { sampler.sample($0) }
        return take(second, &matcher, eog: eog, allowEnd: allowEnd) ? second : nil
    }

    private func take(_ token: Int, _ matcher: inout GrammarMatcher, eog: Set<Int>, allowEnd: Bool) -> Bool {
        if eog.contains(token) { return allowEnd && matcher.isAccepting }
        guard token < trie.pieces.count else { return false }
        return matcher.accept(trie.pieces[token])
    }
}
