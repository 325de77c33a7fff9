import Foundation
import KVTier
import PrefixCache
import Redis
import RedisTestSupport
import Testing

@Suite("Redis KV tier", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct RedisKVBlockStoreTests {
    let layout = Fixture.layout

    func tier(_ server: TestRedisServer, ttl: Double = 3600, stores extra: [any KVBlockStore] = []) -> (KVTier, RedisKVBlockStore) {
        let redis = RedisKVBlockStore(client: server.client(), layout: layout, ttl: ttl, batchKeys: 4)
        return (KVTier(layout: layout, stores: extra + [redis]), redis)
    }

    @Test func blocksWrittenByOneInstanceAreReadByAnother() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let hashes = Fixture.hashes(10)   // more than one MGET batch (4 keys)
        let (a, _) = tier(server)
        await a.writeAll(hashes)
        let (b, store) = tier(server)
        let hits = await b.fetch(hashes)
        #expect(hits.count == 10)
        for (i, hit) in hits.enumerated() { hit.withPayload { #expect(Array($0) == Fixture.payload(i)) } }
        // Stored under the namespace, with the TTL.
        let ttl = try await server.client().command(["PTTL", store.keyPrefix + hashes[0].hex]).int ?? -1
        #expect(ttl > 3_500_000 && ttl <= 3_600_000)
        // A read renews the TTL: a block the fleet keeps using does not expire under it.
        _ = try await server.client().command(["PEXPIRE", store.keyPrefix + hashes[0].hex, "5000"])
        _ = await b.fetch([hashes[0]])
        let renewed = try await server.client().command(["PTTL", store.keyPrefix + hashes[0].hex]).int ?? -1
        #expect(renewed > 3_500_000)
    }

    @Test func forgedAndForeignEntriesAreMissesAndDeleted() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let hashes = Fixture.hashes(3)
        let (tier, store) = tier(server)
        await tier.writeAll(hashes)
        let client = server.client()
        // Flipped payload byte, an entry copied under another block's key, garbage.
        var flipped = try #require(try await client.get(store.keyPrefix + hashes[0].hex))
        flipped[150] ^= 0x01
        try await client.set(store.keyPrefix + hashes[0].hex, flipped)
        try await client.set(store.keyPrefix + hashes[1].hex, Fixture.entry(1, hash: hashes[2]))
        try await client.set(store.keyPrefix + hashes[2].hex, Array("not a kv block".utf8))
        for hash in hashes {
            #expect(await tier.fetch([hash]).isEmpty)
            #expect(try await client.get(store.keyPrefix + hash.hex) == nil, "refused entries are deleted")
        }
        #expect(tier.stats().tiers["redis"]?.rejected == 3)
    }

    @Test func anOversizedPlantedValueIsRefusedInRedis() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let hashes = Fixture.hashes(2)
        let (tier, store) = tier(server)
        await tier.writeAll([hashes[0]])
        let client = server.client()
        try await client.set(store.keyPrefix + hashes[1].hex, [UInt8](repeating: 0x41, count: 20 << 20))
        // The read script sends the planted value back empty (its size is checked inside Redis).
        let raw = try await store.read(hashes)
        #expect(raw[0]?.count == KVBlockEntry.size(layout))
        #expect(raw[1] == [])
        let hits = await tier.fetch(hashes)
        #expect(hits.count == 1, "the genuine first block is a hit, the planted 20 MB value a miss")
        #expect(tier.stats().tiers["redis"]?.rejected == 1)
        #expect(try await client.get(store.keyPrefix + hashes[1].hex) == nil)
    }

    @Test func aDeadRedisIsAMissNeverAnError() async throws {
        let server = try await TestRedisServer()
        let (tier, _) = tier(server)
        let hashes = Fixture.hashes(4)
        await tier.writeAll(hashes)
        server.stop()
        let started = Date()
        for _ in 0..<5 { #expect(await tier.fetch(hashes).isEmpty) }
        tier.write(Fixture.hashes(1, seed: "x")[0], payload: Fixture.payload(0))
        await tier.drain(timeout: 10)
        #expect(Date().timeIntervalSince(started) < 5, "the circuit breaker makes a dead Redis cheap")
        let stats = tier.stats().tiers["redis"]
        #expect((stats?.errors ?? 0) >= 1)
        #expect((stats?.writeErrors ?? 0) == 1)
        // Back up: reads work again once the breaker lets a probe through.
        try await server.start()
        await tier.writeAll(hashes)
        var hits = 0
        for _ in 0..<200 where hits == 0 {   // up to 10 s: the breaker's cool-off, on a busy machine
            hits = await tier.fetch(hashes).count
            if hits == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(hits == 4)
    }

    @Test func diskFirstThenRedisForTheRest() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let disk = try DiskKVBlockStore(root: Fixture.temporaryDirectory(), layout: layout,
                                        capacityBytes: 1 << 30)
        let hashes = Fixture.hashes(6)
        let (both, _) = tier(server, stores: [disk])
        await both.writeAll(hashes)
        _ = try await disk.remove(hashes[3])   // the disk holds blocks 0-2 (and 4-5, unreachable after the gap)
        let hits = await both.fetch(hashes)
        #expect(hits.map(\.source) == ["disk", "disk", "disk", "redis", "redis", "redis"])
        let stats = both.stats()
        #expect(stats.order == ["disk", "redis"])
        #expect(stats.tiers["disk"]?.hits == 3 && stats.tiers["redis"]?.hits == 3)
    }

    @Test func removeAllDeletesOnlyThisNamespace() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let (tier, _) = tier(server)
        await tier.writeAll(Fixture.hashes(5))
        let client = server.client()
        try await client.set("infer:kv:someone-else:abc", [1])
        #expect(await tier.removeAll() == 5)
        #expect(try await client.get("infer:kv:someone-else:abc") == [1])
    }
}
