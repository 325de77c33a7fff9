import Engine
import Hummingbird
import Logging
import Gateway
import OpenAIRequest

/// Drives the choice streams of one request, for both response modes.
enum ChoiceDriver {
    /// Runs every choice to the end. Choices are consumed one after another; the engine runs them
    /// concurrently and buffers their events meanwhile.
    static func collect(_ streams: [ChoiceStream], server: OpenAIServer) async throws -> [CollectedChoice] {
        var out: [CollectedChoice] = []
        do {
            for s in streams {
                var c = CollectedChoice()
                while let event = try await s.next() {
                    switch event {
                    case .delta(let text, let tokens):
                        c.text += text
                        c.tokens += tokens
                    case .finished(let reason, let stop, let usage):
                        c.finishReason = reason
                        c.stopString = stop
                        c.usage = usage
                        await server.metrics.choice(usage)
                    }
                }
                out.append(c)
            }
        } catch {
            for s in streams { s.cancel() }
            if let e = error as? EngineError { throw OpenAIError.from(engine: e, param: "prompt") }
            throw error
        }
        return out
    }

    /// The chunk objects of a streamed response (the SSE framing is `SSEResponse`'s). Each choice's text
    /// goes out as it is decoded, except that the latest piece (after the first) is held until the next
    /// event so that the finish reason rides on the last content chunk. A generation failure ends the
    /// stream with an `OpenAIError`; when the consumer stops (client gone) every choice is cancelled.
    static func chunks(_ streams: [ChoiceStream], promptOf: [Int], promptCount: Int, includeUsage: Bool,
                       format: ChunkFormat, server: OpenAIServer, logger: Logger,
                       onFinish: @escaping @Sendable ([[ChoiceUsage]]) -> Void) -> AsyncThrowingStream<JSONValue, any Error> {
        let (output, out) = AsyncThrowingStream.makeStream(of: JSONValue.self)
        let producer = Task {
            var usages = Array(repeating: [ChoiceUsage](), count: promptCount)
            do {
                for chunk in format.opening() { out.yield(chunk) }
                let (events, continuation) = AsyncStream.makeStream(of: (Int, Result<ChoiceEvent, any Error>).self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (i, s) in streams.enumerated() {
                        group.addTask {
                            do {
                                while let e = try await s.next() { continuation.yield((i, .success(e))) }
                            } catch {
                                continuation.yield((i, .failure(error)))
                            }
                        }
                    }
                    var held: [Int: (String, [TokenInfo])] = [:]
                    var started = Set<Int>()
                    var remaining = streams.count
                    for await (i, result) in events {
                        try Task.checkCancellation()
                        switch result {
                        case .failure(let error):
                            let e = (error as? EngineError).map { OpenAIError.from(engine: $0, param: "prompt") }
                                ?? OpenAIError.internalError
                            if e.status == .internalServerError { logger.error("generation failed: \(error)") }
                            group.cancelAll()   // children stop waiting: their engine requests are cancelled
                            continuation.finish()
                            throw e
                        case .success(.delta(let text, let tokens)):
                            if let (t, toks) = held[i] {
                                for c in format.chunk(i, t, toks, nil) { out.yield(c) }
                                held[i] = (text, tokens)
                            } else if !started.contains(i) {
                                started.insert(i)
                                for c in format.chunk(i, text, tokens, nil) { out.yield(c) }
                            } else {
                                held[i] = (text, tokens)
                            }
                        case .success(.finished(let reason, let stop, let usage)):
                            let (t, toks) = held.removeValue(forKey: i) ?? ("", [])
                            for c in format.chunk(i, t, toks, reason) { out.yield(Self.stopReason(stop, on: c)) }
                            usages[promptOf[i]].append(usage)
                            await server.metrics.choice(usage)
                            remaining -= 1
                        }
                        if remaining == 0 { break }
                    }
                    continuation.finish()
                    // NOTE: a cancelled consumer (client gone) ends `for await` with nil rather than an error;
                    // without this check the stream "finished normally" with no usage, so the request was
                    // logged as `prompt=0 cached=0 completion=0` and its usage chunk was built for nobody.
                    try Task.checkCancellation()
                }
                if includeUsage { out.yield(format.usage(UsageTotals(perPrompt: usages))) }
                out.finish()
                onFinish(usages)
            } catch {
                // The consumer went away (or the task was cancelled at shutdown): stop generating.
                for s in streams { s.cancel() }
                if error is CancellationError {
                    logger.info("stream cancelled (client gone or shutdown)")
                } else {
                    logger.info("stream ended early: \(error)")
                }
                out.finish(throwing: error)
            }
        }
        out.onTermination = { _ in producer.cancel() }
        return output
    }

    /// vLLM's `stop_reason` (the matched stop string) beside the finish reason of `chunk`'s finishing choices.
    static func stopReason(_ stop: String?, on chunk: JSONValue) -> JSONValue {
        guard let stop, case .array(let choices)? = chunk["choices"] else { return chunk }
        return chunk.settingField("choices", .array(choices.map { c in
            guard case .string? = c["finish_reason"] else { return c }
            return c.settingField("stop_reason", .string(stop))
        }))
    }
}
