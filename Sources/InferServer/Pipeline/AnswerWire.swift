import Gateway

/// The API an answer is written in: OpenAI's (chat / text completions) or the Messages API's
/// (`/v1/messages`, translated from the same internal answer). The gateway's stages are the same for both.
enum AnswerWire: Sendable {
    case openAI
    /// `model`: the requested model group; `stopSequences`: the request's, to tell `stop_sequence` apart.
    case anthropic(model: String, stopSequences: [String])

    /// A JSON answer as the client expects it.
    func json(_ answer: JSONValue) -> JSONValue {
        switch self {
        case .openAI: answer
        case .anthropic(let model, let stops):
            AnthropicInboundResponse.message(from: answer, model: model, stopSequences: stops)
        }
    }

    /// The framing of a streamed answer.
    var encoding: any SSEEncoding {
        switch self {
        case .openAI: return OpenAIEventEncoding()
        case .anthropic(let model, let stops): return AnthropicEventEncoding(model: model, stopSequences: stops)
        }
    }
}
