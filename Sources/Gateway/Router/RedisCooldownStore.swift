import Logging
import NumericCore
import Redis

/// Cooldown state shared by every server instance through Redis (SPEC-gateway: "With Redis configured,
/// cooldown state is shared across instances"), with LiteLLM's rules from `CooldownPolicy`.
///
/// Keys: `<prefix>:cooldown:<deployment id>` holds the cooldown end with a millisecond TTL (its PTTL is
/// the time left); `<prefix>:fails:<deployment id>` counts failures of the current window (INCR, expiring
/// with the window). Deployment ids are stable across instances reading the same config.
///
/// NOTE: a Redis failure falls back to this instance's in-memory store (the circuit breaker keeps that
/// cheap), so a dead Redis never blocks routing; state is then per instance until Redis is back.
public final class RedisCooldownStore: CooldownStore {
    private let redis: RedisClient
    private let policy: CooldownPolicy
    private let prefix: String
    private let local: InMemoryCooldownStore<ContinuousClock>
    private let logger: Logger

    public init(redis: RedisClient, policy: CooldownPolicy, prefix: String = "infer",
                logger: Logger = Logger(label: "gateway.cooldown")) {
        self.redis = redis
        self.policy = policy
        self.prefix = prefix
        local = InMemoryCooldownStore(policy: policy)
        self.logger = logger
    }

    private func cooldownKey(_ id: String) -> String { "\(prefix):cooldown:\(id)" }
    private func failsKey(_ id: String) -> String { "\(prefix):fails:\(id)" }

    public func cooldownRemaining(deploymentID: String) async -> Double? {
        do {
            guard case .int(let ms) = try await redis.command(["PTTL", cooldownKey(deploymentID)]), ms > 0 else {
                return nil
            }
            return Double(ms) / 1000
        } catch {
            return await local.cooldownRemaining(deploymentID: deploymentID)
        }
    }

    public func recordFailure(deploymentID: String, error failure: ProviderError, groupSize: Int) async -> Bool {
        do {
            switch policy.decide(failure, groupSize: groupSize) {
            case .ignore:
                return false
            case .coolDown(let seconds):
                try await coolDown(deploymentID, seconds: seconds)
                return true
            case .count:
                let key = failsKey(deploymentID)
                guard case .int(let count) = try await redis.command(["INCR", key]) else { return false }
                if count == 1 { _ = try await redis.command(["PEXPIRE", key, String(CheckedConversion.milliseconds(policy.window))]) }
                if policy.exceedsAllowedFails(count, groupSize: groupSize) {
                    try await coolDown(deploymentID, seconds: policy.cooldownTime)
                    return true
                }
                return false
            }
        } catch {
            logger.debug("cooldown store: redis unavailable, using local state", metadata: ["error": "\(error)"])
            return await local.recordFailure(deploymentID: deploymentID, error: failure, groupSize: groupSize)
        }
    }

    public func recordSuccess(deploymentID: String) async {}

    private func coolDown(_ id: String, seconds: Double) async throws(RedisError) {
        let ms = CheckedConversion.milliseconds(seconds)
        _ = try await redis.command(["SET", cooldownKey(id), "1", "PX", String(ms)])
        _ = try await redis.command(["DEL", failsKey(id)])
    }
}
