import Gateway
import Testing

@Suite("Memory response cache")
struct CacheMemoryTests {
    func entry(_ text: String) -> CachedResponse { CachedResponse(timestamp: 1, response: chatResponse(text)) }

    @Test func lruEvictionByCount() async throws {
        let cache = MemoryResponseCache(maxEntries: 3)
        for k in ["a", "b", "c"] { try await cache.set(k, entry(k), ttl: nil) }
        _ = try await cache.get("a")                 // a is now most recent; b is least recent
        try await cache.set("d", entry("d"), ttl: nil)
        #expect(try await cache.get("b") == nil)
        for k in ["a", "c", "d"] { #expect(try await cache.get(k) == entry(k)) }
        #expect(await cache.stats().entries == 3)
    }

    @Test func bytesBound() async throws {
        let size = "k0".utf8.count + chatResponse("x").serialized().utf8.count
        let cache = MemoryResponseCache(maxEntries: 100, maxBytes: size * 2 + size / 2)
        for i in 0..<3 { try await cache.set("k\(i)", entry("x"), ttl: nil) }
        let stats = await cache.stats()
        #expect(stats.entries == 2 && stats.bytes == size * 2)
        #expect(try await cache.get("k0") == nil)
        let huge = MemoryResponseCache(maxEntries: 10, maxBytes: 10)
        try await huge.set("big", entry("far too large"), ttl: nil)
        #expect(await huge.stats().entries == 0)
    }

    @Test func ttlWithInjectedClock() async throws {
        let clock = ManualClock()
        let cache = MemoryResponseCache(clock: clock.cacheClock)
        try await cache.set("short", entry("s"), ttl: 5)
        try await cache.set("forever", entry("f"), ttl: nil)
        clock.advance(4.9)
        #expect(try await cache.get("short") != nil)
        clock.advance(0.2)
        #expect(try await cache.get("short") == nil)
        clock.advance(1e6)
        #expect(try await cache.get("forever") != nil)
    }

    @Test func flushOnlyItsNamespace() async throws {
        let cache = MemoryResponseCache()
        let k1 = CacheKey.make(kind: .chat, body: chatBody("1"), namespace: "a")
        let k2 = CacheKey.make(kind: .chat, body: chatBody("1"), namespace: "b")
        let k3 = CacheKey.make(kind: .chat, body: chatBody("1"), namespace: nil)
        for k in [k1, k2, k3] { try await cache.set(k, entry("x"), ttl: nil) }
        #expect(try await cache.flush(namespace: "a") == 1)
        #expect(try await cache.get(k2) != nil)
        #expect(try await cache.get(k3) != nil)
        #expect(try await cache.flush(namespace: nil) == 1)
        #expect(try await cache.get(k2) != nil)
    }

    /// Property: after any sequence of operations the bounds hold and the most recent write is readable.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomOperationsKeepInvariants(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let cache = MemoryResponseCache(maxEntries: 8, maxBytes: 4000)
        for _ in 0..<500 {
            let key = "k\(Int.random(in: 0..<20, using: &rng))"
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let e = entry(String(repeating: "x", count: Int.random(in: 1..<300, using: &rng)))
                try await cache.set(key, e, ttl: nil)
                #expect(try await cache.get(key) == e)
            case 1: _ = try await cache.get(key)
            default: try await cache.delete([key])
            }
            let s = await cache.stats()
            #expect(s.entries! <= 8 && s.bytes! <= 4000)
        }
    }
}
