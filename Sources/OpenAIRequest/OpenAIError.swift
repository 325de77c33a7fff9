import Engine
import Foundation
import Gateway
import HTTPTypes

/// The one error type of the HTTP edge: renders OpenAI's envelope
/// `{"error": {"message", "type", "param", "code"}}` with the right status and headers.
///
/// Handlers throw it for anything the client did wrong; `ErrorEnvelopeMiddleware` turns every other error
/// into a logged 500 that leaks no internals. The rendering as a Hummingbird response is in InferServer
/// (`OpenAIError+Response.swift`), so this module needs only HTTPTypes.
public struct OpenAIError: Error, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil,
         headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers
    }

    /// The JSON envelope.
    public var body: JSONValue {
        ["error": ["message": .string(message), "type": .string(type), "param": .optional(param),
                   "code": .optional(code)]]
    }

}

extension OpenAIError {
    /// Parses a request body; a 400 `invalid_json` error on malformed input.
    ///
    /// NOTE: the body must be UTF-8 (RFC 8259 section 8.1). The parser itself is lenient (it replaces invalid
    /// sequences with U+FFFD, which is right for upstream answers and cache entries), so a client's bytes
    /// are validated here: garbage in a prompt is the client's error, not text to generate from.
    /// Nesting deeper than 512 is a parse error too (no deep recursion on hostile input).
    public static func parseJSON(_ data: Data) throws -> JSONValue {
        guard String(validating: data, as: UTF8.self) != nil else {
            throw OpenAIError.invalidRequest("The request body is not valid UTF-8.", code: "invalid_json")
        }
        do {
            return try JSONValue.parse(data)
        } catch {
            throw OpenAIError.invalidRequest("We could not parse the JSON body of your request. (HINT: This "
                + "likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                + "payload.)", code: "invalid_json")
        }
    }

    /// 400 for a malformed request or a bad parameter.
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> OpenAIError {
        OpenAIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 400 naming a parameter with the wrong type or value.
    public static func badParameter(_ param: String, _ message: String) -> OpenAIError {
        invalidRequest(message, param: param, code: "invalid_value")
    }

    /// 404 for a model id this server does not serve.
    public static func modelNotFound(_ id: String) -> OpenAIError {
        OpenAIError(status: .notFound, message: "The model `\(id)` does not exist.", type: "invalid_request_error",
                    param: "model", code: "model_not_found")
    }

    /// 400 when prompt plus completion exceed the context.
    public static func contextLengthExceeded(_ message: String, param: String = "messages") -> OpenAIError {
        invalidRequest(message, param: param, code: "context_length_exceeded")
    }

    /// 401 for a missing or wrong API key.
    public static let unauthorized = OpenAIError(
        status: .unauthorized, message: "Incorrect API key provided. Pass it as `Authorization: Bearer <key>` or `x-api-key: <key>`.",
        type: "invalid_request_error", code: "invalid_api_key", headers: [.wwwAuthenticate: "Bearer"])

    /// 403 for a key that may not use a model or route.
    public static func forbidden(_ message: String, param: String? = nil) -> OpenAIError {
        OpenAIError(status: .forbidden, message: message, type: "permission_error", param: param, code: "forbidden")
    }

    /// 403 for a model group outside the caller's key's `models` (the decision is `Caller.mayUse(model:)`).
    public static func modelNotAllowed(_ model: String, param: String = "model") -> OpenAIError {
        forbidden("This API key may not use the model `\(model)`.", param: param)
    }

    /// 413 for a request body over the limit.
    public static func bodyTooLarge(limit: Int) -> OpenAIError {
        OpenAIError(status: .contentTooLarge, message: "The request body is larger than the limit of \(limit) bytes.",
                    type: "invalid_request_error", code: "request_too_large", headers: [.connection: "close"])
    }

    /// 429 when the engine queue is full.
    public static let overloaded = OpenAIError(
        status: .tooManyRequests, message: "The server is overloaded (request queue full). Retry shortly.",
        type: "rate_limit_error", code: "rate_limit_exceeded", headers: [.retryAfter: "1"])

    /// 429 when the server or one key already has its most concurrent requests in flight.
    public static func tooManyConcurrent(_ scope: String, limit: Int) -> OpenAIError {
        OpenAIError(status: .tooManyRequests,
                    message: "Too many concurrent requests \(scope) (limit \(limit)). Retry shortly.",
                    type: "rate_limit_error", code: "too_many_concurrent_requests", headers: [.retryAfter: "1"])
    }

    /// 408 when a request runs past its deadline (LiteLLM's `Timeout` status).
    public static func deadlineExceeded(seconds: Double) -> OpenAIError {
        OpenAIError(status: .requestTimeout,
                    message: "The request did not finish within its deadline of \(shown(seconds)) seconds.",
                    type: "timeout_error", code: "request_timeout")
    }

    /// 408 for a request whose headers and body did not arrive within `--read-timeout`.
    public static func readTimeout(seconds: Double) -> OpenAIError {
        OpenAIError(status: .requestTimeout,
                    message: "The request was not received within the read timeout of \(shown(seconds)) seconds.",
                    type: "invalid_request_error", code: "request_timeout")
    }

    /// 503 for a connection past `--max-connections`.
    public static func tooManyConnections(limit: Int) -> OpenAIError {
        OpenAIError(status: .serviceUnavailable,
                    message: "The server has too many open connections (limit \(limit)). Retry shortly.",
                    type: "server_error", code: "too_many_connections", headers: [.retryAfter: "1"])
    }

    /// Seconds as a client reads them: whole numbers without a fraction.
    private static func shown(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e9 ? String(Int(seconds)) : String(seconds)
    }

    /// 500 without internals.
    public static let internalError = OpenAIError(
        status: .internalServerError, message: "The server had an error while processing your request.",
        type: "server_error", code: "internal_error")

    /// 503 while shutting down.
    public static let shuttingDown = OpenAIError(
        status: .serviceUnavailable, message: "The server is shutting down.", type: "server_error",
        code: "service_unavailable")

    /// Maps an engine error on submit to the HTTP error the client sees.
    public static func from(engine error: EngineError, param: String) -> OpenAIError {
        switch error.code {
        case .overloaded: return .overloaded
        case .contextOverflow: return .contextLengthExceeded(error.message, param: param)
        case .invalidInput:
            if error.message.contains("shutting down") { return .shuttingDown }
            return .invalidRequest(error.message, param: param)
        default: return .internalError
        }
    }
}
