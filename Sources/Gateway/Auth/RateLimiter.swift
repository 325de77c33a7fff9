import Foundation
import Logging
import Redis

/// Counters per fixed one-minute window, shared by server instances when they live in Redis.
public protocol RateLimitStore: Sendable {
    /// Adds `amount` to counter `name` in the current minute; returns the new total and the seconds until
    /// the window ends.
    func add(_ name: String, amount: Int) async -> (total: Int, resetIn: Double)
}

/// In-process counters (one instance, or the fallback while Redis is down).
public actor InMemoryRateLimitStore: RateLimitStore {
    private var counters: [String: (window: Int, total: Int)] = [:]
    private let now: @Sendable () -> Double

    public init(now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) { self.now = now }

    public func add(_ name: String, amount: Int) -> (total: Int, resetIn: Double) {
        let t = now()
        let window = Int(t / 60)
        var entry = counters[name] ?? (window, 0)
        if entry.window != window { entry = (window, 0) }
        // NOTE: saturating: token amounts come from upstream `usage` (Int.max from a broken upstream would
        // otherwise trap, or wrap negative and lift the limit in an -Ounchecked build).
        let (sum, overflow) = entry.total.addingReportingOverflow(amount)
        entry.total = overflow ? (amount > 0 ? .max : .min) : sum
        counters[name] = entry
        if counters.count > 100_000 { counters = counters.filter { $0.value.window == window } }
        return (entry.total, Double(window + 1) * 60 - t)
    }
}

/// Counters in Redis (`<prefix>:rl:<name>:<minute>`, INCRBY + expiry), so several instances share limits.
/// NOTE: a Redis failure falls back to in-process counters (the circuit breaker keeps that cheap): limits
/// then hold per instance until Redis is back, and requests are never refused because Redis is down.
public final class RedisRateLimitStore: RateLimitStore {
    private let redis: RedisClient
    private let prefix: String
    private let local = InMemoryRateLimitStore()

    public init(redis: RedisClient, prefix: String = "infer") {
        self.redis = redis
        self.prefix = prefix
    }

    public func add(_ name: String, amount: Int) async -> (total: Int, resetIn: Double) {
        let t = Date().timeIntervalSince1970
        let window = Int(t / 60)
        let key = "\(prefix):rl:\(name):\(window)"
        do {
            guard case .int(let total) = try await redis.command(["INCRBY", key, String(amount)]) else {
                return await local.add(name, amount: amount)
            }
            if total == amount { _ = try await redis.command(["EXPIRE", key, "120"]) }
            return (total, Double(window + 1) * 60 - t)
        } catch {
            return await local.add(name, amount: amount)
        }
    }
}

/// Per-key `rpm` / `tpm` limits of the config's `keys:` (issue 8): requests over the minute's budget get a
/// 429 with `Retry-After` (seconds to the next window).
public struct RateLimiter: Sendable {
    let store: any RateLimitStore

    public init(store: any RateLimitStore) { self.store = store }

    /// Counts one request of `key`; nil when admitted, else the seconds to wait.
    public func admit(_ key: VirtualKeyConfig) async -> Double? {
        let id = APIKeyStore.fingerprint(key.key)
        if let rpm = key.rpm {
            let (total, resetIn) = await store.add("rpm:\(id)", amount: 1)
            if total > rpm { return max(1, resetIn) }
        }
        if let tpm = key.tpm {
            let (used, resetIn) = await store.add("tpm:\(id)", amount: 0)
            if used >= tpm { return max(1, resetIn) }
        }
        return nil
    }

    /// Charges the tokens a finished request used against `key`'s `tpm`.
    public func charge(_ key: VirtualKeyConfig, tokens: Int) async {
        guard key.tpm != nil, tokens > 0 else { return }
        _ = await store.add("tpm:\(APIKeyStore.fingerprint(key.key))", amount: tokens)
    }
}
