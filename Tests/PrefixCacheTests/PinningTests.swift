import Testing
@testable import PrefixCache

@Suite("Pinning: TTL with an injected clock, pool-share cap")
struct PinningTests {
    /// Fills the whole pool with fresh private blocks, evicting every evictable cached block.
    func flood(_ cache: PrefixCacheManager, from start: Int = 10_000) throws {
        let tokens = run(start, cache.availableBlocks * cache.blockSize)
        guard !tokens.isEmpty, let admission = try cache.admit(try cache.lookup(tokens)) else { return }
        cache.free(admission.sequence)
    }

    @Test func pinnedBlocksSurviveEvictionUntilTheirTTLExpires() throws {
        let clock = ManualClock()
        let cache = try makeManager(blocks: 16, pinShare: 0.5, clock: clock)
        let a = try cache.prefill(run(0, 9))
        let receipt = try #require(try cache.pin(a.sequence, prefixTokens: 9, ttl: .seconds(300)))
        #expect(receipt.pinnedTokens == 8 && receipt.expiresAt == clock.now() + .seconds(300))
        cache.free(a.sequence)
        try flood(cache)
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 8)
        #expect(cache.stats().blocksParked == 2)
        clock.advance(by: .seconds(299))
        try flood(cache)
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 8)  // not a moment early
        clock.advance(by: .seconds(1))
        #expect(cache.stats().activePins == 0)
        try flood(cache)
        #expect(try cache.lookup(run(0, 9)).cachedTokens == 0)
        cache.expectConsistent()
    }

    @Test func pinsBeyondTheCapMakeTheOldestLapse() throws {
        let clock = ManualClock()
        let cache = try makeManager(blocks: 16, pinShare: 0.25, clock: clock)  // cap: 4 blocks
        #expect(cache.config.maxPinnedBlocks == 4)
        try cache.prefill(run(0, 9))
        try cache.prefill(run(100, 9))
        try cache.prefill(run(200, 9))
        let first = try #require(try cache.pin(tokens: run(0, 8), ttl: .seconds(60)))
        clock.advance(by: .seconds(1))
        let second = try #require(try cache.pin(tokens: run(100, 8), ttl: .seconds(60)))
        #expect(cache.stats().pinnedBlocks == 4)
        clock.advance(by: .seconds(1))
        _ = try #require(try cache.pin(tokens: run(200, 8), ttl: .seconds(60)))
        #expect(cache.stats().pinnedBlocks == 4 && cache.stats().activePins == 2)
        #expect(!cache.unpin(first.id))  // the oldest lapsed
        #expect(cache.unpin(second.id))
        cache.expectConsistent()
    }

    @Test func aPinLargerThanTheCapIsTruncatedToIt() throws {
        let cache = try makeManager(blocks: 16, pinShare: 0.125)  // cap: 2 blocks
        try cache.prefill(run(0, 17))
        let receipt = try #require(try cache.pin(tokens: run(0, 16), ttl: .seconds(60)))
        #expect(receipt.pinnedTokens == 8)
        #expect(cache.stats().pinnedBlocks == 2)
        cache.expectConsistent()
    }

    @Test func overlappingPinsShareBlocksWithinTheCap() throws {
        let cache = try makeManager(blocks: 16, pinShare: 0.25)  // cap 4
        try cache.prefill(run(0, 4) + run(100, 8) + [1])
        try cache.prefill(run(0, 4) + run(200, 4) + [1])
        _ = try #require(try cache.pin(tokens: run(0, 4) + run(100, 8), ttl: .seconds(60)))  // 3 blocks
        _ = try #require(try cache.pin(tokens: run(0, 4) + run(200, 4), ttl: .seconds(60)))  // +1 (shares block 0)
        #expect(cache.stats().pinnedBlocks == 4 && cache.stats().activePins == 2)
        cache.expectConsistent()
    }

    @Test func repinningRefreshesTheSamePin() throws {
        let clock = ManualClock()
        let cache = try makeManager(clock: clock)
        try cache.prefill(run(0, 9))
        let first = try #require(try cache.pin(tokens: run(0, 8), ttl: .seconds(10)))
        clock.advance(by: .seconds(8))
        let again = try #require(try cache.pin(tokens: run(0, 8), ttl: .seconds(10)))
        #expect(again.id == first.id && again.expiresAt == first.expiresAt + .seconds(8))
        clock.advance(by: .seconds(5))  // past the first expiry, before the refreshed one
        #expect(cache.stats().activePins == 1)
        clock.advance(by: .seconds(5))
        #expect(cache.stats().activePins == 0)
        cache.expectConsistent()
    }

    @Test func unpinMakesBlocksReclaimableChildFirst() throws {
        let cache = try makeManager()
        let a = try cache.prefill(run(0, 9))
        let table = try #require(cache.blockTable(of: a.sequence))
        let pin = try #require(try cache.pin(a.sequence, prefixTokens: 8, ttl: .seconds(60)))
        cache.free(a.sequence)
        #expect(cache.pool.reclaimable.isEmpty)
        #expect(cache.unpin(pin.id))
        #expect(cache.pool.reclaimable.elements == [table[1], table[0]])
        cache.expectConsistent()
    }

    @Test func nothingToPinGivesNoReceipt() throws {
        let cache = try makeManager()
        let a = try cache.prefill(run(0, 3))
        #expect(try cache.pin(a.sequence, prefixTokens: 3, ttl: .seconds(5)) == nil)  // no full block
        #expect(try cache.pin(tokens: run(50, 8), ttl: .seconds(5)) == nil)  // not cached
        try cache.prefill(run(0, 9))
        #expect(try cache.pin(tokens: run(0, 8), ttl: .zero) == nil)
        let zeroCap = try makeManager(pinShare: 0)
        try zeroCap.prefill(run(0, 9))
        #expect(try zeroCap.pin(tokens: run(0, 8), ttl: .seconds(5)) == nil)
    }

    @Test func pinsLapseUnderPressureOnlyWhenNothingElseCanFree() throws {
        let cache = try makeManager(blocks: 8, pinShare: 0.5)  // cap 4
        let a = try cache.prefill(run(0, 17))  // 5 blocks, 4 cached
        _ = try #require(try cache.pin(a.sequence, prefixTokens: 16, ttl: .seconds(600)))
        cache.free(a.sequence)
        // With another sequence running, a big request waits instead of breaking pins.
        let small = try #require(try cache.admit(try cache.lookup(run(300, 4))))
        #expect(try cache.admit(try cache.lookup(run(100, 20))) == nil)
        #expect(cache.stats().activePins == 1)
        cache.free(small.sequence)
        // Alone, it could never run while the pin holds half the pool: the pin lapses.
        let big = try #require(try cache.admit(try cache.lookup(run(100, 20))))
        #expect(cache.stats().activePins == 0)
        cache.free(big.sequence)
        cache.expectConsistent()
    }

    @Test func resetDropsPins() throws {
        let cache = try makeManager()
        cache.free(try cache.prefill(run(0, 9)).sequence)
        let pin = try #require(try cache.pin(tokens: run(0, 8), ttl: .seconds(60)))
        #expect(cache.reset() == 2)
        #expect(!cache.unpin(pin.id))
        #expect(cache.stats().pinsLapsed == 1)
        cache.expectConsistent()
    }
}
