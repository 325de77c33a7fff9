import Foundation
import Logging
import NumericCore

/// A small pooled Redis client over hiredis' blocking API.
///
/// Contract:
/// - Every hiredis call runs on a connection's own serial dispatch queue; callers `await` a continuation,
///   so no Swift cooperative thread ever blocks on the network.
/// - Each call is bounded by `connectTimeout` + `commandTimeout`. A connection-level failure drops that
///   connection (the next call reconnects).
/// - After `failureThreshold` consecutive connection failures the circuit breaker opens: calls throw
///   `RedisError.unavailable` immediately (no I/O, microseconds) until the cool-off has elapsed; then one
///   probe goes through. A failed probe doubles the cool-off (capped at `maxCoolOff`): that is the
///   reconnect backoff. A successful call closes the breaker.
/// - When every connection already has `maxPendingPerConnection` waiting calls, calls fail fast with
///   `.unavailable` instead of queueing behind a slow server. A queued call that reaches its connection
///   after the breaker opened, or after waiting longer than `commandTimeout`, fails with `.unavailable`
///   without touching the network, so a queue behind a hung server drains quickly.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let connections: [RedisConnection]
    private let breaker: SyncBox<CircuitBreaker>
    private let pending: SyncBox<[Int]>
    private let logger: Logger

    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "gateway.redis")) {
        _ = Self.ignoreSIGPIPE
        self.configuration = configuration
        self.logger = logger
        self.connections = (0..<configuration.poolSize).map {
            RedisConnection(configuration: configuration, label: "redis.connection.\($0)")
        }
        self.breaker = SyncBox(CircuitBreaker(
            threshold: configuration.failureThreshold, coolOff: configuration.coolOff,
            maxCoolOff: configuration.maxCoolOff))
        self.pending = SyncBox([Int](repeating: 0, count: configuration.poolSize))
    }

    /// hiredis writes with write(2): a peer that went away would raise SIGPIPE and kill the process.
    static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// True while the circuit breaker refuses calls (Redis considered down).
    public var isCircuitOpen: Bool { breaker.withLock { $0.isOpen } }

    /// Runs one command given as text arguments (`["SET", "k", "v"]`).
    public func command(_ args: [String]) async throws(RedisError) -> RedisReply {
        try await command(args.map { Array($0.utf8) })
    }

    /// Runs one binary-safe command. Error replies (`-ERR`) are returned as `.error`, not thrown;
    /// connection problems and the open breaker throw.
    public func command(_ args: [[UInt8]]) async throws(RedisError) -> RedisReply {
        let now = Self.monotonicNow()
        guard breaker.withLock({ $0.admit(now: now) }) else { throw RedisError.unavailable }
        // Least-loaded connection; refuse rather than queue without bound.
        let index: Int? = pending.withLock { counts in
            guard let best = counts.indices.min(by: { counts[$0] < counts[$1] }),
                  counts[best] < configuration.maxPendingPerConnection else { return nil }
            counts[best] += 1
            return best
        }
        guard let index else {
            breaker.withLock { $0.abandon(now: now) }   // not a failure of Redis itself
            throw RedisError(.unavailable, "redis pool saturated")
        }
        let connection = connections[index]
        let maxWait = configuration.commandTimeout
        let result: Result<RedisReply, RedisError> = await withCheckedContinuation { continuation in
            connection.queue.async { [breaker] in
                // Calls queued behind a failing or slow server drain without I/O.
                let opened = breaker.withLock { if case .open = $0.state { true } else { false } }
                if opened || Self.monotonicNow() - now > maxWait {
                    continuation.resume(returning: .failure(RedisError(.unavailable, "redis unavailable (queued call dropped)")))
                    return
                }
                do throws(RedisError) {
                    continuation.resume(returning: .success(try connection.executeOnQueue(args)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        pending.withLock { $0[index] -= 1 }
        switch result {
        case .success(let reply):
            breaker.withLock { $0.recordSuccess() }
            return reply
        case .failure(let error):
            if error.code == .connection || error.code == .authentication {
                let opened: Bool = breaker.withLock {
                    let wasOpen = $0.isOpen
                    $0.recordFailure(now: Self.monotonicNow())
                    return !wasOpen && $0.isOpen
                }
                if opened { logger.warning("redis circuit breaker open", metadata: ["error": "\(error)"]) }
            } else if error.code == .unavailable {
                breaker.withLock { $0.abandon(now: Self.monotonicNow()) }
            } else {
                breaker.withLock { $0.recordSuccess() }
            }
            throw error
        }
    }

    /// Drops every pooled connection (they reconnect lazily on the next call).
    public func close() async {
        for connection in connections {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                connection.queue.async {
                    connection.dropOnQueue()
                    c.resume()
                }
            }
        }
    }

    static func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

// MARK: - Helpers

extension RedisClient {
    private func check(_ reply: RedisReply) throws(RedisError) -> RedisReply {
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// `PING`; true when Redis answered `PONG`.
    public func ping() async throws(RedisError) -> Bool {
        try check(await command(["PING"])).string == "PONG"
    }

    /// `GET key`; nil when the key does not exist.
    public func get(_ key: String) async throws(RedisError) -> [UInt8]? {
        let reply = try check(await command(["GET", key]))
        return reply.bytes ?? nil
    }

    /// `SET key value [PX ms]`; `ttl` in seconds (nil = no expiry).
    public func set(_ key: String, _ value: [UInt8], ttl: Double? = nil) async throws(RedisError) {
        var args: [[UInt8]] = [Array("SET".utf8), Array(key.utf8), value]
        if let ttl {
            args += [Array("PX".utf8), Array(String(CheckedConversion.milliseconds(ttl)).utf8)]
        }
        _ = try check(await command(args))
    }

    /// `UNLINK keys...` (non-blocking delete); returns the number of keys removed.
    @discardableResult
    public func unlink(_ keys: [String]) async throws(RedisError) -> Int {
        guard !keys.isEmpty else { return 0 }
        return try check(await command(["UNLINK"] + keys)).int ?? 0
    }

    /// `DEL keys...`; returns the number of keys removed.
    @discardableResult
    public func del(_ keys: [String]) async throws(RedisError) -> Int {
        guard !keys.isEmpty else { return 0 }
        return try check(await command(["DEL"] + keys)).int ?? 0
    }

    /// Every key matching `pattern`, via repeated `SCAN cursor MATCH pattern COUNT count` (never `KEYS`).
    public func scan(match pattern: String, count: Int = 500) async throws(RedisError) -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try check(await command(["SCAN", cursor, "MATCH", pattern, "COUNT", String(count)]))
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].string,
                  case .array(let batch) = parts[1] else {
                throw RedisError(.unexpectedReply, "SCAN returned \(reply)")
            }
            keys += batch.compactMap(\.string)
            cursor = next
        } while cursor != "0"
        return keys
    }

    /// `PUBLISH channel message`; returns the number of subscribers that received it.
    @discardableResult
    public func publish(_ channel: String, _ message: [UInt8]) async throws(RedisError) -> Int {
        try check(await command([Array("PUBLISH".utf8), Array(channel.utf8), message])).int ?? 0
    }

    /// `HSET key field value ...` with binary values.
    public func hset(_ key: String, _ fields: [(String, [UInt8])]) async throws(RedisError) {
        var args: [[UInt8]] = [Array("HSET".utf8), Array(key.utf8)]
        for (field, value) in fields { args += [Array(field.utf8), value] }
        _ = try check(await command(args))
    }

    /// `HGETALL key` as a dictionary of raw values (empty when the key does not exist).
    public func hgetall(_ key: String) async throws(RedisError) -> [String: [UInt8]] {
        let reply = try check(await command(["HGETALL", key]))
        guard case .array(let items) = reply else { return [:] }
        var out: [String: [UInt8]] = [:]
        var i = 0
        while i + 1 < items.count {
            if let field = items[i].string { out[field] = items[i + 1].bytes ?? [] }
            i += 2
        }
        return out
    }

    /// `PEXPIRE key ms`; `ttl` in seconds.
    public func expire(_ key: String, ttl: Double) async throws(RedisError) {
        _ = try check(await command(["PEXPIRE", key, String(CheckedConversion.milliseconds(ttl))]))
    }
}
