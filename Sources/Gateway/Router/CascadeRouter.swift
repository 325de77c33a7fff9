import Redis

/// Runs `router_settings.cascades`: each tier is asked in turn (through the `ProviderRouter`, so retries,
/// cooldowns and authorization apply per tier) and its answer is returned when the cascade's gate accepts it;
/// a failing or rejected tier escalates to the next; the last tier's answer is returned as it is. A request the
/// cascade's `CascadeClassifier` picks out starts at its `route_to` tier instead of the first.
///
/// Tiers are called without streaming: the gate needs the whole answer. A streaming client gets the accepted
/// answer replayed as SSE, so its time to first token is the accepted tier's whole generation time. When the
/// gate checks log-probabilities, lower tiers are asked for them and they are removed again unless the client
/// asked for them too. Authorization: the caller must be allowed the cascade's name (at the edge) and each tier
/// it reaches (the router refuses a tier the key may not use, like any group).
public final class CascadeRouter: Sendable {
    public let cascades: [String: Cascade]
    let router: ProviderRouter
    /// Answers per cascade and tier.
    private let answers = SyncBox<[String: [String: Int]]>([:])

    public init(router: ProviderRouter) {
        self.router = router
        var map: [String: Cascade] = [:]
        for c in router.settings.cascades { map[c.name] = c }
        cascades = map
    }

    /// Answers per cascade and tier since start.
    public func snapshot() -> [String: [String: Int]] { answers.current }

    public func route(_ cascade: Cascade, request: ProviderRequest, caller: Caller) async throws(RouterError) -> RoutedResult {
        var call = request
        call.stream = false
        call.body = request.body.settingField("stream", nil).settingField("stream_options", nil)
        let clientLogprobs = request.body["logprobs"] == .bool(true)
        var rejections: [String] = []
        // The classifier may send the request straight to a higher tier.
        var first = 0
        let classified = cascade.classifier?.reason(for: request.body)
        if let classified, let classifier = cascade.classifier {
            first = classifier.routeTo.flatMap { cascade.tiers.firstIndex(of: $0) } ?? cascade.tiers.count - 1
        }
        for (index, tier) in cascade.tiers.enumerated() where index >= first {
            let last = index == cascade.tiers.count - 1
            var tierCall = call
            if !last, cascade.gate.minMeanLogprob != nil, request.endpoint == .chat {
                tierCall.body = call.body.settingField("logprobs", .bool(true))
            }
            let routed: RoutedResult
            do {
                // Lower tiers escalate to the next tier instead of using their own fallbacks.
                routed = try await router.route(modelGroup: tier, request: tierCall, disableFallbacks: !last, caller: caller)
            } catch {
                if last { throw error }
                rejections.append("\(tier): error \(error.error.status)")
                continue
            }
            guard case .response(var json) = routed.result else {
                if last { return routed }
                rejections.append("\(tier): streamed")
                continue
            }
            if !last, let reason = cascade.gate.rejection(of: json, request: request.body) {
                rejections.append("\(tier): \(reason)")
                continue
            }
            if !clientLogprobs, case .array(let choices)? = json["choices"] {
                json = json.settingField("choices", .array(choices.map { $0.settingField("logprobs", .null) }))
            }
            json = json.settingField("model", .string(cascade.name))
            answers.withLock { $0[cascade.name, default: [:]][tier, default: 0] += 1 }
            var out = routed
            out.requestedModel = cascade.name
            out.cascadeTier = tier
            out.cascadeRejections = rejections
            out.cascadeClassifier = classified.map { "\($0) -> \(cascade.tiers[first])" }
            if request.stream {
                let chunks = CacheReplay.streamChunks(from: json, includeUsage: request.includeUsage)
                out.result = .stream(AsyncThrowingStream { c in
                    for chunk in chunks { c.yield(chunk) }
                    c.finish()
                })
            } else {
                out.result = .response(json)
            }
            return out
        }
        preconditionFailure("a cascade has at least two tiers and the last one returns or throws")
    }
}
