/// The grammar state of one sequence: the set of parse stacks consistent with the bytes accepted so far.
///
/// Contract: a value type owned by one sequence. `accept` either advances over all of a token's bytes or
/// leaves the state unchanged and returns false. `isAccepting`: the bytes so far form a complete sentence
/// (end of generation is allowed); `isFinished`: nothing can follow either, so generation must stop.
public struct GrammarMatcher: Sendable {
    public let grammar: Grammar
    /// The parse stacks (bottom first), sorted and without duplicates; `[]` is the completed stack.
    public private(set) var stacks: [[Int32]]

    /// The matcher at the start of `grammar`. Throws when the start state alone exceeds `maxStacks`.
    public init(_ grammar: Grammar) throws {
        self.grammar = grammar
        let walker = GrammarWalker(grammar)
        var handles: [Int32] = []
        walker.initialStacks(into: &handles)
        guard !walker.overflowed else { throw Self.tooAmbiguous(grammar) }
        stacks = try Self.normalize(handles, walker)
    }

    public var isAccepting: Bool { stacks.first == [] }
    public var isFinished: Bool { stacks == [[]] }
    /// No continuation at all (only after a failed internal step; `accept` never leads here).
    public var isDead: Bool { stacks.isEmpty }

    /// Advances over `bytes` if the grammar allows all of them; returns whether it did. An empty `bytes`
    /// is refused (a token that adds no text cannot move the grammar on).
    @discardableResult
    public mutating func accept(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty, let next = try? advanced(bytes), !next.isEmpty else { return false }
        stacks = next
        return true
    }

    /// Whether `accept(bytes)` would succeed, without changing the state.
    public func allows(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty, let next = try? advanced(bytes) else { return false }
        return !next.isEmpty
    }

    private func advanced(_ bytes: [UInt8]) throws -> [[Int32]] {
        let walker = GrammarWalker(grammar)
        var current = stacks.map { walker.load($0) }
        var next: [Int32] = []
        for b in bytes {
            next.removeAll(keepingCapacity: true)
            for h in current { walker.advance(h, b, into: &next) }
            if next.isEmpty || walker.overflowed { return [] }
            if next.count > grammar.limits.maxStacks {
                // Deduplicate before giving up: ambiguity often yields equal stacks.
                let unique = try Self.normalize(next, walker)
                walker.reset()
                next = unique.map { walker.load($0) }
            }
            swap(&current, &next)
        }
        return try Self.normalize(current, walker)
    }

    private static func tooAmbiguous(_ grammar: Grammar) -> GrammarError {
        GrammarError(.tooLarge, "the grammar is too ambiguous: more than \(grammar.limits.maxStacks) parse states at once")
    }

    private static func normalize(_ handles: [Int32], _ walker: GrammarWalker) throws -> [[Int32]] {
        let unique = Set(handles.map { walker.materialize($0) })
        guard unique.count <= walker.grammar.limits.maxStacks else { throw tooAmbiguous(walker.grammar) }
        return unique.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
