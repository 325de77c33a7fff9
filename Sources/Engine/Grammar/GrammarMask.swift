/// The tokens a grammar state allows next: one bit per vocabulary id.
public struct GrammarMask: Sendable, Equatable {
    /// [ceil(vocabularySize / 64)] bit `id % 64` of word `id / 64` is set when `id` is allowed.
    public private(set) var words: [UInt64]
    public let vocabularySize: Int

    public init(vocabularySize: Int) {
        self.vocabularySize = vocabularySize
        words = [UInt64](repeating: 0, count: (vocabularySize + 63) / 64)
    }

    @inline(__always)
    public func contains(_ id: Int) -> Bool { words[id >> 6] & (1 << UInt64(id & 63)) != 0 }

    @inline(__always)
    public mutating func insert(_ id: Int) { words[id >> 6] |= 1 << UInt64(id & 63) }

    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Computes the mask of `matcher`'s state over `trie`: a token is allowed when the grammar can consume
    /// all of its bytes; each id in `endOfGeneration` is allowed when the state is accepting.
    ///
    /// NOTE: the walk goes depth-first over the trie carrying the set of live stacks; a node whose byte no
    /// stack accepts is skipped with its whole subtree, and the arena is truncated on the way back up, so
    /// the walk allocates nothing once warm. Stacks past `maxStacks` at one node are dropped (a token is
    /// then refused that might have been allowed; never the reverse).
    public static func compute(_ matcher: GrammarMatcher, trie: TokenTrie, endOfGeneration: Set<Int>) -> GrammarMask {
        var mask = GrammarMask(vocabularySize: trie.vocabularySize)
        let walker = GrammarWalker(matcher.grammar)
        var frames: [Int32] = matcher.stacks.map { walker.load($0) }
        let limit = matcher.grammar.limits.maxStacks
        mask.walk(node: 0, stacks: 0..<frames.count, frames: &frames, walker: walker, trie: trie, limit: limit)
        if matcher.isAccepting {
            for id in endOfGeneration where id < trie.vocabularySize { mask.insert(id) }
        }
        return mask
    }

    private mutating func walk(node: Int, stacks: Range<Int>, frames: inout [Int32], walker: GrammarWalker,
                               trie: TokenTrie, limit: Int) {
        let first = Int(trie.firstChild[node])
        for child in first..<(first + Int(trie.childCount[node])) {
            let b = trie.byte[child]
            var live = false
            for k in stacks where walker.accepts(frames[k], b) {
                live = true
                break
            }
            guard live else { continue }
            let mark = walker.mark
            let start = frames.count
            for k in stacks {
                walker.advance(frames[k], b, into: &frames)
                if frames.count - start > limit { break }
            }
            if frames.count > start {
                let t0 = Int(trie.tokenStart[child])
                for t in t0..<(t0 + Int(trie.tokenCount[child])) { insert(Int(trie.tokens[t])) }
                if trie.childCount[child] > 0 {
                    walk(node: child, stacks: start..<frames.count, frames: &frames, walker: walker, trie: trie,
                         limit: limit)
                }
            }
            frames.removeSubrange(start...)
            walker.truncate(to: mark)
        }
    }
}
