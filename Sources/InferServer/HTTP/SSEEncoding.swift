import Gateway
import OpenAIRequest

/// How `SSEResponse` frames a stream of internal chunks (OpenAI chat / completion chunk objects) for the
/// client: one value per response, used by one writer in order.
protocol SSEEncoding: Sendable {
    /// The events for one chunk (may be empty).
    mutating func encode(_ chunk: JSONValue) -> String
    /// The event for an error after the headers went out.
    mutating func encode(error: OpenAIError) -> String
    /// The closing events (`failed`: an error event was just sent).
    mutating func end(failed: Bool) -> String
}

/// OpenAI's framing: `data: {chunk}` per chunk, an error as `data: {"error": ...}`, then `data: [DONE]`.
struct OpenAIEventEncoding: SSEEncoding {
    func encode(_ chunk: JSONValue) -> String { "data: \(chunk.serialized())\n\n" }
    func encode(error: OpenAIError) -> String { "data: \(error.body.serialized())\n\n" }
    func end(failed: Bool) -> String { "data: [DONE]\n\n" }
}
