import Foundation
import Gateway
import Logging

/// The alert rules running in the server: observations from the request path go into an `AlertEvaluator`;
/// a task evaluates it every `interval` seconds (refreshing the deployment-cooldown and Redis conditions
/// first) and hands due notifications to the `AlertNotifier`. Recent notifications are kept for the
/// dashboard.
actor AlertMonitor {
    private var evaluator: AlertEvaluator
    private let notifier: AlertNotifier
    private let router: ProviderRouter
    private let redisHealthy: (@Sendable () async -> Bool)?
    private let keys: [VirtualKeyConfig]
    private let spend: SpendTracker
    private let interval: Double
    private var task: Task<Void, Never>?
    private(set) var recent: [AlertEvaluator.Notification] = []
    /// Cooldowns counted per deployment at the last tick (a cooldown shorter than the interval still alerts).
    private var cooldownsSeen: [String: Int] = [:]

    init(thresholds: AlertThresholds, notifier: AlertNotifier, router: ProviderRouter, interval: Double,
         redisHealthy: (@Sendable () async -> Bool)?, keys: [VirtualKeyConfig], spend: SpendTracker) {
        self.keys = keys.filter { $0.maxBudget != nil || $0.softBudget != nil }
        self.spend = spend
        evaluator = AlertEvaluator(thresholds: thresholds)
        self.notifier = notifier
        self.router = router
        self.interval = interval
        self.redisHealthy = redisHealthy
    }

    /// Starts the evaluation loop (idempotent).
    func start() {
        guard task == nil else { return }
        let seconds = interval
        task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(seconds))
                await self?.tick()
            }
        }
    }

    func stop() {
        task?.cancel()
        task = nil
    }

    func request(failed: Bool, latency: Double) {
        evaluator.request(at: Date().timeIntervalSince1970, failed: failed, latency: latency)
    }

    func cost(_ amount: USDAmount) { evaluator.cost(at: Date().timeIntervalSince1970, amount) }

    func cacheLookup(hit: Bool) { evaluator.cacheLookup(at: Date().timeIntervalSince1970, hit: hit) }

    /// Whether Redis answered at the last evaluation (nil: no Redis configured).
    private(set) var redisUp: Bool?

    /// One evaluation: refresh the external conditions, then send what is due.
    func tick() async {
        for d in await router.metricsSnapshot() {
            let left = await router.cooldownRemaining(deploymentID: d.id)
            let entered = d.cooldowns > cooldownsSeen[d.id, default: 0]
            cooldownsSeen[d.id] = d.cooldowns
            let message = "Deployment \(d.id) of model group \(d.group) was cooled down after failures"
                + (left.map { " (\(Int($0.rounded(.up))) s left)" } ?? "")
            evaluator.set(.deploymentCooledDown, subject: d.id, holds: left != nil || entered ? message : nil)
        }
        if let redisHealthy {
            let up = await redisHealthy()
            redisUp = up
            evaluator.set(.redisDown, holds: up ? nil : "Redis does not answer (caches miss, limits count per instance)")
        }
        // Budgets: a key's spend in its window at or over soft_budget / max_budget (shared through Redis, so
        // every instance sees it); clears when the window resets.
        for key in keys {
            let spent = await spend.spend(key)
            let name = key.alias ?? "key " + APIKeyStore.fingerprint(key.key)
            for (kind, budget) in [("soft_budget", key.softBudget), ("max_budget", key.maxBudget)] {
                guard let budget else { continue }
                evaluator.set(.budgetCrossed, subject: "\(name) \(kind)", holds: spent >= budget
                    ? "\(name) spent \(spent) USD, crossing its \(kind) of \(budget) USD" : nil)
            }
        }
        let due = evaluator.evaluate(now: Date().timeIntervalSince1970)
        guard !due.isEmpty else { return }
        recent.append(contentsOf: due)
        if recent.count > 200 { recent.removeFirst(recent.count - 200) }
        for n in due { await notifier.send(n) }
    }
}
