import Redis
/// A per-request cache control that has the wrong type or value. The HTTP server renders it as a 400
/// (`invalid_request_error`, `param` = `field`).
public struct CacheControlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The offending field, e.g. `cache.ttl` or `Cache-Control`.
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// An error from a cache backend operation (delete, flush): a bounded code, a message, the cause.
public struct CacheError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The backend (Redis) cannot be reached or the breaker is open.
        case unavailable
        /// The backend answered with an error.
        case backend
    }

    public let code: Code
    public let message: String
    public let underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "cache \(code.rawValue): \(message)" }

    static func from(_ error: RedisError) -> CacheError {
        switch error.code {
        case .unavailable, .connection, .authentication: CacheError(.unavailable, error.message, underlying: error)
        default: CacheError(.backend, error.message, underlying: error)
        }
    }
}
