/// One right-hand side of a GBNF rule before compilation: what `GBNFParser` produces and
/// `GrammarCompiler` flattens into a `Grammar`.
public indirect enum GrammarExpression: Sendable, Equatable {
    /// Exactly these bytes (a quoted literal, UTF-8 encoded).
    case literal([UInt8])
    /// One code point in (or, `negated`, not in) the ranges: `[a-z]`, `[^"\\]`, `.`.
    case characterClass(ranges: [ClosedRange<UInt32>], negated: Bool)
    /// A reference to a named rule.
    case rule(String)
    /// Each part in order.
    case sequence([GrammarExpression])
    /// Any one of the choices.
    case alternation([GrammarExpression])
    /// `min` to `max` (nil: unbounded) repetitions: `*`, `+`, `?`, `{m,n}`.
    case repetition(GrammarExpression, min: Int, max: Int?)

    /// The empty string.
    public static let empty = GrammarExpression.sequence([])
}

/// Named rules in definition order (`root` is where matching starts).
public struct GrammarRules: Sendable, Equatable {
    public var rules: [(name: String, expression: GrammarExpression)]

    public init(_ rules: [(name: String, expression: GrammarExpression)] = []) {
        self.rules = rules
    }

    public static func == (a: GrammarRules, b: GrammarRules) -> Bool {
        a.rules.count == b.rules.count && zip(a.rules, b.rules).allSatisfy { $0.name == $1.name && $0.expression == $1.expression }
    }
}
