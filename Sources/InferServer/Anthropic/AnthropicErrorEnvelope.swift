import Gateway
import Hummingbird
import OpenAIRequest

/// Errors of the Messages API routes in Anthropic's envelope,
/// `{"type": "error", "error": {"type": "invalid_request_error", "message": ...}}`, with the same status and
/// headers as the OpenAI envelope (`ErrorEnvelopeMiddleware` picks this one by path, so authentication,
/// body-size and concurrency errors of these routes are Anthropic-shaped too).
enum AnthropicErrorEnvelope {
    /// The paths answered in this envelope.
    static func applies(to path: String) -> Bool {
        path == "/v1/messages" || path.hasPrefix("/v1/messages/")
    }

    /// The inner `error` object: the type from the status (`AnthropicVocabulary.errorType`).
    static func error(_ e: OpenAIError) -> JSONValue {
        .object([("type", .string(AnthropicVocabulary.errorType(status: e.status.code))), ("message", .string(e.message))])
    }

    static func body(_ e: OpenAIError) -> JSONValue {
        .object([("type", "error"), ("error", error(e))])
    }

    static func response(_ e: OpenAIError) -> Response {
        var fields = e.headers
        fields[.contentType] = "application/json"
        return Response(status: e.status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body(e).serialized())))
    }
}
