import Foundation
import Logging

/// A Redis Cluster client: finds the slot map with `CLUSTER SLOTS` from the startup nodes, sends each command
/// to the master of its keys' slot over that master's own pool and circuit breaker (`RedisNodeClient`), and
/// follows redirects.
///
/// Contract:
/// - `MOVED` updates the slot's owner and retries there; `ASK` sends `ASKING` + the command to the named node
///   (same connection) without touching the map. At most `maxRedirects` redirects per command, then an error.
/// - A redirect is followed only to a master of the current map or to an address the `ClusterAddressPolicy`
///   allows (the startup nodes' hosts or /16): a reply never sends our commands or password to another host.
/// - The map is reloaded after a `MOVED` or a connection failure, in the background and at most once per
///   `refreshInterval` (concurrent callers share one reload); a caller with no map yet waits for the load.
/// - A dead master throws for its slots only (its breaker opens, then fails in microseconds); the other
///   masters' slots keep working.
/// - Each reload drops the clients (and their connections) of nodes that are neither a master of the new map
///   nor a startup node, so a changing topology does not accumulate pools.
final class RedisClusterClient: Sendable {
    static let maxRedirects = 5
    let configuration: RedisConfiguration
    let refreshInterval: Double
    private let startupNodes: [RedisNodeAddress]
    private let policy: ClusterAddressPolicy
    private let state = SyncBox(State())
    private let logger: Logger

    private struct State {
        var map: ClusterSlotMap?
        var nodes: [RedisNodeAddress: RedisNodeClient] = [:]
        var lastRefresh = -Double.infinity
        var refreshTask: Task<Void, Never>?
    }

    init(configuration: RedisConfiguration, refreshInterval: Double = 0.5, logger: Logger) {
        precondition(!configuration.clusterNodes.isEmpty, "a cluster client needs startup nodes")
        self.configuration = configuration
        self.refreshInterval = refreshInterval
        self.startupNodes = configuration.clusterNodes
        self.policy = ClusterAddressPolicy(startupNodes: configuration.clusterNodes)
        self.logger = logger
    }

    /// The client of one node (created on first use; same timeouts, pool and password as the configuration).
    func node(_ address: RedisNodeAddress) -> RedisNodeClient {
        state.withLock { s in
            if let client = s.nodes[address] { return client }
            var c = configuration
            c.host = address.host
            c.port = address.port
            c.clusterNodes = []
            let client = RedisNodeClient(configuration: c, logger: logger)
            s.nodes[address] = client
            return client
        }
    }

    /// The nodes with a client now.
    var knownNodes: Set<RedisNodeAddress> { state.withLock { Set($0.nodes.keys) } }

    /// The current slot map (nil before the first successful load).
    var slotMap: ClusterSlotMap? { state.withLock { $0.map } }

    /// True when every known master's breaker is open.
    var isCircuitOpen: Bool {
        state.withLock { s in !s.nodes.isEmpty && s.nodes.values.allSatisfy(\.isCircuitOpen) }
    }

    // MARK: Commands

    func command(_ args: [[UInt8]]) async throws(RedisError) -> RedisReply {
        var target = try await target(for: try RedisCommandKeys.routing(args))
        var asking = false
        for _ in 0...Self.maxRedirects {
            let client = node(target)
            let reply: RedisReply
            do {
                reply = asking ? try await client.pipeline([[Array("ASKING".utf8)], args])[1] : try await client.command(args)
            } catch {
                if error.code == .connection { refreshSoon() }
                throw error
            }
            guard case .error(let message) = reply, let redirect = RedisRedirect(error: message, answeredBy: target) else {
                return reply
            }
            try accept(redirect)
            asking = if case .ask = redirect { true } else { false }
            target = redirect.target
        }
        throw RedisError(.unexpectedReply, "more than \(Self.maxRedirects) cluster redirects for one command")
    }

    /// Runs `commands` grouped by master, each group as one pipeline on that master (the groups in parallel).
    /// A command's result is its own: a dead master fails only its commands. Redirected commands are retried
    /// one by one through `command`.
    func pipeline(_ commands: [[[UInt8]]]) async -> [Result<RedisReply, RedisError>] {
        var results = [Result<RedisReply, RedisError>](repeating: .failure(.unavailable), count: commands.count)
        var groups: [RedisNodeAddress: [Int]] = [:]
        for (i, args) in commands.enumerated() {
            do throws(RedisError) {
                groups[try await target(for: try RedisCommandKeys.routing(args)), default: []].append(i)
            } catch {
                results[i] = .failure(error)
            }
        }
        let replies = await withTaskGroup(of: ([Int], Result<[RedisReply], RedisError>).self) { group in
            for (address, indices) in groups {
                let client = node(address)
                group.addTask {
                    do throws(RedisError) {
                        return (indices, .success(try await client.pipeline(indices.map { commands[$0] })))
                    } catch {
                        return (indices, .failure(error))
                    }
                }
            }
            var all: [([Int], Result<[RedisReply], RedisError>)] = []
            for await part in group { all.append(part) }
            return all
        }
        for (indices, outcome) in replies {
            switch outcome {
            case .failure(let error):
                if error.code == .connection { refreshSoon() }
                for i in indices { results[i] = .failure(error) }
            case .success(let values):
                for (i, reply) in zip(indices, values) { results[i] = .success(reply) }
            }
        }
        for (i, result) in results.enumerated() {
            if case .success(.error(let message)) = result, message.hasPrefix("MOVED ") || message.hasPrefix("ASK ") {
                do throws(RedisError) { results[i] = .success(try await command(commands[i])) } catch { results[i] = .failure(error) }
            }
        }
        return results
    }

    /// Every master of the map (loading it first if needed), for commands that must visit all (`SCAN`).
    func masters() async throws(RedisError) -> [RedisNodeClient] {
        let map = try await loadedMap()
        return map.masters.map(node)
    }

    // MARK: Routing

    private func target(for routing: RedisCommandKeys.Routing) async throws(RedisError) -> RedisNodeAddress {
        let map = try await loadedMap()
        switch routing {
        case .slot(let slot):
            guard let owner = map.node(forSlot: slot) else {
                refreshSoon()
                throw RedisError(.unavailable, "cluster slot \(slot) is served by no master")
            }
            return owner
        case .anyNode:
            let masters = map.masters
            return masters.first { !node($0).isCircuitOpen } ?? masters[0]
        }
    }

    /// Follows a redirect only to a known master or an allowed address; a `MOVED` updates the map.
    private func accept(_ redirect: RedisRedirect) throws(RedisError) {
        let target = redirect.target
        let known = state.withLock { $0.map?.masters.contains(target) ?? false }
        guard known || policy.allows(target) else {
            throw RedisError(.unexpectedReply,
                             "cluster redirect to \(target) refused: not a master of the slot map nor on the startup nodes' network")
        }
        if case .moved(let slot, let to) = redirect {
            state.withLock { $0.map?.assign(slot: slot, to: to) }
            refreshSoon()
        }
    }

    // MARK: Slot map

    private func loadedMap() async throws(RedisError) -> ClusterSlotMap {
        if let map = slotMap { return map }
        await refresh()
        guard let map = slotMap else {
            throw RedisError(.unavailable, "redis cluster: no startup node answered CLUSTER SLOTS")
        }
        return map
    }

    /// Starts a rate-limited reload without waiting for it.
    private func refreshSoon() {
        Task { await self.refresh() }
    }

    /// Reloads the map from the masters, then the startup nodes (first valid answer wins). Joins a reload in
    /// flight; does nothing if the last one started less than `refreshInterval` ago.
    func refresh() async {
        let now = RedisNodeClient.monotonicNow()
        let task: Task<Void, Never>? = state.withLock { s in
            if let running = s.refreshTask { return running }
            guard now - s.lastRefresh >= refreshInterval else { return nil }
            s.lastRefresh = now
            let t = Task { await self.load() }
            s.refreshTask = t
            return t
        }
        await task?.value
    }

    private func load() async {
        defer { state.withLock { $0.refreshTask = nil } }
        var candidates = state.withLock { $0.map?.masters ?? [] }
        for node in startupNodes where !candidates.contains(node) { candidates.append(node) }
        var lastError: RedisError?
        for address in candidates {
            let client = node(address)
            if client.isCircuitOpen { continue }
            do throws(RedisError) {
                let reply = try await client.command([Array("CLUSTER".utf8), Array("SLOTS".utf8)])
                let map = try ClusterSlotMap.parse(clusterSlots: reply, queried: address, policy: policy)
                let keep = Set(map.masters + startupNodes)
                let stale: [RedisNodeClient] = state.withLock { s in
                    s.map = map
                    return s.nodes.keys.filter { !keep.contains($0) }.compactMap { s.nodes.removeValue(forKey: $0) }
                }
                for client in stale { await client.close() }
                if !stale.isEmpty { logger.info("redis cluster: dropped the clients of \(stale.count) node(s) no longer in the map") }
                return
            } catch {
                lastError = error
            }
        }
        logger.warning("redis cluster slot map not refreshed", metadata: ["error": "\(lastError.map { "\($0)" } ?? "every node's breaker is open")"])
    }

    func close() async {
        let clients = state.withLock { Array($0.nodes.values) }
        for client in clients { await client.close() }
    }
}
