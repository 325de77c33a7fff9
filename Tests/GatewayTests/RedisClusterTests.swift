import Foundation
@testable import Redis
import RedisTestSupport
import Testing

/// The cluster client against a real 3-master Redis Cluster started by the test.
@Suite("Redis cluster", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct RedisClusterTests {
    func clusterClient(_ cluster: TestRedisCluster) -> RedisClusterClient {
        RedisClusterClient(configuration: cluster.configuration, refreshInterval: 0.05, logger: .init(label: "test"))
    }

    /// Keys written through the client land on every master, each on the master that serves its slot (as the
    /// cluster itself reports), with slots the server computes the same way.
    @Test func slotMapIsDiscoveredAndKeysSpreadOverAllMasters() async throws {
        let cluster = try await TestRedisCluster()
        defer { cluster.stop() }
        let client = RedisClient(configuration: cluster.configuration)
        #expect(client.isCluster)
        let keys = (0..<300).map { "spread:\($0)" }
        for key in keys { try await client.set(key, Array(key.utf8)) }
        for key in keys { #expect(try await client.get(key) == Array(key.utf8)) }
        var total = 0
        for i in cluster.ports.indices {
            let size = try await cluster.nodeClient(i).command(["DBSIZE"]).int ?? 0
            #expect(size > 50, "master \(i) holds \(size) keys")
            total += size
        }
        #expect(total == 300)
        // Our slots are the server's: CLUSTER KEYSLOT on the real cluster is the reference.
        let node = cluster.nodeClient(0)
        for key in keys.prefix(100) + ["{tag}a", "a{}b{c}", "{{x}}", "\u{00e9}t\u{00e9}"] {
            #expect(try await node.command(["CLUSTER", "KEYSLOT", key]).int == RedisClient.slot(of: key), "\(key)")
        }
        // The client's map is the cluster's.
        let direct = clusterClient(cluster)
        _ = try await direct.command(["PING"].map { Array($0.utf8) })
        let map = try #require(direct.slotMap)
        #expect(map.coveredSlots == 16384 && map.masters.count == 3)
        for slot in stride(from: 0, to: 16384, by: 97) {
            let owner = try await cluster.owner(ofSlot: slot)
            #expect(map.node(forSlot: slot)?.port == owner.map { cluster.ports[$0] }, "slot \(slot)")
        }
    }

    @Test func multiKeyCommandsStayInOneSlotAndScanVisitsEveryMaster() async throws {
        let cluster = try await TestRedisCluster()
        defer { cluster.stop() }
        let client = RedisClient(configuration: cluster.configuration)
        for i in 0..<60 { try await client.set("scan:\(i)", [1]) }
        #expect(Set(try await client.scan(match: "scan:*", count: 7)).count == 60)
        // Keys of different slots: a raw multi-key command is refused, the helpers split per slot.
        let error = await #expect(throws: RedisError.self) { try await client.command(["DEL", "scan:1", "scan:2"]) }
        #expect(error?.message.contains("CROSSSLOT") == true)
        #expect(try await client.unlink((0..<30).map { "scan:\($0)" } + ["missing"]) == 30)
        #expect(try await client.del((30..<60).map { "scan:\($0)" }) == 30)
        #expect(try await client.scan(match: "scan:*").isEmpty)
        // A hash tag keeps a script's keys in one slot.
        let reply = try await client.command(["EVAL", "redis.call('SET', KEYS[1], 'a'); redis.call('SET', KEYS[2], 'b'); return redis.call('MGET', KEYS[1], KEYS[2])",
                                              "2", "{scope}one", "{scope}two"])
        #expect(reply == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
        // A pipeline spans masters: one round trip per master, results in order.
        let results = await client.pipeline((0..<20).map { ["SET", "p:\($0)", String($0)] } + (0..<20).map { ["GET", "p:\($0)"] })
        for i in 0..<20 { #expect((try? results[20 + i].get())?.string == String(i)) }
    }

    /// A slot moved to another master (a resharding): the client's stale map gets `MOVED`, follows it and
    /// learns the new owner; a key created while the slot migrates gets `ASK` and lands on the importing node.
    @Test func movedAndAskAfterResharding() async throws {
        let cluster = try await TestRedisCluster()
        defer { cluster.stop() }
        let client = clusterClient(cluster)
        let key = "{reshard}old", slot = RedisKeySlot.slot(key)
        _ = try await client.command(["SET", key, "v"].map { Array($0.utf8) })
        let from = try #require(try await cluster.owner(ofSlot: slot))
        let to = (from + 1) % 3
        let fromID = try await cluster.nodeID(from), toID = try await cluster.nodeID(to)
        let source = cluster.nodeClient(from), target = cluster.nodeClient(to)
        #expect(try await target.command(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromID]) == .status("OK"))
        #expect(try await source.command(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", toID]) == .status("OK"))
        // A new key in the migrating slot: the source does not have it, answers ASK, the client follows once.
        _ = try await client.command(["SET", "{reshard}new", "n"].map { Array($0.utf8) })
        #expect(try await target.command(["CLUSTER", "COUNTKEYSINSLOT", String(slot)]).int == 1)
        #expect(client.slotMap?.node(forSlot: slot)?.port == cluster.ports[from], "ASK leaves the map alone")
        // Finish the migration.
        _ = try await source.command(["MIGRATE", "127.0.0.1", String(cluster.ports[to]), "", "0", "5000", "KEYS", key])
        for i in 0..<3 { _ = try await cluster.nodeClient(i).command(["CLUSTER", "SETSLOT", String(slot), "NODE", toID]) }
        // The stale map sends GET to the old owner, which answers MOVED.
        #expect(try await client.command(["GET", key].map { Array($0.utf8) }) == .bulk(Array("v".utf8)))
        #expect(client.slotMap?.node(forSlot: slot)?.port == cluster.ports[to])
        #expect(try await client.command(["GET", "{reshard}new"].map { Array($0.utf8) }) == .bulk(Array("n".utf8)))
    }

    /// A reply cannot send the client to a host off the cluster's network, and redirect loops are bounded.
    /// A client made for a node that is not in the map (a redirect target, a node that left) is dropped at the
    /// next reload; the masters' and startup nodes' clients stay.
    @Test func clientsOfNodesThatLeftTheMapArePruned() async throws {
        let cluster = try await TestRedisCluster()
        defer { cluster.stop() }
        let client = clusterClient(cluster)
        _ = try await client.command(["PING"].map { Array($0.utf8) })
        let masters = Set(try #require(client.slotMap).masters)
        for master in masters { _ = client.node(master) }   // (clients are made on first use)
        let gone = try RedisNodeAddress(host: "127.0.0.1", port: 1)
        _ = client.node(gone)
        #expect(client.knownNodes == masters.union([gone]))
        try await Task.sleep(for: .milliseconds(100))   // past refreshInterval
        await client.refresh()
        #expect(client.knownNodes == masters)
        #expect(try await client.command(["SET", "pruned:k", "v"].map { Array($0.utf8) }) == .status("OK"))
    }

    @Test func redirectsAreValidatedAndBounded() async throws {
        let cluster = try await TestRedisCluster()
        defer { cluster.stop() }
        let client = RedisClient(configuration: cluster.configuration)
        // A script returns a forged redirect, as a compromised node could.
        let foreign = await #expect(throws: RedisError.self) {
            try await client.command(["EVAL", "return redis.error_reply('MOVED 1 10.9.9.9:6379')", "0"])
        }
        #expect(foreign?.message.contains("refused") == true)
        let loop = await #expect(throws: RedisError.self) {
            try await client.command(["EVAL", "return redis.error_reply('ASK 1 127.0.0.1:\(cluster.ports[1])')", "0"])
        }
        #expect(loop?.message.contains("more than 5") == true)
    }

    /// One master killed: its slots fail fast (the caller bypasses), the others keep working; once it is back
    /// the client recovers without a restart.
    @Test func aDeadMasterFailsOnlyItsSlotsAndRecovers() async throws {
        let cluster = try await TestRedisCluster()
        defer { cluster.stop() }
        let client = RedisClient(configuration: cluster.configuration)
        var keysOf: [Int: [String]] = [:]
        for i in 0..<90 {
            let key = "dead:\(i)"
            try await client.set(key, [1])
            let owner = try #require(try await cluster.owner(ofSlot: RedisClient.slot(of: key)))
            keysOf[owner, default: []].append(key)
        }
        #expect(keysOf.count == 3)
        cluster.kill(2)
        for owner in 0..<2 {
            for key in keysOf[owner]! { #expect(try await client.get(key) == [1]) }
        }
        var failures = 0
        for key in keysOf[2]! {
            do { _ = try await client.get(key) } catch { failures += 1 }
        }
        #expect(failures == keysOf[2]!.count)
        #expect(!client.isCircuitOpen, "the other masters are up")
        try await cluster.start(2)
        try await cluster.waitUntilHealthy()
        var recovered = false
        for _ in 0..<100 where !recovered {
            recovered = (try? await client.set(keysOf[2]![0], [2])) != nil
            if !recovered { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(recovered)
        try await client.set(keysOf[2]![1], [3])
        #expect(try await client.get(keysOf[2]![1]) == [3])
    }
}
