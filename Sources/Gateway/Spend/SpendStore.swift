import Foundation
import Redis

/// Spend counters in pico-dollars (`USDAmount.pico`), shared by server instances when they live in Redis.
public protocol SpendStore: Sendable {
    /// Adds `pico` to counter `name` (created at 0; expires `ttl` seconds after creation when given);
    /// returns the new total.
    func add(_ name: String, pico: Int64, ttl: Int64?) async -> Int64
    /// The counter's total (0 when absent).
    func total(_ name: String) async -> Int64
    /// Appends one spend-log line to list `name`, keeping its newest `limit` lines (a store every instance
    /// shares; an in-process store keeps nothing: the ledger has this instance's records).
    func appendLog(_ name: String, line: String, limit: Int) async
    /// The shared spend log, oldest first; nil when the store is not shared or cannot be read now (the
    /// caller then reports this instance's own records).
    func logLines(_ name: String) async -> [String]?
}

extension SpendStore {
    public func appendLog(_ name: String, line: String, limit: Int) async {}
    public func logLines(_ name: String) async -> [String]? { nil }
}

/// In-process counters (one instance, no Redis, or the fallback while Redis is down).
public actor InMemorySpendStore: SpendStore {
    private var counters: [String: (total: Int64, expires: Double?)] = [:]
    private let now: @Sendable () -> Double

    public init(now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) { self.now = now }

    public func add(_ name: String, pico: Int64, ttl: Int64?) -> Int64 {
        let t = now()
        var entry = live(name, at: t) ?? (0, ttl.map { t + Double($0) })
        let (sum, overflow) = entry.total.addingReportingOverflow(max(0, pico))
        entry.total = overflow ? .max : sum
        counters[name] = entry
        if counters.count > 10_000 { counters = counters.filter { $0.value.expires.map { $0 > t } ?? true } }
        return entry.total
    }

    public func total(_ name: String) -> Int64 { live(name, at: now())?.total ?? 0 }

    private func live(_ name: String, at t: Double) -> (total: Int64, expires: Double?)? {
        guard let entry = counters[name] else { return nil }
        if let expires = entry.expires, expires <= t { return nil }
        return entry
    }
}

/// Counters in Redis (`INCRBY`: integers, so every instance's additions sum exactly), with an expiry.
/// NOTE: a Redis failure falls back to in-process counters (the circuit breaker keeps that cheap): budgets
/// then hold per instance until Redis is back, and requests are not refused because Redis is down.
public final class RedisSpendStore: SpendStore {
    private let redis: RedisClient
    private let local = InMemorySpendStore()

    public init(redis: RedisClient) { self.redis = redis }

    public func add(_ name: String, pico: Int64, ttl: Int64?) async -> Int64 {
        do {
            guard case .int(let total) = try await redis.command(["INCRBY", name, String(max(0, pico))]) else {
                return await local.add(name, pico: pico, ttl: ttl)
            }
            if let ttl, total == Int(max(0, pico)) { _ = try await redis.command(["EXPIRE", name, String(ttl)]) }
            return Int64(total)
        } catch {
            return await local.add(name, pico: pico, ttl: ttl)
        }
    }

    public func total(_ name: String) async -> Int64 {
        do {
            return Int64(try await redis.command(["GET", name]).int ?? 0)
        } catch {
            return await local.total(name)
        }
    }

    /// `RPUSH` + `LTRIM` in one pipeline (a failure drops the line from the shared log only).
    public func appendLog(_ name: String, line: String, limit: Int) async {
        _ = await redis.pipeline([["RPUSH", name, line], ["LTRIM", name, String(-limit), "-1"]])
    }

    public func logLines(_ name: String) async -> [String]? {
        guard case .array(let items)? = try? await redis.command(["LRANGE", name, "0", "-1"]) else { return nil }
        return items.compactMap(\.string)
    }
}
