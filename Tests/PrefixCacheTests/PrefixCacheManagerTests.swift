import Testing
@testable import PrefixCache

@Suite("Manager: admission, registration, release, reset, stats")
struct PrefixCacheManagerTests {
    @Test(arguments: 1...20)
    func theLastPromptTokenIsNeverMatched(length: Int) throws {
        let cache = try makeManager()
        try cache.prefill(run(0, 24))  // every block of every shorter prompt is cached
        let match = try cache.lookup(run(0, length))
        #expect(match.cachedTokens < length)
        #expect(match.cachedTokens == (length - 1) / 4 * 4)
        let admission = try #require(try cache.admit(match))
        #expect(admission.cachedTokens == match.cachedTokens)
        #expect(admission.blockTable.count == (length + 3) / 4)
    }

    @Test func aFullyCachedPromptStillComputesItsLastBlock() throws {
        let cache = try makeManager()
        try cache.prefill(run(0, 8))
        #expect(try cache.lookup(run(0, 8)).cachedTokens == 4)  // block 1 holds the last token
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 8)
    }

    @Test func shortPromptsNeverHit() throws {
        let cache = try makeManager()
        try cache.prefill(run(0, 3))
        #expect(try cache.lookup(run(0, 3)).cachedTokens == 0)
        #expect(cache.stats().blocksCached == 0)  // a partial block is never cached
    }

    @Test func multiTurnConversationHitsOnItsPreviousAnswer() throws {
        let cache = try makeManager()
        let turn1 = run(0, 10)
        let answer = run(500, 9)
        let first = try cache.prefill(turn1)
        try cache.decode(first.sequence, answer)  // decode-filled blocks are registered as they fill
        cache.free(first.sequence)
        let turn2 = turn1 + answer + run(900, 5)
        let match = try cache.lookup(turn2)
        #expect(match.cachedTokens == 16)  // 19 computed tokens -> 4 full blocks
        cache.expectConsistent()
    }

    @Test func concurrentRequestsShareAnInFlightPrefix() throws {
        let cache = try makeManager()
        let running = try cache.prefill(run(0, 13))  // still running: not freed
        let tableA = try #require(cache.blockTable(of: running.sequence))
        let second = try #require(try cache.admit(try cache.lookup(run(0, 12) + [77, 78])))
        #expect(second.cachedTokens == 12)
        #expect(Array(second.blockTable.prefix(3)) == Array(tableA.prefix(3)))  // same physical blocks
        for block in tableA.prefix(3) { #expect(cache.pool.refCounts[block] == 2) }
        cache.expectConsistent()
    }

    @Test func identicalBlocksComputedConcurrentlyAreDeduplicated() throws {
        let cache = try makeManager(blocks: 8)
        let prompt = run(0, 9)
        let a = try #require(try cache.admit(try cache.lookup(prompt)))
        let b = try #require(try cache.admit(try cache.lookup(prompt)))  // both miss: nothing registered yet
        #expect(a.cachedTokens == 0 && b.cachedTokens == 0)
        #expect(try cache.commit(a.sequence, tokens: prompt).registeredBlocks == 2)
        let outcome = try cache.commit(b.sequence, tokens: prompt)
        #expect(outcome.deduplicatedBlocks == 2 && outcome.blockTableChanged)
        let tableA = try #require(cache.blockTable(of: a.sequence))
        let tableB = try #require(cache.blockTable(of: b.sequence))
        #expect(Array(tableB.prefix(2)) == Array(tableA.prefix(2)))
        #expect(tableB[2] == b.blockTable[2])  // the partial block stays private
        #expect(cache.stats().blocksFree == 8 - 4)  // b's two twins went straight back to the pool
        try cache.decode(b.sequence, [1, 2, 3])  // b's next block chains under the shared prefix
        #expect(try cache.lookup(prompt + [1, 2, 3, 4]).cachedTokens == 12)
        cache.expectConsistent()
    }

    @Test func admissionFailsWithoutSideEffectsWhenThePoolIsFull() throws {
        let cache = try makeManager(blocks: 5)
        let a = try cache.prefill(run(0, 12))  // 3 blocks
        let before = cache.stats()
        #expect(try cache.admit(try cache.lookup(run(100, 12))) == nil)  // needs 3, 2 available
        #expect(cache.stats() == before)
        let b = try #require(try cache.admit(try cache.lookup(run(100, 4))))  // 1 block
        #expect(try cache.reserve(a.sequence, totalTokens: 16))  // takes the last block
        #expect(try !cache.reserve(a.sequence, totalTokens: 17))  // pool exhausted: preempt
        #expect(cache.blockTable(of: a.sequence)?.count == 4)
        cache.free(b.sequence)
        cache.free(a.sequence)  // preempted: later re-admitted, it hits its own computed prefix
        let again = try #require(try cache.admit(try cache.lookup(run(0, 12) + [5])))
        #expect(again.cachedTokens == 12)
        cache.expectConsistent()
    }

    @Test func aRequestLargerThanThePoolIsRejectedClearly() throws {
        let cache = try makeManager(blocks: 4)
        let error = #expect(throws: PrefixCacheError.self) { try cache.admit(try cache.lookup(run(0, 17))) }
        #expect(error?.code == .exceedsPool)
        let a = try #require(try cache.admit(try cache.lookup(run(0, 3))))
        #expect(throws: PrefixCacheError.self) { try cache.reserve(a.sequence, totalTokens: 17) }
        cache.expectConsistent()
    }

    @Test func committingPastTheReservationThrowsAndChangesNothing() throws {
        let cache = try makeManager()
        let a = try #require(try cache.admit(try cache.lookup(run(0, 5))))  // 2 blocks = 8 tokens
        try cache.commit(a.sequence, tokens: run(0, 5))
        let error = #expect(throws: PrefixCacheError.self) { try cache.commit(a.sequence, tokens: run(5, 4)) }
        #expect(error?.code == .notReserved)
        #expect(cache.computedTokens(of: a.sequence) == 5)
        cache.expectConsistent()
    }

    @Test func badInputThrowsClearErrors() throws {
        let cache = try makeManager()
        #expect(throws: PrefixCacheError.self) { try cache.lookup([]) }
        #expect(throws: PrefixCacheError.self) { try cache.lookup([1, -1]) }
        #expect(throws: PrefixCacheError.self) { try cache.lookup([Int(UInt32.max) + 1]) }
        let a = try #require(try cache.admit(try cache.lookup([1, 2])))
        #expect(throws: PrefixCacheError.self) { try cache.commit(a.sequence, tokens: [-5]) }
        cache.free(a.sequence)
        #expect(!cache.free(a.sequence))
        let error = #expect(throws: PrefixCacheError.self) { try cache.reserve(a.sequence, totalTokens: 1) }
        #expect(error?.code == .unknownSequence)
        for config in [
            PrefixCacheConfig(blockCount: 8, blockSize: 12, model: testModel),
            PrefixCacheConfig(blockCount: 0, model: testModel),
            PrefixCacheConfig(blockCount: 8, model: testModel, maxPinnedFraction: 1.5),
        ] {
            #expect(throws: PrefixCacheError.self) { try PrefixCacheManager(config: config) }
        }
    }

    @Test func aMatchIsRevalidatedIfBlocksWereEvictedBeforeAdmission() throws {
        let cache = try makeManager(blocks: 4)
        let a = try cache.prefill(run(0, 9))  // 3 blocks: 2 cached + partial
        cache.free(a.sequence)
        let match = try cache.lookup(run(0, 9))
        #expect(match.cachedTokens == 8)
        let b = try #require(try cache.admit(try cache.lookup(run(100, 13))))  // 4 blocks: evicts both
        cache.free(b.sequence)
        let admission = try #require(try cache.admit(match))
        #expect(admission.cachedTokens == 0)
        cache.expectConsistent()
    }

    @Test func resetDropsUnreferencedBlocksAndKeepsRunningOnes() throws {
        let cache = try makeManager()
        let done = try cache.prefill(run(0, 9))
        cache.free(done.sequence)
        let running = try cache.prefill(run(100, 13))
        #expect(cache.reset() == 2)
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 0)
        #expect(try cache.lookup(run(100, 13)).cachedTokens == 12)  // still valid and shared
        try cache.decode(running.sequence, [1, 2, 3, 4])
        #expect(cache.stats().resetDrops == 2)
        cache.expectConsistent()
    }

    @Test func statsCountQueriesHitsAndOccupancy() throws {
        let cache = try makeManager(blocks: 8)
        let a = try cache.prefill(run(0, 9))
        cache.free(a.sequence)
        let b = try cache.prefill(run(0, 9))
        let stats = cache.stats()
        #expect(stats.queryTokens == 18 && stats.hitTokens == 8 && stats.admissions == 2)
        #expect(stats.hitRate == 8.0 / 18.0)
        #expect(stats.blocksInUse == 3 && stats.blocksCached == 2 && stats.sequences == 1)
        #expect(stats.blocksInUse + stats.blocksFree + stats.blocksReclaimable + stats.blocksParked == 8)
        #expect(stats.registeredBlocks == 2)
        cache.free(b.sequence)
        #expect(cache.stats().blocksReclaimable == 2)
    }

    @Test func disabledCacheAllocatesButNeverHits() throws {
        let cache = try makeManager(enabled: false)
        let a = try cache.prefill(run(0, 9))
        cache.free(a.sequence)
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 0)
        #expect(cache.stats().blocksCached == 0 && cache.stats().blocksFree == 32)
        cache.expectConsistent()
    }
}
