import CurlHTTP
import Foundation

/// What a translator makes of one upstream SSE event.
enum SSEStep {
    /// OpenAI chunk objects to emit (possibly none, e.g. for a `ping`).
    case chunks([JSONValue])
    /// The upstream's end marker (`[DONE]`, `message_stop`).
    case done
}

/// Turns an upstream's SSE events into OpenAI chunks; throws for in-stream error events.
protocol SSEChunkTranslator: Sendable {
    mutating func translate(_ event: SSEEvent) throws(ProviderError) -> SSEStep
}

/// Reads an SSE response body on its own task and returns once the first chunk exists, so that a
/// failure before the first chunk is thrown (and can be retried or fall back) while later failures end
/// the returned stream with an error. Cancelling the returned stream cancels the body read, which
/// aborts the HTTP transfer.
enum SSEStreamPump {
    static func start<T: SSEChunkTranslator>(
        _ response: HTTPClientResponse, translator: T, apiBase: String?
    ) async throws(ProviderError) -> AsyncThrowingStream<JSONValue, any Error> {
        let (output, continuation) = AsyncThrowingStream<JSONValue, any Error>.makeStream()
        let first = FirstChunkSignal()
        let task = Task {
            var translator = translator
            var parser = SSEParser()
            var delivered = false
            var done = false
            func handle(_ events: [SSEEvent]) throws(ProviderError) {
                for event in events where !done {
                    switch try translator.translate(event) {
                    case .chunks(let chunks):
                        for chunk in chunks {
                            continuation.yield(chunk)
                            if !delivered {
                                delivered = true
                                first.signal(nil)
                            }
                        }
                    case .done:
                        done = true
                    }
                }
            }
            do {
                for try await bytes in response.body {
                    try handle(parser.feed(bytes))
                }
                try handle(parser.finish())
                if Task.isCancelled && !done {
                    throw ProviderError(status: 499, message: "Request cancelled", code: "cancelled", kind: .other)
                }
                if !delivered && !done {
                    throw ProviderError(status: 502, message: "Upstream stream ended without any data",
                                        type: "api_error", kind: .server)
                }
                if !done {
                    // The connection ended cleanly (close-delimited body) but the upstream never sent its end
                    // marker (`[DONE]`, `message_stop`): it died mid-answer. Without this the client would get
                    // a truncated answer that looks complete (and the cache would store it).
                    throw ProviderError(status: 502, message: "Upstream closed the stream before its end marker",
                                        type: "api_error", kind: .server)
                }
                first.signal(nil)
                continuation.finish()
            } catch {
                let mapped: ProviderError
                switch error {
                case let error as ProviderError: mapped = error
                case let error as SSEParser.LimitExceeded:
                    mapped = ProviderError(status: 502, message: "Upstream sent a \(error)", type: "api_error",
                                           kind: .server)
                case let error as HTTPClientError: mapped = .transport(error, apiBase: apiBase)
                default: mapped = ProviderError(status: 502, message: String(describing: error), kind: .server)
                }
                first.signal(mapped)
                continuation.finish(throwing: mapped)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        let failure = await withTaskCancellationHandler {
            await first.wait()
        } onCancel: {
            task.cancel()
        }
        if let failure { throw failure }
        return output
    }
}

/// A one-shot signal: the first `signal` wins; `wait` returns it (immediately if already signalled).
private final class FirstChunkSignal: @unchecked Sendable {
    // NOTE: @unchecked Sendable is safe: all state is guarded by `lock`.
    private let lock = NSLock()
    private var result: ProviderError??
    private var waiter: CheckedContinuation<ProviderError?, Never>?

    func signal(_ error: ProviderError?) {
        let waiter: CheckedContinuation<ProviderError?, Never>? = lock.withLock {
            guard result == nil else { return nil }
            result = .some(error)
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(returning: error)
    }

    func wait() async -> ProviderError? {
        await withCheckedContinuation { continuation in
            let ready: ProviderError?? = lock.withLock {
                if let result { return result }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
