// Stand-in for Sources/InferServer/HTTP/OpenAIError.swift, which needs Hummingbird for its response
// rendering. Only the factories the symlinked validation code calls, with the same signatures.
struct OpenAIError: Error {
    let message: String
    let param: String?
    let code: String?

    static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> OpenAIError {
        OpenAIError(message: message, param: param, code: code)
    }

    static func badParameter(_ param: String, _ message: String) -> OpenAIError {
        invalidRequest(message, param: param, code: "invalid_value")
    }

    static func contextLengthExceeded(_ message: String, param: String = "messages") -> OpenAIError {
        invalidRequest(message, param: param, code: "context_length_exceeded")
    }
}

/// The route type `ChatMessages.swift` extends (the real one holds the engine).
struct ChatCompletionsRoute {}
