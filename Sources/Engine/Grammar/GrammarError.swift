/// Why a grammar (GBNF text, or one derived from a JSON schema) was refused. Every case is the client's input:
/// the server answers 400 with `message`.
public struct GrammarError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bounded set of failure kinds (usable as a metric label).
    public enum Code: String, Sendable {
        /// GBNF that does not parse (the message says where).
        case syntax
        /// A rule used but never defined, or no `root` rule.
        case undefinedRule
        /// A rule that can reach itself without consuming a byte (it would expand forever).
        case leftRecursion
        /// Over one of `GrammarLimits` (text size, rules, elements, nesting, repetition, matcher stacks).
        case tooLarge
        /// A construct the grammar compiler does not support (e.g. an invalid code point).
        case unsupported
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
