// Reference: llama.cpp src/llama-grammar.h (`llama_grammar_element`, rules as flat element arrays, parse
// stacks of element positions).

import Foundation

/// One element of a compiled grammar rule alternative.
public enum GrammarElement: Sendable, Equatable {
    /// One byte from this set.
    case bytes(ByteSet)
    /// The rule with this index.
    case rule(Int32)
    /// The end of an alternative.
    case end
}

/// A compiled grammar over bytes: every rule alternative is a run of `elements` ending in `.end`, and every
/// character class has become UTF-8 byte sequences (so a token that ends inside a character is matched as
/// far as it goes). Immutable and shared by every sequence that uses it; each sequence keeps its own
/// `GrammarMatcher`. Build one with `Grammar.compile(gbnf:)` or `GrammarCompiler`.
public final class Grammar: Sendable {
    /// All alternatives of all rules, each terminated by `.end`.
    public let elements: [GrammarElement]
    /// Per rule: the position in `elements` where each of its alternatives starts.
    public let alternatives: [[Int32]]
    /// Rule names (helper rules are named after the rule they were made for).
    public let ruleNames: [String]
    /// The rule matching starts from.
    public let root: Int32
    /// The bounds it was compiled under (the matcher keeps to `maxStacks` / `maxStackDepth`).
    public let limits: GrammarLimits
    /// Unique per compiled grammar in this process (keys the mask cache).
    public let id: UInt64

    private static let counter = LockedCounter()

    init(elements: [GrammarElement], alternatives: [[Int32]], ruleNames: [String], root: Int32, limits: GrammarLimits) {
        self.elements = elements
        self.alternatives = alternatives
        self.ruleNames = ruleNames
        self.root = root
        self.limits = limits
        self.id = Grammar.counter.next()
    }

    /// Parses and compiles GBNF text.
    public static func compile(gbnf: String, limits: GrammarLimits = .standard) throws -> Grammar {
        try GrammarCompiler.compile(GBNFParser.parse(gbnf, limits: limits), limits: limits)
    }
}

/// A process-wide counter for grammar ids.
///
/// NOTE: `@unchecked Sendable`: the one mutable field is only touched under `lock`.
private final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
