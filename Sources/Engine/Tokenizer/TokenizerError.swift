/// Why a tokenizer could not be built from a model file.
///
/// Every problem found while reading the `tokenizer.ggml.*` metadata maps to one bounded `code` (usable as a
/// metric label or in tests); `message` names the key and the offending value; `underlying` carries the GGUF
/// reader's error when the metadata itself could not be read.
public struct TokenizerError: Error, Sendable, CustomStringConvertible {
    /// Bounded set of failure kinds.
    public enum Code: String, Sendable {
        /// `tokenizer.ggml.model` is missing or names a tokenizer family this engine does not implement.
        case unknownModel
        /// `tokenizer.ggml.pre` names a pre-tokenizer this engine does not implement.
        case unknownPreTokenizer
        /// `tokenizer.ggml.tokens` is missing or empty.
        case missingTokens
        /// A byte-level BPE vocabulary has no `tokenizer.ggml.merges`.
        case missingMerges
        /// A per-token array (scores, token types) does not have one entry per token.
        case inconsistentMetadata
        /// `add_bos_token` / `add_eos_token` is true but the matching special token id is not set.
        case missingSpecialToken
        /// A metadata value has the wrong type (see `underlying`).
        case invalidMetadata
    }

    public let code: Code
    public let message: String
    /// The error that caused this one, if any (for example a `GGUFError` type mismatch).
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying { return "tokenizer \(code.rawValue): \(message) (\(underlying))" }
        return "tokenizer \(code.rawValue): \(message)"
    }
}
