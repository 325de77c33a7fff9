import Foundation
import Gateway
import Hummingbird
import NIOCore
import OpenAIRequest

/// Cancels work whose client has gone away before anything was written to it: a non-streaming answer
/// still being generated, or a stream still queued or in prefill.
///
/// Streams notice a dead client on their next write (or after `--write-timeout`); a non-streaming
/// request writes nothing until its answer is complete, so without this its generation would run to
/// `max_tokens` for nobody. Hummingbird enables remote half-closure, so a client's close only shows up as
/// an `inputClosed` event on the channel (the channel itself stays open until the server closes it): a
/// small handler at the head of the pipeline watches for it (and for `channelInactive`).
///
/// NOTE: a client that half-closes on purpose (`shutdown(SHUT_WR)`) and still waits for the answer is
/// treated as gone too, as Go's net/http and uvicorn do; HTTP/1.1 clients do not do that in practice.
enum ClientDisconnect {
    /// Runs `body`; if the connection's input closes first, cancels it and throws a 499.
    static func cancellingOnClose<T: Sendable>(_ channel: any Channel,
                                              _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let watcher = try? await watcher(for: channel) else { return try await body() }
        let gone = ClientGone()
        return try await withThrowingTaskGroup(of: T?.self, returning: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                await watcher.waitForClose()
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let value = result { return value }
                throw gone.error
            }
            throw gone.error
        }
    }

    /// The connection's watcher (installed at the head of the pipeline on first use).
    private static func watcher(for channel: any Channel) async throws -> CloseWatcher {
        try await channel.eventLoop.submit { () throws -> CloseWatcher in
            let ops = channel.pipeline.syncOperations
            if let existing = try? ops.handler(type: CloseWatcherHandler.self) { return existing.watcher }
            let handler = CloseWatcherHandler()
            try ops.addHandler(handler, position: .first)
            return handler.watcher
        }.get()
    }

    private struct ClientGone {
        var error: OpenAIError {
            OpenAIError(status: HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"),
                        message: "The client closed the connection before the response was ready.",
                        type: "invalid_request_error", code: "client_closed_request")
        }
    }
}
