/// Bounds on a grammar from outside, checked while it is parsed and compiled so that no request can make
/// the server spend unbounded memory or time on it (every limit is refused with a `GrammarError.tooLarge`).
public struct GrammarLimits: Sendable, Equatable {
    /// Bytes of GBNF text.
    public var maxTextBytes: Int = 256 * 1024
    /// Rules after compilation (helper rules for groups, repetitions and UTF-8 classes included).
    public var maxRules: Int = 20_000
    /// Elements (bytes, rule references, ends) after compilation.
    public var maxElements: Int = 400_000
    /// Nesting of parentheses in GBNF.
    public var maxNesting: Int = 64
    /// Largest `{m,n}` bound.
    public var maxRepetition: Int = 4096
    /// Parse stacks the matcher may hold at once (an ambiguous grammar multiplies them).
    public var maxStacks: Int = 512
    /// Depth of one parse stack (nesting in the generated text).
    public var maxStackDepth: Int = 1024

    public init() {}

    /// The limits every request gets.
    public static let standard = GrammarLimits()
}
