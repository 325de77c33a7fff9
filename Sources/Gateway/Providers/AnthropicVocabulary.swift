/// The Messages API's fixed vocabulary (https://docs.anthropic.com/en/api/messages,
/// https://docs.anthropic.com/en/api/errors), shared by the outbound translation (`AnthropicTranslation`, an
/// `anthropic/` deployment) and the inbound one (the server's `POST /v1/messages`).
public enum AnthropicVocabulary {
    /// `stop_reason` -> OpenAI `finish_reason`.
    public static func finishReason(_ stopReason: String?) -> JSONValue {
        switch stopReason {
        case nil: .null
        case "end_turn"?, "stop_sequence"?, "pause_turn"?: "stop"
        case "max_tokens"?: "length"
        case "tool_use"?: "tool_calls"
        case "refusal"?: "content_filter"
        case let other?: .string(other)
        }
    }

    /// OpenAI `finish_reason` -> `stop_reason` (`stop` is `end_turn` unless a stop sequence matched,
    /// which the caller knows: `stop_sequence`).
    public static func stopReason(finishReason: String?, matchedStopSequence: Bool) -> String? {
        switch finishReason {
        case nil: nil
        case "stop"?: matchedStopSequence ? "stop_sequence" : "end_turn"
        case "length"?: "max_tokens"
        case "tool_calls"?, "function_call"?: "tool_use"
        case "content_filter"?: "refusal"
        case _?: "end_turn"
        }
    }

    /// The HTTP status of an error `type`.
    public static func errorStatus(type: String?) -> Int {
        switch type {
        case "invalid_request_error"?: 400
        case "authentication_error"?: 401
        case "billing_error"?: 402
        case "permission_error"?: 403
        case "not_found_error"?: 404
        case "request_too_large"?: 413
        case "rate_limit_error"?: 429
        case "timeout_error"?: 504
        case "overloaded_error"?: 529
        default: 500
        }
    }

    /// The error `type` for an HTTP status (the inverse of `errorStatus`; other 4xx are
    /// `invalid_request_error`, other 5xx `api_error`, 503 `overloaded_error`).
    public static func errorType(status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 402: "billing_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503, 529: "overloaded_error"
        case 504: "timeout_error"
        case 400..<500: "invalid_request_error"
        default: "api_error"
        }
    }
}
