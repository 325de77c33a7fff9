import CurlHTTP
/// An upstream failure, classified for retries, fallbacks and cooldowns, and renderable as an
/// OpenAI-style error (`{"error": {"message", "type", "param", "code"}}` with `status`).
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as the router needs to know it.
    public enum Kind: String, Sendable, Equatable {
        case contextWindowExceeded = "context_window_exceeded"
        case contentPolicy = "content_policy"
        case rateLimited = "rate_limited"
        case authentication
        case notFound = "not_found"
        case badRequest = "bad_request"
        case timeout
        /// The deployment refuses work right now (a full local queue; Anthropic's 529): fall back at once.
        case overloaded
        case connection
        case server
        case other
    }

    /// HTTP status to report (the upstream's, or the one LiteLLM uses for the failure class).
    public var status: Int
    public var message: String
    /// OpenAI error `type` (e.g. `invalid_request_error`).
    public var type: String
    /// OpenAI error `code` (e.g. `context_length_exceeded`), if any.
    public var code: String?
    /// OpenAI error `param`, if any.
    public var param: String?
    /// Seconds the upstream asked us to wait (`retry-after` / `retry-after-ms`).
    public var retryAfter: Double?
    public var kind: Kind

    public init(status: Int, message: String, type: String? = nil, code: String? = nil, param: String? = nil,
                retryAfter: Double? = nil, kind: Kind) {
        self.status = status
        self.message = message
        self.type = type ?? Self.defaultType(status: status)
        self.code = code
        self.param = param
        self.retryAfter = retryAfter
        self.kind = kind
    }

    public var description: String { "\(status) \(kind.rawValue): \(message)" }

    /// The OpenAI error envelope.
    public var openAIBody: JSONValue {
        ["error": .object([
            ("message", .string(message)), ("type", .string(type)),
            ("param", .optional(param)), ("code", .optional(code)),
        ])]
    }

    static func defaultType(status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 403: "permission_denied"
        case 404: "not_found_error"
        case 408: "timeout"
        case 429: "rate_limit_error"
        case 400..<500: "invalid_request_error"
        default: "api_error"
        }
    }

    /// A transport failure as a provider error.
    static func transport(_ error: HTTPClientError, apiBase: String?) -> ProviderError {
        let target = apiBase.map { " (\($0))" } ?? ""
        switch error.kind {
        case .timeout:
            return ProviderError(status: 408, message: "Upstream request timed out\(target): \(error.message)",
                                 type: "timeout", code: "timeout", kind: .timeout)
        case .cancelled:
            return ProviderError(status: 499, message: "Request cancelled", code: "cancelled", kind: .other)
        case .responseTooLarge:
            return ProviderError(status: 502, message: "Upstream response too large\(target): \(error.message) "
                                 + "(general_settings.max_response_size_mb)",
                                 type: "api_error", code: "response_too_large", kind: .server)
        case .connectionRefused, .couldNotResolve, .transport, .invalidRequest:
            return ProviderError(status: 503, message: "Upstream connection error\(target): \(error.message)",
                                 type: "api_connection_error", code: error.kind.rawValue, kind: .connection)
        }
    }
}
