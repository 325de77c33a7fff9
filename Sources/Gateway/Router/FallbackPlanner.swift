import Foundation
import NumericCore

/// The retry and fallback logic of one routed request, as a pure state machine: no I/O, no clock, no
/// randomness. The router feeds it events and performs the actions it returns.
///
/// Rules (LiteLLM `Router.async_function_with_fallbacks` / `should_retry_this_error`):
/// - a group is tried `1 + numRetries` times, with exponential backoff (0.5 s, 1 s, 2 s ... capped at
///   8 s) unless another healthy deployment exists (retry at once) or the upstream sent `retry-after`
///   (honoured up to 60 s); `retry_after` from the settings is the minimum delay;
/// - never retry a 404, a context-window error, a content-policy or other 400, or an overload (queue
///   full); don't retry a 401 in a one-deployment group; skip retries of a 429 when no other deployment
///   is healthy and the group has fallbacks;
/// - then fall back: context-window errors use `context_window_fallbacks`, content-policy errors
///   `content_policy_fallbacks` (both default to the generic list), everything else `fallbacks[group]`,
///   else `fallbacks["*"]`, else `default_fallbacks`; a request's own `fallbacks` replace the generic
///   list of the requested group; `disable_fallbacks` turns fallbacks off;
/// - a fallback group's own fallbacks are tried before the next sibling (depth-first, like LiteLLM's
///   recursion); each group is visited once (no cycles) and at most `maxFallbacks` hops are made;
/// - giving up reports the requested group's last error (its status is what the client sees).
public struct FallbackPlanner: Sendable {
    /// The settings the planner needs.
    public struct Policy: Sendable {
        public var numRetries: Int
        public var fallbacks: [String: [String]]
        public var contextWindowFallbacks: [String: [String]]
        public var contentPolicyFallbacks: [String: [String]]
        public var defaultFallbacks: [String]
        public var maxFallbacks: Int
        /// Minimum delay before a retry (`router_settings.retry_after`).
        public var minRetryDelay: Double
        /// `retry-after` values above this are ignored (LiteLLM: 60 s).
        public var maxHonouredRetryAfter: Double = 60
        public var backoffBase: Double = 0.5
        public var backoffMax: Double = 8

        public init(numRetries: Int = 2, fallbacks: [String: [String]] = [:],
                    contextWindowFallbacks: [String: [String]] = [:], contentPolicyFallbacks: [String: [String]] = [:],
                    defaultFallbacks: [String] = [], maxFallbacks: Int = 5, minRetryDelay: Double = 0) {
            self.numRetries = numRetries
            self.fallbacks = fallbacks
            self.contextWindowFallbacks = contextWindowFallbacks
            self.contentPolicyFallbacks = contentPolicyFallbacks
            self.defaultFallbacks = defaultFallbacks
            self.maxFallbacks = maxFallbacks
            self.minRetryDelay = minRetryDelay
        }

        public init(_ settings: RouterSettings) {
            self.init(numRetries: settings.numRetries, fallbacks: settings.fallbacks,
                      contextWindowFallbacks: settings.contextWindowFallbacks,
                      contentPolicyFallbacks: settings.contentPolicyFallbacks,
                      defaultFallbacks: settings.defaultFallbacks, maxFallbacks: settings.maxFallbacks,
                      minRetryDelay: settings.retryAfter)
            backoffBase = settings.retryBackoffBase
            backoffMax = settings.retryBackoffMax
        }

        /// Seconds to wait before retry number `retryIndex` (0-based) after `error`: the upstream's
        /// `retry-after` when given (up to `maxHonouredRetryAfter`), else at once when another healthy
        /// deployment can take it, else exponential backoff; never below `minRetryDelay`. The router's
        /// retries on one deployment (`max_retries`) use the same rule with no other deployment.
        public func retryDelay(after error: ProviderError, retryIndex: Int, healthyOthers: Int) -> Double {
            let delay: Double
            if let retryAfter = error.retryAfter, retryAfter > 0, retryAfter <= maxHonouredRetryAfter {
                delay = retryAfter
            } else if healthyOthers > 0 {
                delay = 0
            } else {
                delay = min(backoffBase * pow(2, Double(retryIndex)), backoffMax)
            }
            return max(delay, minRetryDelay)
        }
    }

    /// What happened to the last action.
    public enum Event: Sendable {
        /// The attempt succeeded.
        case succeeded
        /// The attempt failed. `groupSize` counts all deployments of the group; `healthyOthers` those
        /// other than the failed one that are not cooling down.
        case failed(ProviderError, groupSize: Int, healthyOthers: Int)
        /// Every deployment of the group is cooling down; the first is free again in `retryIn` seconds.
        case noDeploymentAvailable(retryIn: Double)
    }

    /// What the router should do next.
    public enum Action: Sendable, Equatable {
        /// Wait `delay` seconds, then call one deployment of `group`.
        case attempt(group: String, delay: Double)
        /// Stop: the request succeeded.
        case finish
        /// Stop: report this error.
        case giveUp(ProviderError)
    }

    public let requestedGroup: String
    public private(set) var currentGroup: String
    /// Retries made so far (attempts beyond the first in each group).
    public private(set) var attemptedRetries = 0
    /// Fallback hops made so far.
    public private(set) var attemptedFallbacks = 0
    /// Groups tried, in order.
    public private(set) var visited: [String]

    private let policy: Policy
    private let knownGroups: Set<String>
    private let requestFallbacks: [String]?
    private let disableFallbacks: Bool
    private var retriesInGroup = 0
    private var pending: [String] = []
    private var requestedGroupError: ProviderError?

    public init(group: String, policy: Policy, knownGroups: Set<String>, requestFallbacks: [String]? = nil,
                disableFallbacks: Bool = false) {
        requestedGroup = group
        currentGroup = group
        visited = [group]
        self.policy = policy
        self.knownGroups = knownGroups
        self.requestFallbacks = requestFallbacks
        self.disableFallbacks = disableFallbacks
    }

    /// The first action: try the requested group.
    public func start() -> Action { .attempt(group: requestedGroup, delay: 0) }

    /// Advances on an event.
    public mutating func next(_ event: Event) -> Action {
        switch event {
        case .succeeded:
            return .finish
        case .noDeploymentAvailable(let retryIn):
            let seconds = CheckedConversion.wholeSeconds(retryIn)
            let error = ProviderError(
                status: 429,
                message: "No deployments available for selected model, try again in \(seconds) seconds. "
                    + "Passed model=\(currentGroup)",
                type: "rate_limit_error", code: "429", retryAfter: retryIn, kind: .rateLimited)
            remember(error)
            return fallBack(after: error)
        case .failed(let error, let groupSize, let healthyOthers):
            remember(error)
            if retriesInGroup < policy.numRetries,
               shouldRetry(error, groupSize: groupSize, healthyOthers: healthyOthers) {
                let delay = backoff(error, retryIndex: retriesInGroup, healthyOthers: healthyOthers)
                retriesInGroup += 1
                attemptedRetries += 1
                return .attempt(group: currentGroup, delay: delay)
            }
            return fallBack(after: error)
        }
    }

    private mutating func remember(_ error: ProviderError) {
        if currentGroup == requestedGroup { requestedGroupError = error }
    }

    private func shouldRetry(_ error: ProviderError, groupSize: Int, healthyOthers: Int) -> Bool {
        switch error.kind {
        case .notFound, .contextWindowExceeded, .contentPolicy, .badRequest, .overloaded:
            return false
        case .authentication:
            return groupSize > 1
        case .rateLimited:
            return !(healthyOthers == 0 && !disableFallbacks && !fallbackList(for: currentGroup, error).isEmpty)
        case .other where error.status == 499:
            return false
        default:
            return true
        }
    }

    private func backoff(_ error: ProviderError, retryIndex: Int, healthyOthers: Int) -> Double {
        policy.retryDelay(after: error, retryIndex: retryIndex, healthyOthers: healthyOthers)
    }

    private func fallbackList(for group: String, _ error: ProviderError) -> [String] {
        let generic: [String]
        if group == requestedGroup, let requestFallbacks {
            generic = requestFallbacks
        } else {
            generic = policy.fallbacks[group] ?? policy.fallbacks["*"] ?? policy.defaultFallbacks
        }
        switch error.kind {
        case .contextWindowExceeded: return policy.contextWindowFallbacks[group] ?? generic
        case .contentPolicy: return policy.contentPolicyFallbacks[group] ?? generic
        default: return generic
        }
    }

    private mutating func fallBack(after error: ProviderError) -> Action {
        if disableFallbacks || (error.kind == .other && error.status == 499) { return giveUp(error) }
        var seen = Set(visited).union(pending)
        var fresh: [String] = []
        for group in fallbackList(for: currentGroup, error) where knownGroups.contains(group) {
            if seen.insert(group).inserted { fresh.append(group) }
        }
        pending = fresh + pending
        guard attemptedFallbacks < policy.maxFallbacks, !pending.isEmpty else { return giveUp(error) }
        let next = pending.removeFirst()
        attemptedFallbacks += 1
        currentGroup = next
        visited.append(next)
        retriesInGroup = 0
        return .attempt(group: next, delay: 0)
    }

    private func giveUp(_ last: ProviderError) -> Action {
        var error = requestedGroupError ?? last
        if attemptedFallbacks > 0 {
            error.message += " (fallbacks tried: \(visited.dropFirst().joined(separator: ", ")); "
                + "last error: \(last.message))"
        }
        return .giveUp(error)
    }
}
