import Testing
@testable import PrefixCache

/// Unloading a LoRA adapter drops the blocks computed under it, and only those.
@Suite struct LoRADropTests {
    static let adapterA = BlockExtraKeys(lora: LoRAKey(name: "", digest: [1, 2, 3]))
    static let adapterB = BlockExtraKeys(lora: LoRAKey(name: "", digest: [9, 9, 9]))

    @Test func dropsOnlyTheAdaptersUnusedBlocks() throws {
        let cache = try makeManager()
        cache.free(try cache.prefill(run(0, 13), keys: Self.adapterA).sequence)   // 3 blocks under A
        cache.free(try cache.prefill(run(0, 13)).sequence)                          // the same tokens, base: 3 blocks
        cache.free(try cache.prefill(run(0, 13), keys: Self.adapterB).sequence)   // and under B: 3 blocks
        let running = try cache.prefill(run(100, 9), keys: Self.adapterA)            // 2 blocks under A, in use
        #expect(cache.stats().blocksCached == 11)

        #expect(cache.drop(loraDigest: [1, 2, 3]) == 3)
        #expect(try cache.lookup(run(0, 13), keys: Self.adapterA).cachedTokens == 0)
        #expect(try cache.lookup(run(0, 13)).cachedTokens == 12)
        #expect(try cache.lookup(run(0, 13), keys: Self.adapterB).cachedTokens == 12)
        #expect(try cache.lookup(run(100, 9), keys: Self.adapterA).cachedTokens == 8)   // still running: kept
        #expect(cache.stats().resetDrops == 3)
        cache.expectConsistent()

        // Once the running sequence ends, a second drop takes its blocks too (a whole chain, leaf first).
        cache.free(running.sequence)
        #expect(cache.drop(loraDigest: [1, 2, 3]) == 2)
        #expect(cache.drop(loraDigest: [1, 2, 3]) == 0)
        #expect(cache.stats().blocksCached == 6)
        cache.expectConsistent()
    }

    @Test func pinnedAdapterBlocksStay() throws {
        let cache = try makeManager()
        cache.free(try cache.prefill(run(0, 9), keys: Self.adapterA).sequence)
        _ = try #require(try cache.pin(tokens: run(0, 8), keys: Self.adapterA, ttl: .seconds(60)))
        #expect(cache.drop(loraDigest: [1, 2, 3]) == 0)
        #expect(try cache.lookup(run(0, 9), keys: Self.adapterA).cachedTokens == 8)
        cache.expectConsistent()
    }

    @Test func aReusedBlockForgetsItsOldAdapter() throws {
        let cache = try makeManager(blocks: 4)
        cache.free(try cache.prefill(run(0, 9), keys: Self.adapterA).sequence)   // 2 blocks under A
        // Filling the pool evicts them; the blocks are reused by base prompts.
        cache.free(try cache.prefill(run(50, 13)).sequence)
        #expect(cache.drop(loraDigest: [1, 2, 3]) == 0)
        #expect(try cache.lookup(run(50, 13)).cachedTokens == 12)
        cache.expectConsistent()
    }
}
