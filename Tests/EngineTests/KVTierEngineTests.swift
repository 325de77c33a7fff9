import Foundation
import KVTier
import PrefixCache
import Redis
import RedisTestSupport
import Testing
@testable import Engine

/// The engine with KV tiers behind its pool: blocks written as they are registered, read at admission,
/// loaded into the pool; warm restarts from disk; a fleet sharing Redis; the admission order.
@Suite("Engine KV tiers", .serialized)
struct KVTierEngineTests {
    typealias T = InferenceEngineTests

    static func layout(_ model: LanguageModel, _ options: EngineOptions) -> KVBlockLayout {
        KVBlockLayout(model: model, options: options)
    }

    static func engine(_ model: LanguageModel, dtype: KVCacheDType = .f16, stores: (KVBlockLayout) throws -> [any KVBlockStore])
        throws -> (InferenceEngine, KVTier) {
        var options = EngineOptions(kvCacheTokens: 4096, kvCacheDType: dtype)
        // Generous: the parallel test run can keep the cooperative pool (where tier reads finish) busy for seconds.
        options.kvTierFetchTimeout = 60
        let tier = KVTier(layout: layout(model, options), stores: try stores(layout(model, options)))
        options.kvTier = tier
        return (try InferenceEngine(model: model, options: options), tier)
    }

    static func maxDifference(_ a: T.Outcome, _ b: T.Outcome) -> Float {
        var worst: Float = 0
        for (x, y) in zip(a.top, b.top) {
            for (p, q) in zip(x, y) {
                if p.id != q.id { return .infinity }
                worst = max(worst, abs(p.logprob - q.logprob))
            }
        }
        for (p, q) in zip(a.logprobs, b.logprobs) { worst = max(worst, abs(p - q)) }
        return worst
    }

    @Test(arguments: KVCacheDType.allCases)
    func aRestartedEngineHitsItsDiskTierWithTheLocalHitsLogits(dtype: KVCacheDType) async throws {
        let model = try T.load()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kv-disk-\(UUID().uuidString)").path
        let disk = { (layout: KVBlockLayout) throws -> [any KVBlockStore] in
            [try DiskKVBlockStore(root: root, layout: layout, capacityBytes: 1 << 30)]
        }
        let prompt = T.prompt(300, seed: 41) + [17, 18, 19]
        let (a, tierA) = try Self.engine(model, dtype: dtype, stores: disk)
        _ = try await T.collect(a.submit(T.greedy(prompt)))
        let local = try await T.collect(a.submit(T.greedy(prompt)))
        #expect(local.summary?.cachedTokens == 288)
        a.shutdown()
        #expect(await tierA.drain(timeout: 30))
        #expect(tierA.stats().tiers["disk"]?.writes == 19)   // 303 prompt + 7 decoded tokens: 19 full blocks

        // A new engine (a restarted server): nothing local, the disk tier supplies the prefix.
        let (b, tierB) = try Self.engine(model, dtype: dtype, stores: disk)
        defer { b.shutdown() }
        let restored = try await T.collect(b.submit(T.greedy(prompt)))
        #expect(restored.summary?.cachedTokens == 288)
        #expect(b.stats().tierHitTokens["disk"] == 288)
        #expect(b.stats().prefix?.hitTokens == 0)
        #expect(restored.tokens == local.tokens)
        let worst = Self.maxDifference(local, restored)
        print("[engine] \(dtype) prefix from the disk tier vs local hit: max |Δ logprob| \(worst)")
        #expect(worst <= 1e-3)
        // Loaded blocks are registered locally: the next request hits them in the pool, without reading the tier again.
        let reads = tierB.stats().tiers["disk"]?.reads ?? 0
        let again = try await T.collect(b.submit(T.greedy(prompt)))
        #expect(again.summary?.cachedTokens == 288)
        #expect(tierB.stats().tiers["disk"]?.reads == reads)
    }

    @Test(.enabled(if: TestRedisServer.isAvailable))
    func twoEnginesShareBlocksThroughRedisWithinATenant() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let model = try T.load()
        let redis = { (layout: KVBlockLayout) throws -> [any KVBlockStore] in
            [RedisKVBlockStore(client: RedisClient(configuration: server.configuration), layout: layout, ttl: 600)]
        }
        let (a, tierA) = try Self.engine(model, stores: redis)
        defer { a.shutdown() }
        let (b, _) = try Self.engine(model, stores: redis)
        defer { b.shutdown() }
        let prompt = T.prompt(500, seed: 42)
        var request = T.greedy(prompt)
        request.tenant = "team-a"
        let fromA = try await T.collect(a.submit(request))
        #expect(await tierA.drain(timeout: 30))
        let fromB = try await T.collect(b.submit(request))
        #expect(fromB.summary?.cachedTokens == 496)
        #expect(b.stats().tierHitTokens["redis"] == 496)
        #expect(fromB.tokens == fromA.tokens)
        #expect(Self.maxDifference(fromA, fromB) <= 1e-3)
        // Another tenant, or another cache_salt, computes its own: the salted hashes name other entries.
        var other = request
        other.tenant = "team-b"
        #expect(try await T.collect(b.submit(other)).summary?.cachedTokens == 0)
        var salted = request
        salted.cacheSalt = "s"
        #expect(try await T.collect(b.submit(salted)).summary?.cachedTokens == 0)
    }

    @Test(.enabled(if: TestRedisServer.isAvailable))
    func aDeadRedisTierLeavesTheEngineServing() async throws {
        let server = try await TestRedisServer()
        let model = try T.load()
        let (engine, tier) = try Self.engine(model) { layout in
            [RedisKVBlockStore(client: RedisClient(configuration: server.configuration), layout: layout, ttl: 600)]
        }
        defer { engine.shutdown() }
        server.stop()
        for seed in 0..<3 {
            let out = try await T.collect(engine.submit(T.greedy(T.prompt(200, seed: 50 + UInt64(seed)))))
            #expect(out.tokens.count == 8)
            #expect(out.summary?.cachedTokens == 0)
        }
        let local = try await T.collect(engine.submit(T.greedy(T.prompt(200, seed: 50))))
        #expect(local.summary?.cachedTokens == 192, "the local cache still works")
        #expect((tier.stats().tiers["redis"]?.errors ?? 0) >= 1)
    }

    /// With one sequence at a time, a request whose prefix is cached overtakes an earlier cold one (lpm);
    /// with aging 0 (or fcfs) arrival order holds.
    @Test(arguments: [(SchedulePolicy.longestPrefix, 60.0, true), (.longestPrefix, 0, false), (.fcfs, 60, false)])
    func admissionPrefersTheLongestCachedPrefix(policy: SchedulePolicy, aging: Double, cachedFirst: Bool) async throws {
        var options = EngineOptions(kvCacheTokens: 8192, maxRunning: 1)
        options.schedulePolicy = policy
        options.scheduleAging = aging
        let engine = try InferenceEngine(model: try T.load(), options: options)
        defer { engine.shutdown() }
        let shared = T.prompt(400, seed: 60)
        _ = try await T.collect(engine.submit(T.greedy(shared + [5], max: 1)))
        // A long-running request holds the only slot while the two others queue: cold first, cached second.
        let blocker = engine.submit(T.greedy(T.prompt(50, seed: 61), max: 200))
        let order = OrderLog()
        async let cold: Void = order.run("cold", engine.submit(T.greedy(T.prompt(400, seed: 62), max: 2)))
        try await Task.sleep(for: .milliseconds(20))
        async let cached: Void = order.run("cached", engine.submit(T.greedy(shared + [6, 7], max: 2)))
        _ = try await T.collect(blocker)
        _ = try await (cold, cached)
        let first = await order.first
        #expect(first == (cachedFirst ? "cached" : "cold"), "\(policy) aging \(aging): \(first ?? "none") first")
    }
}

/// Which stream produced its first token first.
actor OrderLog {
    private(set) var first: String?

    nonisolated func run(_ name: String, _ stream: AsyncThrowingStream<GenerationEvent, any Error>) async throws {
        for try await event in stream {
            if case .token = event { await mark(name) }
        }
    }

    private func mark(_ name: String) { if first == nil { first = name } }
}
