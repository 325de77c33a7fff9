import Testing
@testable import PrefixCache

@Suite("Block pool: lazy, leaf-first LRU eviction")
struct EvictionOrderTests {
    /// Allocates every remaining block through a private sequence and returns the cached blocks that
    /// were evicted, in order.
    func evictionOrder(_ cache: PrefixCacheManager) throws -> [BlockID] {
        let reclaimable = cache.pool.reclaimable.elements
        var evicted: [BlockID] = []
        var before = cache.pool.evictionCount
        while let block = cache.pool.allocate() {
            if cache.pool.evictionCount > before { evicted.append(block) }
            before = cache.pool.evictionCount
        }
        #expect(Set(evicted) == Set(reclaimable))
        return evicted
    }

    @Test func neverUsedBlocksAreTakenBeforeAnyCachedBlockIsEvicted() throws {
        let cache = try makeManager(blocks: 8)
        let first = try cache.prefill(run(0, 9))  // 3 blocks, 2 of them full and cached
        cache.free(first.sequence)
        let stats = cache.stats()
        #expect(stats.blocksReclaimable == 2 && stats.blocksFree == 6)
        let other = try #require(try cache.admit(try cache.lookup(run(500, 24))))  // needs 6 blocks
        #expect(cache.stats().evictions == 0)
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 8)  // still hittable
        #expect(try cache.reserve(other.sequence, totalTokens: 28))  // the 7th block forces one eviction
        #expect(cache.stats().evictions == 1)
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 4)  // the leaf went first, the prefix stays
        cache.expectConsistent()
    }

    @Test func leavesGoFirstInLeastRecentlyReleasedOrder() throws {
        let cache = try makeManager(blocks: 16)
        // seq1: P C1 (+ partial); seq2 shares P, then C2 G2 (+ partial).
        let seq1 = try cache.prefill(run(0, 4) + run(100, 4) + [1])
        let table1 = try #require(cache.blockTable(of: seq1.sequence))
        cache.free(seq1.sequence)
        let seq2 = try cache.prefill(run(0, 4) + run(200, 8) + [1])
        #expect(seq2.cachedTokens == 4)
        let table2 = try #require(cache.blockTable(of: seq2.sequence))
        cache.free(seq2.sequence)
        let (p, c1, c2, g2) = (table1[0], table1[1], table2[1], table2[2])
        #expect(table2[0] == p)
        // Reclaimable queue: C1 (released first), then seq2's chain tail to head: G2, C2, P.
        #expect(cache.pool.reclaimable.elements == [c1, g2, c2, p])
        #expect(try evictionOrder(cache) == [c1, g2, c2, p])
    }

    @Test func aHitMovesAReclaimableChainToTheBackOfTheQueue() throws {
        let cache = try makeManager(blocks: 16)
        let old = try cache.prefill(run(0, 8) + [1])
        let oldTable = try #require(cache.blockTable(of: old.sequence))
        cache.free(old.sequence)
        let newer = try cache.prefill(run(50, 8) + [1])
        let newerTable = try #require(cache.blockTable(of: newer.sequence))
        cache.free(newer.sequence)
        #expect(cache.pool.reclaimable.elements == [oldTable[1], oldTable[0], newerTable[1], newerTable[0]])
        // Reuse the old prompt: its blocks leave the queue in O(1) and come back at the tail.
        let again = try cache.prefill(run(0, 8) + [1])
        #expect(again.cachedTokens == 8)
        #expect(cache.pool.reclaimable.elements == [newerTable[1], newerTable[0]])
        cache.free(again.sequence)
        #expect(cache.pool.reclaimable.elements == [newerTable[1], newerTable[0], oldTable[1], oldTable[0]])
        cache.expectConsistent()
    }

    @Test func aParentIsNeverEvictedWhileAChildIsCached() throws {
        var rng = SplitMix64(seed: 11)
        let cache = try makeManager(blocks: 24)
        // Many prompts sharing random prefixes build a bushy tree; then evict everything.
        for _ in 0..<40 {
            let shared = Int.random(in: 0...3, using: &rng)
            let prompt = run(0, shared * 4) + (0..<Int.random(in: 1...12, using: &rng)).map { _ in
                Int.random(in: 0..<3, using: &rng)
            }
            guard let admission = try cache.admit(try cache.lookup(prompt)) else { continue }
            try cache.commit(admission.sequence, tokens: prompt[admission.cachedTokens...])
            cache.free(admission.sequence)
            cache.expectConsistent()
        }
        while let head = cache.pool.reclaimable.first {
            #expect(cache.pool.tree.isLeaf(head))
            _ = cache.pool.allocate()  // a bare pool allocation: check the pool alone
            #expect(cache.pool.violations().isEmpty)
        }
    }
}
