import Foundation
import Gateway
import Redis
import RedisTestSupport
import Testing

/// `latency-based-routing` with latencies shared through a real Redis: two routers (two gateway instances)
/// over the same two real HTTP deployments, one slow.
@Suite("Latency stats in Redis", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct LatencyStoreTests {
    static func router(_ upstream: TestUpstream, store: (any LatencyStore)?) -> ProviderRouter {
        var s = RouterTests.settings()
        s.routingStrategy = .latencyBased
        return ProviderRouter(deployments: [RouterTests.deployment("slow", group: "g", base: upstream.base("slow")),
                                            RouterTests.deployment("fast", group: "g", base: upstream.base("fast"))],
                              settings: s, latencies: store, random: SplitMix64(seed: 3))
    }

    static func send(_ router: ProviderRouter) async throws -> String {
        try await router.route(modelGroup: "g", request: RouterTests.request).deploymentID
    }

    /// Waits until the store holds a sample for each of `ids` (recording is off the request path).
    static func samples(_ store: RedisLatencyStore, _ ids: [String]) async throws -> [String: Double] {
        for _ in 0..<200 {
            if let a = await store.averages(ids), a.count == ids.count { return a }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no latency samples for \(ids)")
        return [:]
    }

    @Test func aSecondInstanceUsesTheFirstInstancesMeasurements() async throws {
        let redis = try await TestRedisServer()
        defer { redis.stop() }
        try await TestUpstream.with { upstream in
            await upstream.set("slow", .slowFirstByte(seconds: 0.3))
            let storeA = RedisLatencyStore(redis: redis.client(), prefix: "lat-test")
            let a = Self.router(upstream, store: storeA)
            // Instance A measures both (unmeasured deployments go first).
            let first = Set([try await Self.send(a), try await Self.send(a)])
            #expect(first == ["slow", "fast"])
            let shared = try await Self.samples(storeA, ["slow", "fast"])
            #expect(shared["slow"]! >= 0.3 && shared["fast"]! < shared["slow"]!)
            // Instance B has measured nothing itself, yet never tries the slow one.
            let b = Self.router(upstream, store: RedisLatencyStore(redis: redis.client(), prefix: "lat-test"))
            for _ in 0..<5 { #expect(try await Self.send(b) == "fast") }
            #expect(await upstream.hits("slow") == 1)
            // Without the shared store a fresh instance measures the slow one again.
            let c = Self.router(upstream, store: nil)
            var seen = Set<String>()
            for _ in 0..<2 { seen.insert(try await Self.send(c)) }
            #expect(seen == ["slow", "fast"])
        }
    }

    @Test func keepsTheNewestSamplesWithAnExpiryAndIgnoresForeignEntries() async throws {
        let redis = try await TestRedisServer()
        defer { redis.stop() }
        let client = redis.client()
        let store = RedisLatencyStore(redis: client, prefix: "lat-test", samples: 3, ttl: 60)
        for s in [1.0, 2.0, 3.0, 4.0] { await store.record(deploymentID: "d", seconds: s) }
        // The newest three (4, 3, 2): mean 3.
        #expect(await store.averages(["d"]) == ["d": 3.0])
        guard case .int(let ttl) = try await client.command(["PTTL", "lat-test:latency:d"]) else {
            Issue.record("PTTL")
            return
        }
        #expect(ttl > 50_000 && ttl <= 60_000)
        // Entries someone else wrote that are not latencies are skipped; a key of them counts as unmeasured.
        _ = try await client.command(["DEL", "lat-test:latency:x"])
        _ = try await client.command(["RPUSH", "lat-test:latency:x", "nan", "-5", "1e300", "inf",
                                      String(repeating: "9", count: 100), "500"])
        #expect(await store.averages(["x"]) == [:])   // only 3 entries are read, all rejected
        _ = try await client.command(["LPUSH", "lat-test:latency:x", "250"])
        #expect(await store.averages(["x"]) == ["x": 0.25])
        // Redis gone: nil (the router falls back to its own numbers), quickly.
        redis.stop()
        let started = ContinuousClock.now
        #expect(await store.averages(["d"]) == nil)
        #expect(started.duration(to: .now) < .seconds(3))
    }
}
