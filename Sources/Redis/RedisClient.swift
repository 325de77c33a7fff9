import Foundation
import Logging
import NumericCore

/// A small pooled Redis client over hiredis' blocking API, for one server or a Redis Cluster.
///
/// Contract:
/// - One server (`configuration.clusterNodes` empty): a `RedisNodeClient` (pool, timeouts, circuit breaker;
///   see its contract).
/// - A cluster (`clusterNodes` set): a `RedisClusterClient` routes every command to the master of its keys'
///   slot and follows `MOVED` / `ASK`; each master has its own pool and breaker, so a dead master fails only
///   its slots. A command whose keys span slots is refused (`CROSSSLOT`); the helpers below that take several
///   keys (`unlink`, `del`) split them per slot, `scan` visits every master.
/// - Error replies (`-ERR`) are returned as `.error`, not thrown; connection problems and open breakers throw.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let backend: Backend

    private enum Backend: Sendable {
        case single(RedisNodeClient)
        case cluster(RedisClusterClient)
    }

    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "gateway.redis")) {
        _ = Self.ignoreSIGPIPE
        self.configuration = configuration
        if configuration.clusterNodes.isEmpty {
            backend = .single(RedisNodeClient(configuration: configuration, logger: logger))
        } else {
            backend = .cluster(RedisClusterClient(configuration: configuration, logger: logger))
        }
    }

    /// hiredis writes with write(2): a peer that went away would raise SIGPIPE and kill the process.
    static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// True while Redis is considered down (a cluster: every known master's breaker is open).
    public var isCircuitOpen: Bool {
        switch backend {
        case .single(let node): node.isCircuitOpen
        case .cluster(let cluster): cluster.isCircuitOpen
        }
    }

    /// Whether this client talks to a Redis Cluster.
    public var isCluster: Bool {
        if case .cluster = backend { return true }
        return false
    }

    /// Runs one command given as text arguments (`["SET", "k", "v"]`).
    public func command(_ args: [String]) async throws(RedisError) -> RedisReply {
        try await command(args.map { Array($0.utf8) })
    }

    /// Runs one binary-safe command. Error replies (`-ERR`) are returned as `.error`, not thrown;
    /// connection problems and the open breaker throw.
    public func command(_ args: [[UInt8]]) async throws(RedisError) -> RedisReply {
        switch backend {
        case .single(let node): try await node.command(args)
        case .cluster(let cluster): try await cluster.command(args)
        }
    }

    /// Runs several commands with one round trip per server (a pipeline; on a cluster, one per master, in
    /// parallel). Each command has its own result: on a cluster a dead master fails only its commands.
    public func pipeline(_ commands: [[String]]) async -> [Result<RedisReply, RedisError>] {
        let binary = commands.map { $0.map { Array($0.utf8) } }
        switch backend {
        case .single(let node):
            do throws(RedisError) {
                return try await node.pipeline(binary).map { .success($0) }
            } catch {
                return binary.map { _ in .failure(error) }
            }
        case .cluster(let cluster):
            return await cluster.pipeline(binary)
        }
    }

    /// The hash slot of `key` (what a cluster routes by; computed the same way for a single server).
    public static func slot(of key: String) -> Int { RedisKeySlot.slot(key) }

    /// Reloads a cluster's slot map now (rate-limited; nothing for a single server).
    public func refreshSlotMap() async {
        if case .cluster(let cluster) = backend { await cluster.refresh() }
    }

    /// Drops every pooled connection (they reconnect lazily on the next call).
    public func close() async {
        switch backend {
        case .single(let node): await node.close()
        case .cluster(let cluster): await cluster.close()
        }
    }

    static func monotonicNow() -> Double { RedisNodeClient.monotonicNow() }
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

    /// `UNLINK keys...` (non-blocking delete); returns the number of keys removed. On a cluster the keys are
    /// sent as one `UNLINK` per slot, pipelined per master.
    @discardableResult
    public func unlink(_ keys: [String]) async throws(RedisError) -> Int {
        try await deleteKeys("UNLINK", keys)
    }

    /// `DEL keys...`; returns the number of keys removed (per slot on a cluster, as `unlink`).
    @discardableResult
    public func del(_ keys: [String]) async throws(RedisError) -> Int {
        try await deleteKeys("DEL", keys)
    }

    private func deleteKeys(_ name: String, _ keys: [String]) async throws(RedisError) -> Int {
        guard !keys.isEmpty else { return 0 }
        guard isCluster else { return try check(await command([name] + keys)).int ?? 0 }
        var bySlot: [Int: [String]] = [:]
        for key in keys { bySlot[RedisKeySlot.slot(key), default: []].append(key) }
        var removed = 0
        for result in await pipeline(bySlot.values.map { [name] + $0 }) {
            removed += try check(result.get()).int ?? 0
        }
        return removed
    }

    /// Every key matching `pattern`, via repeated `SCAN cursor MATCH pattern COUNT count` (never `KEYS`); on a
    /// cluster, on every master (a master that cannot be reached makes the scan fail: its keys would be missed).
    public func scan(match pattern: String, count: Int = 500) async throws(RedisError) -> [String] {
        switch backend {
        case .single(let node):
            return try await Self.scan(node, match: pattern, count: count)
        case .cluster(let cluster):
            var keys: [String] = []
            for node in try await cluster.masters() { keys += try await Self.scan(node, match: pattern, count: count) }
            return keys
        }
    }

    private static func scan(_ node: RedisNodeClient, match pattern: String, count: Int) async throws(RedisError) -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try await node.command(["SCAN", cursor, "MATCH", pattern, "COUNT", String(count)].map { Array($0.utf8) })
            if case .error(let message) = reply { throw RedisError(.server, message) }
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
