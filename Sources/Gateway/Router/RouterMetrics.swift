/// Counters of one deployment, as a snapshot.
public struct DeploymentMetrics: Sendable, Equatable {
    public var id: String
    public var group: String
    public var apiBase: String?
    public var successes = 0
    public var failures = 0
    /// Times this deployment entered a cooldown.
    public var cooldowns = 0
    /// Times a failure here made the request fall back to another group.
    public var fallbacks = 0
    /// Calls currently running (streams count until they end).
    public var inFlight = 0
    /// Seconds of successful non-streaming calls, and of time to first chunk for streams.
    public var latencySum = 0.0
    public var latencyCount = 0
    public var timeToFirstChunkSum = 0.0
    public var timeToFirstChunkCount = 0
    /// `prefix-aware`: requests routed here by reason (`prefix`, `spread`, `balance`).
    public var prefixRouted: [String: Int] = [:]
    /// `prefix-aware`: size of this deployment's tree.
    public var prefixTreeBytes = 0
}

/// What the router knows about a request when it picks a deployment.
struct RoutingInput: Sendable {
    /// `RoutingText` of the body (empty unless the strategy is `prefix-aware`).
    var text: [UInt8] = []
    /// `StickySessions.key` of the session (nil: no session, or sticky sessions off).
    var session: [UInt8]?
    /// `latency-based-routing`: the shared store's averages (nil: use this instance's own).
    var latencies: [String: Double]?
}

/// Per-router mutable state reached from many requests: in-flight counts, latency averages for
/// `latency-based-routing`, the random generator for `simple-shuffle`, the `prefix-aware` trees, the sticky
/// sessions, and metrics.
actor RouterState {
    private var metrics: [String: DeploymentMetrics] = [:]
    private var averageLatency: [String: Double] = [:]
    private var random: any RandomNumberGenerator & Sendable
    private let order: [String]
    private let settings: RouterSettings
    /// `prefix-aware`: what was routed to each deployment.
    private var trees: [String: PrefixTree] = [:]
    private var sessions: StickySessions

    /// Weight of the newest sample in the latency moving average.
    static let latencySmoothing = 0.3

    init(deployments: [Deployment], settings: RouterSettings, random: any RandomNumberGenerator & Sendable) {
        self.random = random
        self.settings = settings
        order = deployments.map(\.id)
        sessions = StickySessions(capacity: max(1, settings.stickySessionsMax))
        for d in deployments { metrics[d.id] = DeploymentMetrics(id: d.id, group: d.group, apiBase: d.apiBase) }
    }

    /// Chooses among `candidates` (healthy, not yet failed for this request): the session's deployment if it
    /// is one of them, else the strategy's choice (which the session then sticks to).
    func pick(_ candidates: [Deployment], strategy: RoutingStrategy, input: RoutingInput = RoutingInput()) -> Deployment {
        let chosen: Deployment
        if let key = input.session, let id = sessions.lookup(key), let same = candidates.first(where: { $0.id == id }) {
            chosen = same
        } else {
            chosen = pickByStrategy(candidates, strategy: strategy, text: input.text, latencies: input.latencies)
            if let key = input.session { sessions.record(key, deployment: chosen.id) }
        }
        if strategy == .prefixAware, !input.text.isEmpty {
            trees[chosen.id, default: PrefixTree(maxBytes: settings.prefixTreeMaxBytes)].insert(input.text)
            metrics[chosen.id]?.prefixTreeBytes = trees[chosen.id]?.size ?? 0
        }
        return chosen
    }

    private func pickByStrategy(_ candidates: [Deployment], strategy: RoutingStrategy, text: [UInt8],
                                latencies: [String: Double]?) -> Deployment {
        if candidates.count == 1 { return candidates[0] }
        switch strategy {
        case .prefixAware:
            let facts = candidates.map { d in
                PrefixAwareSelection.Candidate(load: metrics[d.id]?.inFlight ?? 0, matched: trees[d.id]?.match(text) ?? 0,
                                               treeSize: trees[d.id]?.size ?? 0)
            }
            let (indices, reason) = PrefixAwareSelection.choose(
                facts, textBytes: text.count, cacheThreshold: settings.prefixCacheThreshold,
                matchTolerance: settings.prefixMatchTolerance, balanceAbs: settings.prefixBalanceAbsThreshold,
                balanceRel: settings.prefixBalanceRelThreshold)
            let chosen = candidates[tieBreak(indices)]
            metrics[chosen.id]?.prefixRouted[reason.rawValue, default: 0] += 1
            return chosen
        case .simpleShuffle:
            let unit = Double.random(in: 0..<1, using: &random)
            return candidates[DeploymentSelection.weightedIndex(DeploymentSelection.weights(candidates), unit: unit)]
        case .leastBusy:
            let busy = candidates.map { Double(metrics[$0.id]?.inFlight ?? 0) }
            return candidates[tieBreak(DeploymentSelection.argmins(busy))]
        case .latencyBased:
            // Unmeasured deployments first (-1), so every deployment gets measured; the shared store's numbers
            // (every gateway instance's samples) win over this instance's own.
            let latency = candidates.map { latencies?[$0.id] ?? averageLatency[$0.id] ?? -1 }
            return candidates[tieBreak(DeploymentSelection.argmins(latency))]
        }
    }

    private func tieBreak(_ indices: [Int]) -> Int {
        indices.count == 1 ? indices[0] : indices[Int.random(in: 0..<indices.count, using: &random)]
    }

    func begin(_ id: String) { metrics[id]?.inFlight += 1 }

    func end(_ id: String) { metrics[id]?.inFlight -= 1 }

    /// A successful call (`latency`: total for non-streaming, time to first chunk for streams).
    func recordSuccess(_ id: String, latency: Double, streamed: Bool) {
        metrics[id]?.successes += 1
        if streamed {
            metrics[id]?.timeToFirstChunkSum += latency
            metrics[id]?.timeToFirstChunkCount += 1
        } else {
            metrics[id]?.latencySum += latency
            metrics[id]?.latencyCount += 1
        }
        let previous = averageLatency[id] ?? latency
        averageLatency[id] = previous + Self.latencySmoothing * (latency - previous)
    }

    func recordFailure(_ id: String, cooledDown: Bool) {
        metrics[id]?.failures += 1
        if cooledDown { metrics[id]?.cooldowns += 1 }
    }

    func recordFallback(from id: String) { metrics[id]?.fallbacks += 1 }

    func snapshot() -> [DeploymentMetrics] { order.compactMap { metrics[$0] } }
}
