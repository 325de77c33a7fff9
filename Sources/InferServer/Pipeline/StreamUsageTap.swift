import Gateway
import Synchronization

/// Keeps a routed stream's usage for cost and budgets when the client did not ask for it.
///
/// NOTE: the gateway always asks deployments for the usage chunk (`stream_options.include_usage`), because
/// a stream's price is its usage: without it a streaming client would spend nothing against its budget.
/// When the client did not ask, this tap takes the usage out again before the chunks reach it: the final
/// usage-only chunk (empty `choices`) is dropped and the `"usage": null` fields are removed, so the client
/// sees what it asked for while the gateway still learns the usage.
final class StreamUsageTap: Sendable {
    private let captured = Mutex<JSONValue?>(nil)

    /// The last `usage` object seen, if any.
    var usage: JSONValue? { captured.withLock { $0 } }

    /// `chunks` as the client should see them (`includeUsage`: unchanged), recording the usage on the way.
    func tap(_ chunks: AsyncThrowingStream<JSONValue, any Error>, includeUsage: Bool)
        -> AsyncThrowingStream<JSONValue, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await chunk in chunks {
                        if let out = self.pass(chunk, includeUsage: includeUsage) { continuation.yield(out) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// One chunk as the client sees it (nil: dropped).
    func pass(_ chunk: JSONValue, includeUsage: Bool) -> JSONValue? {
        let usage = chunk["usage"]
        if let usage, case .object = usage { captured.withLock { $0 = usage } }
        guard !includeUsage, let usage else { return chunk }
        if case .array(let choices)? = chunk["choices"], choices.isEmpty { return nil }
        return usage == .null ? chunk.settingField("usage", nil) : chunk
    }
}
