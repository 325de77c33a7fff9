import Foundation
import Logging

/// The connection pool and circuit breaker of one Redis server: what `RedisClient` is for a single node, and
/// what a cluster client keeps per master (so a dead master opens only its own breaker).
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
final class RedisNodeClient: Sendable {
    let configuration: RedisConfiguration
    private let connections: [RedisConnection]
    private let breaker: SyncBox<CircuitBreaker>
    private let pending: SyncBox<[Int]>
    private let logger: Logger

    /// Connects to `configuration.host` / `port` (its `clusterNodes` are not used here).
    init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.connections = (0..<configuration.poolSize).map {
            RedisConnection(configuration: configuration, label: "redis.\(configuration.host):\(configuration.port).\($0)")
        }
        self.breaker = SyncBox(CircuitBreaker(
            threshold: configuration.failureThreshold, coolOff: configuration.coolOff,
            maxCoolOff: configuration.maxCoolOff))
        self.pending = SyncBox([Int](repeating: 0, count: configuration.poolSize))
    }

    var address: String { "\(configuration.host):\(configuration.port)" }

    /// True while the circuit breaker refuses calls.
    var isCircuitOpen: Bool { breaker.withLock { $0.isOpen } }

    /// Runs one command. Error replies are returned, not thrown; connection problems and the open breaker throw.
    func command(_ args: [[UInt8]]) async throws(RedisError) -> RedisReply {
        try await perform { connection throws(RedisError) in try connection.executeOnQueue(args) }
    }

    /// Runs `commands` as one pipeline on one connection (their replies in order). `ASKING` followed by a
    /// command is how a cluster client follows an `ASK` redirect: both must use the same connection.
    func pipeline(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        return try await perform { connection throws(RedisError) in try connection.pipelineOnQueue(commands) }
    }

    private func perform<T: Sendable>(
        _ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> T
    ) async throws(RedisError) -> T {
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
        let result: Result<T, RedisError> = await withCheckedContinuation { continuation in
            connection.queue.async { [breaker] in
                // Calls queued behind a failing or slow server drain without I/O.
                let opened = breaker.withLock { if case .open = $0.state { true } else { false } }
                if opened || Self.monotonicNow() - now > maxWait {
                    continuation.resume(returning: .failure(RedisError(.unavailable, "redis unavailable (queued call dropped)")))
                    return
                }
                do throws(RedisError) {
                    continuation.resume(returning: .success(try body(connection)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        pending.withLock { $0[index] -= 1 }
        switch result {
        case .success(let value):
            breaker.withLock { $0.recordSuccess() }
            return value
        case .failure(let error):
            if error.code == .connection || error.code == .authentication {
                let opened: Bool = breaker.withLock {
                    let wasOpen = $0.isOpen
                    $0.recordFailure(now: Self.monotonicNow())
                    return !wasOpen && $0.isOpen
                }
                if opened { logger.warning("redis circuit breaker open", metadata: ["node": "\(address)", "error": "\(error)"]) }
            } else if error.code == .unavailable {
                breaker.withLock { $0.abandon(now: Self.monotonicNow()) }
            } else {
                breaker.withLock { $0.recordSuccess() }
            }
            throw error
        }
    }

    /// Drops every pooled connection (they reconnect lazily on the next call).
    func close() async {
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
