import Foundation
import Gateway
import Logging
import RedisTestSupport
import Testing

@Suite("Redis response cache", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct CacheRedisTests {
    func layer(_ server: TestRedisServer, namespace: String? = "llmcache", ttl: Double? = 600,
               clock: ManualClock = ManualClock()) async -> CacheLayer {
        await CacheLayer(settings: CacheSettings(enabled: true, type: .redis, namespace: namespace, ttl: ttl,
                                                 redis: server.configuration),
                         embedder: nil, logger: Logger(label: "test"), clock: clock.cacheClock)
    }

    @Test func hitAfterMissWithStoredEnvelopeAndTTL() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let clock = ManualClock()
        let cache = await layer(server, clock: clock)
        let body = chatBody("What is 2+2?", extra: [("stream", true)])
        let miss = try await cache.lookup(kind: .chat, body: body, cacheControlHeader: nil, tenant: nil)
        guard case .miss = miss.outcome else { Issue.record("expected miss"); return }
        #expect(miss.key.hasPrefix("llmcache:"))
        await cache.store(miss, response: chatResponse("4"))

        let redis = server.client()
        let raw = try #require(try await redis.get(miss.key))
        let envelope = try JSONValue.parseOrdered(raw)
        guard case .object(let pairs) = envelope else { Issue.record("not an object"); return }
        #expect(pairs.map(\.0).sorted() == ["response", "timestamp"])
        #expect(envelope["timestamp"] == .double(clock.now) || envelope["timestamp"] == .int(Int(clock.now)))
        #expect(envelope["response"]?["choices"] == chatResponse("4")["choices"])
        let ttl = try #require(try await redis.command(["TTL", miss.key]).int)
        #expect(ttl > 60 && ttl <= 600)   // set from the 600 s default (slack: a loaded CI machine)

        // Non-streaming request with the same content hits (stream flag not in the key).
        let hit = try await cache.lookup(kind: .chat, body: chatBody("What is 2+2?"), cacheControlHeader: nil, tenant: nil)
        guard case .hit(let response, let key) = hit.outcome else { Issue.record("expected hit"); return }
        #expect(key == miss.key)
        #expect(response["choices"] == chatResponse("4")["choices"])
        #expect(response["id"] != chatResponse("4")["id"])
        #expect(response["model"] == "gemma")
        #expect(response["usage"]?["total_tokens"] == 0)
        #expect(await cache.stats()["hits"] == 1)
    }

    @Test func ttlControlNoExpiryAndSMaxAge() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let clock = ManualClock()
        let cache = await layer(server, ttl: nil, clock: clock)
        let redis = server.client()
        let forever = try await cache.lookup(kind: .chat, body: chatBody("a"), cacheControlHeader: nil, tenant: nil)
        await cache.store(forever, response: chatResponse("A"))
        #expect(try await redis.command(["TTL", forever.key]).int == -1)
        let custom = try await cache.lookup(kind: .chat, body: chatBody("b", extra: [("cache", ["ttl": 42])]),
                                            cacheControlHeader: nil, tenant: nil)
        await cache.store(custom, response: chatResponse("B"))
        let ttl = try #require(try await redis.command(["TTL", custom.key]).int)
        #expect(ttl > 35 && ttl <= 42)
        clock.advance(100)
        #expect(try await isMiss(cache, chatBody("a", extra: [("cache", ["s-maxage": 60])])))
        #expect(try await !isMiss(cache, chatBody("a", extra: [("cache", ["s-maxage": 120])])))
        let viaHeader = try await cache.lookup(kind: .chat, body: chatBody("a"), cacheControlHeader: "s-maxage=10", tenant: nil)
        guard case .miss = viaHeader.outcome else { Issue.record("expected miss"); return }
    }

    @Test func flushDeletesOnlyItsNamespace() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let cache = await layer(server, namespace: "mine")
        let other = await layer(server, namespace: "theirs")
        let redis = server.client()
        try await redis.set("unrelated:data", Array("keep".utf8))
        try await redis.set("mine-but-not-a-cache-key", Array("keep".utf8))
        var mine: [String] = []
        for i in 0..<5 {
            let l = try await cache.lookup(kind: .chat, body: chatBody("q\(i)"), cacheControlHeader: nil, tenant: nil)
            await cache.store(l, response: chatResponse("a\(i)"))
            mine.append(l.key)
            let o = try await other.lookup(kind: .chat, body: chatBody("q\(i)"), cacheControlHeader: nil, tenant: nil)
            await other.store(o, response: chatResponse("a\(i)"))
        }
        #expect(try await cache.flushNamespace() == 5)
        for key in mine { #expect(try await redis.get(key) == nil) }
        #expect(try await redis.scan(match: "theirs:*").count == 5)
        #expect(try await redis.get("unrelated:data") == Array("keep".utf8))
        #expect(try await redis.get("mine-but-not-a-cache-key") == Array("keep".utf8))
        // delete by key
        let l = try await other.lookup(kind: .chat, body: chatBody("q0"), cacheControlHeader: nil, tenant: nil)
        try await other.delete(keys: [l.key])
        #expect(try await isMiss(other, chatBody("q0")))
    }

    @Test func concurrentRequestsShareThePool() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let cache = await layer(server)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let body = chatBody("question \(i % 50)")
                    let l = try await cache.lookup(kind: .chat, body: body, cacheControlHeader: nil, tenant: nil)
                    if case .miss = l.outcome { await cache.store(l, response: chatResponse("answer \(i % 50)")) }
                }
            }
            try await group.waitForAll()
        }
        for i in 0..<50 {
            let l = try await cache.lookup(kind: .chat, body: chatBody("question \(i)"), cacheControlHeader: nil, tenant: nil)
            #expect(l.response?["choices"] == chatResponse("answer \(i)")["choices"])
        }
        let stats = await cache.stats()
        #expect(stats["bypasses"] == 0)
    }

    @Test func hungRedisDoesNotBlockRequests() async throws {
        let server = try await TestRedisServer()
        defer { server.freeze(false); server.stop() }
        let cache = await layer(server)
        _ = try await cache.lookup(kind: .chat, body: chatBody("warm"), cacheControlHeader: nil, tenant: nil)
        server.freeze(true)
        let start = ContinuousClock.now
        let outcomes = try await withThrowingTaskGroup(of: CacheLookup.Outcome.self) { group in
            for i in 0..<50 {
                group.addTask {
                    try await cache.lookup(kind: .chat, body: chatBody("hung \(i)"), cacheControlHeader: nil, tenant: nil).outcome
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Bounded by the command timeout (500 ms) plus queued waits, not by 50 x 500 ms = 25 s in a row
        // (the bound is loose on purpose: CI machines are shared; bench/cache measures the real cost).
        #expect(ContinuousClock.now - start < .seconds(12))
        #expect(outcomes.allSatisfy { if case .bypass = $0 { true } else { false } })
        server.freeze(false)
        let deadline = ContinuousClock.now + .seconds(5)
        var resumed = false
        while ContinuousClock.now < deadline, !resumed {
            let l = try await cache.lookup(kind: .chat, body: chatBody("thawed"), cacheControlHeader: nil, tenant: nil)
            if case .miss = l.outcome { resumed = true } else { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(resumed)
    }

    @Test func secondInstanceSeesEntries() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let first = await layer(server)
        let second = await layer(server)
        let l = try await first.lookup(kind: .chat, body: chatBody("shared"), cacheControlHeader: nil, tenant: nil)
        await first.store(l, response: chatResponse("S"))
        let hit = try await second.lookup(kind: .chat, body: chatBody("shared"), cacheControlHeader: nil, tenant: nil)
        guard case .hit = hit.outcome else { Issue.record("expected hit"); return }
    }

    @Test func deadRedisBypassesQuicklyAndRecovers() async throws {
        let server = try await TestRedisServer()
        let cache = await layer(server)
        let ping = await cache.ping()
        #expect(ping["status"] == "healthy" && ping["cache_type"] == "redis" && ping["ping_response"] == true
                && ping["set_cache_response"] == "success")
        server.stop()
        for i in 0..<20 {
            let start = ContinuousClock.now
            let l = try await cache.lookup(kind: .chat, body: chatBody("down \(i)"), cacheControlHeader: nil, tenant: nil)
            await cache.store(l, response: chatResponse("x"))
            #expect(ContinuousClock.now - start < .milliseconds(200))
            guard case .bypass = l.outcome else { Issue.record("expected bypass, got \(l.outcome)"); return }
        }
        #expect(await cache.ping()["status"] == "unhealthy")
        #expect(await cache.stats()["redis"] == "unavailable")
        try await server.start()
        defer { server.stop() }
        let deadline = ContinuousClock.now + .seconds(5)
        var resumed = false
        while ContinuousClock.now < deadline, !resumed {
            let l = try await cache.lookup(kind: .chat, body: chatBody("back"), cacheControlHeader: nil, tenant: nil)
            if case .miss = l.outcome {
                await cache.store(l, response: chatResponse("B"))
                resumed = true
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(resumed)
        let hit = try await cache.lookup(kind: .chat, body: chatBody("back"), cacheControlHeader: nil, tenant: nil)
        guard case .hit = hit.outcome else { Issue.record("expected hit after recovery"); return }
    }
}
