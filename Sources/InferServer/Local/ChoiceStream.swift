import Engine

/// One engine request seen as OpenAI choice events: applies stop strings to the decoded text (never
/// emitting them), attaches each token to the text it completed, and maps the finish reason.
///
/// Dropping the stream (or calling `cancel()`) cancels the engine request, which frees its KV blocks.
///
/// NOTE: `@unchecked Sendable`: an instance is driven by one task at a time (created by the handler, then
/// handed to the task that writes the response); it is never used concurrently.
final class ChoiceStream: @unchecked Sendable {
    let promptTokens: Int
    private var iterator: AsyncThrowingStream<GenerationEvent, any Error>.AsyncIterator?
    private var prefetched: GenerationEvent?
    private var matcher: StopMatcher
    /// Tokens whose text is not fully emitted yet, with the bytes of it still held back.
    private var pending: [(token: TokenInfo, remaining: Int)] = []
    private var outbox: [ChoiceEvent] = []
    private var generated = 0
    private var done = false
    /// Prefix-cache reuse and first-token latency, as reported with every engine token.
    private var cachedTokens = 0
    private var firstTokenSeconds: Double?

    init(engine: InferenceEngine, request: GenerationRequest, stops: [String]) {
        promptTokens = request.promptTokens.count
        iterator = engine.submit(request).makeAsyncIterator()
        matcher = StopMatcher(stops: stops)
    }

    /// Waits for the engine's first event so that a rejected request (queue full, context overflow)
    /// throws here, before any response header is sent.
    func start() async throws {
        guard prefetched == nil, let iterator else { return }
        var it = iterator
        prefetched = try await it.next()
        self.iterator = it
    }

    /// The next event, or nil after `finished`.
    func next() async throws -> ChoiceEvent? {
        while outbox.isEmpty && !done {
            let event: GenerationEvent?
            if let p = prefetched {
                prefetched = nil
                event = p
            } else if var it = iterator {
                event = try await it.next()
                iterator = it
            } else {
                event = nil
            }
            guard let event else {
                // The engine ended the stream without a summary (shutdown): report what we have.
                finish(reason: "stop", cached: 0, ttft: nil)
                break
            }
            switch event {
            case .token(let t):
                generated += 1
                cachedTokens = t.cachedTokens
                firstTokenSeconds = firstTokenSeconds ?? t.timeToFirstToken
                pending.append((TokenInfo(id: t.id, logprob: t.logprob, top: t.top), t.text.utf8.count))
                accept(matcher.feed(t.text))
            case .finished(let summary):
                accept(matcher.feed(summary.trailingText))
                guard !done else { break }
                emit(matcher.flush(), includeRest: true)
                let reason = summary.finishReason == .stop ? "stop" : "length"
                finish(reason: reason, cached: summary.cachedTokens, ttft: summary.timeToFirstToken)
            }
        }
        return outbox.isEmpty ? nil : outbox.removeFirst()
    }

    /// Stops the engine request (frees its KV blocks).
    func cancel() {
        iterator = nil
        prefetched = nil
        done = true
    }

    private func accept(_ result: (emit: String, stopped: Bool)) {
        emit(result.emit, includeRest: result.stopped)
        if result.stopped && !done {
            finish(reason: "stop", cached: cachedTokens, ttft: firstTokenSeconds)
            iterator = nil   // cancels the engine request
        }
    }

    /// Emits `text` with the tokens it completes; with `includeRest` also the partially emitted token.
    private func emit(_ text: String, includeRest: Bool) {
        var bytes = text.utf8.count
        var tokens: [TokenInfo] = []
        while let first = pending.first, first.remaining <= bytes {
            bytes -= first.remaining
            tokens.append(first.token)
            pending.removeFirst()
        }
        if bytes > 0, !pending.isEmpty {
            pending[0].remaining -= bytes
            if includeRest {
                tokens.append(pending[0].token)
                pending.removeFirst()
            }
        }
        if includeRest { pending.removeAll() }
        if !text.isEmpty || !tokens.isEmpty { outbox.append(.delta(text: text, tokens: tokens)) }
    }

    private func finish(reason: String, cached: Int, ttft: Double?) {
        done = true
        outbox.append(.finished(reason: reason, stop: matcher.matched, usage: ChoiceUsage(
            promptTokens: promptTokens, completionTokens: generated, cachedTokens: cached, timeToFirstToken: ttft)))
    }
}
