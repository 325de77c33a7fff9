import Foundation
import KVTier
import PrefixCache
import Redis
import RedisTestSupport
import Testing

/// The KV block tier over a real 3-master Redis Cluster.
@Suite("Redis cluster KV tier", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct RedisClusterKVBlockStoreTests {
    let layout = Fixture.layout

    @Test func blocksSpreadOverMastersAndADeadMasterCostsOnlyItsBlocks() async throws {
        let cluster = try await TestRedisCluster()
        defer { cluster.stop() }
        let hashes = Fixture.hashes(40)
        let writer = KVTier(layout: layout, stores: [RedisKVBlockStore(client: RedisClient(configuration: cluster.configuration),
                                                                        layout: layout, ttl: 3600)])
        await writer.writeAll(hashes)
        let store = RedisKVBlockStore(client: RedisClient(configuration: cluster.configuration), layout: layout, ttl: 3600)
        let reader = KVTier(layout: layout, stores: [store])
        let hits = await reader.fetch(hashes)
        #expect(hits.count == 40)
        for (i, hit) in hits.enumerated() { hit.withPayload { #expect(Array($0) == Fixture.payload(i)) } }
        var ownerOf: [Int] = []
        for hash in hashes {
            ownerOf.append(try #require(try await cluster.owner(ofSlot: RedisClient.slot(of: store.keyPrefix + hash.hex))))
        }
        for i in 0..<3 {
            let size = try await cluster.nodeClient(i).command(["DBSIZE"]).int ?? 0
            #expect(size == ownerOf.filter { $0 == i }.count && size > 0, "master \(i)")
        }
        // Master 1 dies: its blocks read as missing, every other block still comes back.
        cluster.kill(1)
        let values = try await store.read(hashes)
        for (i, value) in values.enumerated() {
            #expect((value == nil) == (ownerOf[i] == 1), "block \(i) on master \(ownerOf[i])")
        }
        let firstLost = try #require(ownerOf.firstIndex(of: 1))
        #expect(await reader.fetch(hashes).count == firstLost, "the verified run stops at the first lost block")
    }
}
