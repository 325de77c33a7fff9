import Gateway
import Hummingbird
import Logging
import NumericCore
import OpenAIRequest

/// Server-sent events: by default exactly as OpenAI sends them (`data: {chunk}` per chunk, then
/// `data: [DONE]`); `encoding` frames them otherwise (`AnthropicEventEncoding` for `/v1/messages`).
enum SSEResponse {
    /// Streams `chunks`; an error thrown by the stream goes out as one `data: {"error": ...}` event before
    /// `[DONE]` (headers are already sent by then). `onComplete` gets every chunk when the stream ended
    /// normally and the client received it all (used to store streamed answers in the response cache);
    /// otherwise (the client left or stalled, or the stream failed) `onIncomplete` gets the chunks sent so far,
    /// in a task of its own (the response's task is being cancelled), so the work done is still charged.
    /// A failed write (client gone) stops consuming, which cancels the producer.
    ///
    /// `writeTimeout`: a write that does not complete within that many seconds (a client that stopped
    /// reading: its TCP window and our send buffers are full) ends the response: the connection is closed
    /// and the producer cancelled, which cancels the engine request and frees its KV blocks. Without it a
    /// stalled client would hold its sequence until max_tokens. `onWriteTimeout` is told (metrics).
    ///
    /// NOTE: between the engine and this writer the chunks wait in unbounded `AsyncThrowingStream`s
    /// (engine events -> `ChoiceDriver` -> here). That buffer is bounded by the request itself: one event
    /// per generated token, at most `max_tokens` (capped by the context length) per choice, at most 16
    /// choices; a stalled reader therefore costs at most one answer's worth of chunks, and only until the
    /// write timeout fires. The alternative (a bounded buffer that blocks the producer) would stall the
    /// engine's continuous batching for everyone, since one engine thread serves every sequence.
    static func response(_ chunks: AsyncThrowingStream<JSONValue, any Error>, headers: HTTPFields = [:],
                         encoding: any SSEEncoding = OpenAIEventEncoding(),
                         logger: Logger, writeTimeout: Double? = nil,
                         onWriteTimeout: (@Sendable () async -> Void)? = nil,
                         onComplete: (@Sendable ([JSONValue]) async -> Void)? = nil,
                         onIncomplete: (@Sendable ([JSONValue]) async -> Void)? = nil) -> Response {
        let body = ResponseBody { writer in
            let out = TimedWriter(writer, timeout: writeTimeout, logger: logger)
            var sent: [JSONValue] = []
            var finished = false
            defer {
                if !finished, let onIncomplete {
                    let chunks = sent
                    Task.detached { await onIncomplete(chunks) }
                }
            }
            var encoding = encoding
            var failed = false
            var iterator = chunks.makeAsyncIterator()
            do {
                // Reading the stream and writing to the client fail differently: a failed read is the
                // producer's error (it goes out as an error event); a failed write means the client is gone
                // or stalled (rethrown: Hummingbird closes the connection, the producer is cancelled).
                while true {
                    let next: JSONValue?
                    do {
                        next = try await iterator.next()
                    } catch let error as OpenAIError {
                        failed = true
                        try await out.write(encoding.encode(error: error))
                        break
                    } catch let error as ProviderError {
                        // An upstream that failed after its first chunk (closed, reset, stalled past stream_timeout).
                        failed = true
                        logger.warning("upstream stream failed: \(error.message)")
                        try await out.write(encoding.encode(error: OpenAIError(error)))
                        break
                    } catch let error as CancellationError {
                        throw error
                    } catch {
                        failed = true
                        logger.error("stream failed: \(String(reflecting: error))")
                        try await out.write(encoding.encode(error: .internalError))
                        break
                    }
                    guard let chunk = next else { break }
                    let events = encoding.encode(chunk)
                    if !events.isEmpty { try await out.write(events) }
                    if onComplete != nil || onIncomplete != nil { sent.append(chunk) }
                }
                let closing = encoding.end(failed: failed)
                if !closing.isEmpty { try await out.write(closing) }
            } catch let error as StreamWriteTimeout {
                logger.warning("closing a stream whose client stopped reading: \(error)")
                await onWriteTimeout?()
                throw error
            }
            try await writer.finish(nil)
            finished = !failed
            if !failed, let onComplete { await onComplete(sent) }
        }
        var fields = headers
        fields[.contentType] = "text/event-stream"
        fields[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: fields, body: body)
    }
}

/// Writes through a copy of the response body writer, each write racing a timer.
///
/// NOTE: `@unchecked Sendable`: the writer is used by one write at a time (each `write` awaits its child
/// task before returning), never concurrently. Hummingbird's writer is a value wrapping NIO's async
/// channel writer (a reference), so writing through a copy writes the same connection. A cancelled write
/// (the timer won) is resumed by NIO's `NIOAsyncWriter` with a `CancellationError`.
private final class TimedWriter: @unchecked Sendable {
    private var writer: any ResponseBodyWriter
    private let timeout: Double?
    private let logger: Logger

    init(_ writer: any ResponseBodyWriter, timeout: Double?, logger: Logger) {
        self.writer = writer
        self.timeout = timeout
        self.logger = logger
    }

    /// Writes one event; a failure other than the timeout (the client closed the connection, a routine
    /// event under load) is logged at debug level and rethrown.
    func write(_ text: String) async throws {
        do {
            try await timedWrite(ByteBuffer(string: text))
        } catch let error as StreamWriteTimeout {
            throw error
        } catch {
            logger.debug("client gone mid-stream: \(error)")
            throw error
        }
    }

    private func timedWrite(_ buffer: ByteBuffer) async throws {
        guard let timeout, timeout > 0 else {
            try await writer.write(buffer)
            return
        }
        let completed = try await withThrowingTaskGroup(of: Bool.self, returning: Bool.self) { group in
            group.addTask { try await self.writer.write(buffer); return true }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(CheckedConversion.milliseconds(timeout))))
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        if !completed { throw StreamWriteTimeout(seconds: timeout) }
    }
}
