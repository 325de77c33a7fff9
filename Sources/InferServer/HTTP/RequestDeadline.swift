import Gateway
import Hummingbird
import OpenAIRequest
import Synchronization

/// The end-to-end deadline of one request.
enum RequestDeadline {
    /// Runs `body`; past `deadline` it is cancelled and a 408 `deadlineExceeded` (naming the limit,
    /// `seconds`) is thrown.
    static func run<T: Sendable>(until deadline: ContinuousClock.Instant, seconds: Double,
                                 _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw OpenAIError.deadlineExceeded(seconds: seconds)
            }
            return value
        }
    }

    /// `chunks` cut off at `deadline`: past it the stream ends with a `deadlineExceeded` error (an error
    /// event for the client) and the source is cancelled, which stops its generation.
    static func stream(_ chunks: AsyncThrowingStream<JSONValue, any Error>, until deadline: ContinuousClock.Instant,
                       seconds: Double) -> AsyncThrowingStream<JSONValue, any Error> {
        let (output, out) = AsyncThrowingStream.makeStream(of: JSONValue.self)
        let forward = Task {
            do {
                for try await chunk in chunks { out.yield(chunk) }
                out.finish()
            } catch {
                out.finish(throwing: error)
            }
        }
        let timer = Task {
            try await Task.sleep(until: deadline)
            out.finish(throwing: OpenAIError.deadlineExceeded(seconds: seconds))
            forward.cancel()
        }
        out.onTermination = { _ in
            forward.cancel()
            timer.cancel()
        }
        return output
    }
}
