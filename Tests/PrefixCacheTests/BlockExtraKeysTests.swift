import Testing
@testable import PrefixCache

@Suite("Request keys: per-range salt, LoRA, images")
struct BlockExtraKeysTests {
    @Test func saltGoesIntoBlockZeroByDefault() {
        let keys = BlockExtraKeys(tenant: "t")
        #expect(keys.extraKeys(forBlock: 0, blockSize: 4).map(\.kind) == [.tenant])
        #expect(keys.extraKeys(forBlock: 1, blockSize: 4).isEmpty)
    }

    @Test(arguments: [(0, 0), (3, 0), (4, 1), (7, 1), (8, 2), (9, 2)])
    func saltGoesIntoTheBlockWherePrivateTokensBegin(publicTokens: Int, saltedBlock: Int) {
        let keys = BlockExtraKeys(tenant: "t", salt: "s", publicPrefixTokens: publicTokens)
        #expect(keys.saltedBlockIndex(blockSize: 4) == saltedBlock)
        for block in 0..<4 {
            let kinds = keys.extraKeys(forBlock: block, blockSize: 4).map(\.kind)
            #expect(kinds == (block == saltedBlock ? [.tenant, .salt] : []))
        }
    }

    @Test func loraKeyGoesIntoEveryBlock() {
        let keys = BlockExtraKeys(lora: LoRAKey(name: "adapter", digest: [7]))
        for block in 0..<5 { #expect(keys.extraKeys(forBlock: block, blockSize: 4).map(\.kind) == [.lora]) }
    }

    @Test func imageKeysGoIntoEveryOverlappedBlockWithTheirOffset() {
        // Image at tokens 6..<11 with block size 4 overlaps blocks 1 (4..<8) and 2 (8..<12).
        let keys = BlockExtraKeys(images: [ImageSpan(contentHash: [0xAB], start: 6, length: 5)])
        #expect(keys.extraKeys(forBlock: 0, blockSize: 4).isEmpty)
        let inBlock1 = keys.extraKeys(forBlock: 1, blockSize: 4)
        let inBlock2 = keys.extraKeys(forBlock: 2, blockSize: 4)
        #expect(inBlock1.count == 1 && inBlock2.count == 1)
        #expect(inBlock1 != inBlock2)  // offsets +2 and -2 differ
        #expect(keys.extraKeys(forBlock: 3, blockSize: 4).isEmpty)
    }

    /// Per-range salt: two tenants share the blocks of a declared public prefix but nothing after it.
    @Test func publicPrefixIsSharedAcrossSaltsAndPrivatePartIsNot() throws {
        let cache = try makeManager()
        let system = run(0, 8)  // two full blocks of public system prompt
        let alice = BlockExtraKeys(tenant: "alice", publicPrefixTokens: 8)
        let bob = BlockExtraKeys(tenant: "bob", publicPrefixTokens: 8)
        let shared = system + run(100, 8)  // same private tokens for both tenants
        let first = try cache.prefill(shared + [1], keys: alice)
        #expect(first.cachedTokens == 0)
        let bobMatch = try cache.lookup(shared + [1], keys: bob)
        #expect(bobMatch.cachedTokens == 8)  // the public system prompt only
        let aliceAgain = try cache.lookup(shared + [1], keys: alice)
        #expect(aliceAgain.cachedTokens == 16)  // her own private part too
        let anonymous = try cache.lookup(shared + [1], keys: .none)
        #expect(anonymous.cachedTokens == 8)  // unsalted public blocks are the plain shared cache
        cache.expectConsistent()
    }

    @Test func fullIsolationByDefaultSharesNothing() throws {
        let cache = try makeManager()
        try cache.prefill(run(0, 13), keys: BlockExtraKeys(tenant: "alice"))
        #expect(try cache.lookup(run(0, 13), keys: BlockExtraKeys(tenant: "bob")).cachedTokens == 0)
        #expect(try cache.lookup(run(0, 13), keys: .none).cachedTokens == 0)
        #expect(try cache.lookup(run(0, 13), keys: BlockExtraKeys(tenant: "alice")).cachedTokens == 12)
    }

    @Test func publicBoundaryInsideABlockSaltsThatBlock() throws {
        let cache = try makeManager()
        let prompt = run(0, 13)
        try cache.prefill(prompt, keys: BlockExtraKeys(tenant: "alice", publicPrefixTokens: 6))
        // Block 0 (0..<4) is wholly public; block 1 (4..<8) holds private tokens 6 and 7: salted.
        #expect(try cache.lookup(prompt, keys: BlockExtraKeys(tenant: "bob", publicPrefixTokens: 6)).cachedTokens == 4)
    }

    @Test func differentLoRAAdaptersNeverShare() throws {
        let cache = try makeManager()
        try cache.prefill(run(0, 9), keys: BlockExtraKeys(lora: LoRAKey(name: "a", digest: [1])))
        #expect(try cache.lookup(run(0, 9), keys: BlockExtraKeys(lora: LoRAKey(name: "a", digest: [2]))).cachedTokens == 0)
        #expect(try cache.lookup(run(0, 9), keys: .none).cachedTokens == 0)
        #expect(try cache.lookup(run(0, 9), keys: BlockExtraKeys(lora: LoRAKey(name: "a", digest: [1]))).cachedTokens == 8)
    }
}
