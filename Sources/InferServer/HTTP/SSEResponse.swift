import Gateway
import Hummingbird
import Logging

/// What the local engine answers for one request: a complete JSON body, or the chunk objects of a stream.
enum LocalReply: Sendable {
    case json(JSONValue)
    case chunks(AsyncThrowingStream<JSONValue, any Error>)
}

/// Server-sent events exactly as OpenAI sends them: `data: {chunk}` per chunk, then `data: [DONE]`.
enum SSEResponse {
    /// Streams `chunks`; an error thrown by the stream goes out as one `data: {"error": ...}` event before
    /// `[DONE]` (headers are already sent by then). `onComplete` gets every chunk when the stream ended
    /// normally and the client received it all (used to store streamed answers in the response cache).
    /// A failed write (client gone) stops consuming, which cancels the producer.
    static func response(_ chunks: AsyncThrowingStream<JSONValue, any Error>, headers: HTTPFields = [:],
                         logger: Logger,
                         onComplete: (@Sendable ([JSONValue]) async -> Void)? = nil) -> Response {
        let body = ResponseBody { writer in
            var sent: [JSONValue] = []
            var failed = false
            do {
                for try await chunk in chunks {
                    try await writer.write(ByteBuffer(string: "data: \(chunk.serialized())\n\n"))
                    if onComplete != nil { sent.append(chunk) }
                }
            } catch let error as OpenAIError {
                failed = true
                try await writer.write(ByteBuffer(string: "data: \(error.body.serialized())\n\n"))
            } catch let error as CancellationError {
                throw error
            } catch {
                failed = true
                logger.error("stream failed: \(String(reflecting: error))")
                try await writer.write(ByteBuffer(string: "data: \(OpenAIError.internalError.body.serialized())\n\n"))
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
            if !failed, let onComplete { await onComplete(sent) }
        }
        var fields = headers
        fields[.contentType] = "text/event-stream"
        fields[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: fields, body: body)
    }
}
