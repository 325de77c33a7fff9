/// The one error type of the `PrefixCache` module: a bounded code (usable as a metric label), a message
/// for logs and API errors, and an optional underlying error.
public struct PrefixCacheError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a bounded set of cases.
    public enum Code: String, Sendable {
        /// The configuration is invalid (block size not a power of two, no blocks, bad pin share).
        case invalidConfig = "invalid_config"
        /// A token id cannot be encoded (negative or above `UInt32.max`).
        case invalidToken = "invalid_token"
        /// The prompt is empty: at least one token must be computed.
        case emptyPrompt = "empty_prompt"
        /// One sequence alone needs more blocks than the whole pool has; it can never run.
        case exceedsPool = "exceeds_pool"
        /// The sequence id is unknown (never admitted, or already freed).
        case unknownSequence = "unknown_sequence"
        /// Tokens were committed beyond the blocks reserved for the sequence.
        case notReserved = "not_reserved"
    }

    /// The bounded error code.
    public let code: Code
    /// A human-readable explanation.
    public let message: String
    /// The error that caused this one, if any.
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
