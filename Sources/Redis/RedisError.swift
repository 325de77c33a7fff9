/// An error from the Redis client: a bounded `code` (usable as a metric label), a message, and the
/// server's error text or the socket error that caused it.
public struct RedisError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong, coarse enough to be a metric label.
    public enum Code: String, Sendable {
        /// The circuit breaker is open (or the pool is saturated): the call was not attempted.
        case unavailable
        /// Connecting, writing or reading failed (includes timeouts; the connection is dropped).
        case connection
        /// AUTH or SELECT was rejected.
        case authentication
        /// Redis answered with an error reply (`-ERR ...`); the connection stays healthy.
        case server
        /// The reply had an unexpected shape for the helper that was called.
        case unexpectedReply
        /// A `redis://` URL or environment variable could not be parsed.
        case configuration
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "redis \(code.rawValue): \(message)" }

    /// The fail-fast error returned while the circuit breaker is open.
    public static let unavailable = RedisError(.unavailable, "redis unavailable (circuit breaker open)")
}
