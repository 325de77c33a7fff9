/// Where deployment cooldowns live: in memory for one instance, Redis when shared.
///
/// Contract: `recordFailure` applies `CooldownPolicy` and returns whether the deployment entered a
/// cooldown; `cooldownRemaining` is nil for a healthy deployment.
public protocol CooldownStore: Sendable {
    /// Seconds left of the deployment's cooldown; nil when it is not cooling down.
    func cooldownRemaining(deploymentID: String) async -> Double?
    /// Records a failed call; true when this failure put the deployment into cooldown.
    func recordFailure(deploymentID: String, error: ProviderError, groupSize: Int) async -> Bool
    /// Records a successful call.
    func recordSuccess(deploymentID: String) async
}

/// LiteLLM's cooldown rules (`litellm/router_utils/cooldown_handlers.py`), as a pure decision.
public struct CooldownPolicy: Sendable, Equatable {
    /// What a failure does to the deployment.
    public enum Decision: Sendable, Equatable {
        /// Cool down now for this many seconds.
        case coolDown(seconds: Double)
        /// Count it towards `allowedFails` in the current minute.
        case count
        /// A client-side error (bad request, context window, content policy): no effect.
        case ignore
    }

    /// Seconds a cooldown lasts (`cooldown_time`, LiteLLM default 5).
    public var cooldownTime: Double
    /// Failures per minute allowed before cooling down (`allowed_fails`, default 3).
    public var allowedFails: Int
    /// Length of the failure-counting window.
    public var window: Double = 60

    public init(cooldownTime: Double = 5, allowedFails: Int = 3) {
        self.cooldownTime = cooldownTime
        self.allowedFails = allowedFails
    }

    /// Immediate cooldown on 401, 404 and 408 (timeouts), and on 429 when the group has other
    /// deployments; other 4xx errors are the request's fault and ignored; everything else counts.
    ///
    /// NOTE: a 429 with `retry-after` longer than `cooldown_time` cools down for the retry-after (at most
    /// 60 s): the upstream said when it will accept work again.
    public func decide(_ error: ProviderError, groupSize: Int) -> Decision {
        switch error.status {
        case 401, 404, 408:
            return .coolDown(seconds: cooldownTime)
        case 429:
            guard groupSize > 1 else { return .count }
            return .coolDown(seconds: max(cooldownTime, min(error.retryAfter ?? 0, 60)))
        case 400..<500:
            return .ignore
        default:
            return .count
        }
    }

    /// Whether `failures` counted failures in the window cool the deployment down. A one-deployment
    /// group never cools down by count (there is nothing to route to instead).
    public func exceedsAllowedFails(_ failures: Int, groupSize: Int) -> Bool {
        groupSize > 1 && failures > allowedFails
    }
}

/// In-process cooldown state, generic over the clock so tests can move time by hand.
public actor InMemoryCooldownStore<C: Clock>: CooldownStore where C.Duration == Duration {
    private let policy: CooldownPolicy
    private let clock: C
    private var until: [String: C.Instant] = [:]
    private var failures: [String: (windowStart: C.Instant, count: Int)] = [:]

    public init(policy: CooldownPolicy, clock: C) {
        self.policy = policy
        self.clock = clock
    }

    public func cooldownRemaining(deploymentID: String) -> Double? {
        guard let end = until[deploymentID] else { return nil }
        let left = clock.now.duration(to: end)
        guard left > .zero else {
            until[deploymentID] = nil
            return nil
        }
        return Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
    }

    public func recordFailure(deploymentID: String, error: ProviderError, groupSize: Int) -> Bool {
        let now = clock.now
        switch policy.decide(error, groupSize: groupSize) {
        case .ignore:
            return false
        case .coolDown(let seconds):
            coolDown(deploymentID, seconds: seconds, now: now)
            return true
        case .count:
            var entry = failures[deploymentID] ?? (now, 0)
            if entry.windowStart.duration(to: now) >= .seconds(policy.window) { entry = (now, 0) }
            entry.count += 1
            failures[deploymentID] = entry
            if policy.exceedsAllowedFails(entry.count, groupSize: groupSize) {
                coolDown(deploymentID, seconds: policy.cooldownTime, now: now)
                return true
            }
            return false
        }
    }

    public func recordSuccess(deploymentID: String) {}

    private func coolDown(_ id: String, seconds: Double, now: C.Instant) {
        until[id] = now.advanced(by: .milliseconds(Int64((seconds * 1000).rounded())))
        failures[id] = nil
    }
}

extension InMemoryCooldownStore where C == ContinuousClock {
    /// A store on the real monotonic clock.
    public init(policy: CooldownPolicy) {
        self.init(policy: policy, clock: ContinuousClock())
    }
}
