import Foundation
import Gateway
import Logging
import NumericCore
import RedisTestSupport
import Testing

@Suite("Semantic cache", .serialized)
struct SemanticCacheTests {
    func settings(_ type: CacheSettings.CacheType, _ server: TestRedisServer? = nil, threshold: Double = 0.9) -> CacheSettings {
        CacheSettings(enabled: true, type: type, namespace: "sem", ttl: 600, similarityThreshold: threshold,
                      redis: server?.configuration, semanticRescanInterval: 3600)
    }

    func lookup(_ layer: CacheLayer, _ body: JSONValue, tenant: String? = nil) async throws -> CacheLookup {
        try await layer.lookup(kind: .chat, body: body, cacheControlHeader: nil, tenant: tenant)
    }

    @Test func scopeIgnoresLastQuestionOnly() throws {
        let a = try #require(SemanticScope.make(body: chatBody("What is the capital of France?"), namespace: "n", tenant: nil))
        let b = try #require(SemanticScope.make(body: chatBody("capital of France?"), namespace: "n", tenant: nil))
        #expect(a.scope == b.scope && a.text == "What is the capital of France?")
        let others = [
            SemanticScope.make(body: chatBody("x", model: "m2"), namespace: "n", tenant: nil),
            SemanticScope.make(body: chatBody("x", system: "Be verbose."), namespace: "n", tenant: nil),
            SemanticScope.make(body: chatBody("x", temperature: 0.9), namespace: "n", tenant: nil),
            SemanticScope.make(body: chatBody("x"), namespace: "n", tenant: "key-2"),
            SemanticScope.make(body: chatBody("x"), namespace: "m", tenant: nil),
        ].map { $0!.scope }
        #expect(Set(others + [a.scope]).count == 6)
        let image: JSONValue = ["model": "m", "messages": [["role": "user", "content": [["type": "image_url", "image_url": ["url": "x"]]]]]]
        #expect(SemanticScope.make(body: image, namespace: nil, tenant: nil) == nil)
    }

    @Test func memoryOnlyHitMissAndScopes() async throws {
        let layer = await CacheLayer(settings: settings(.local), embedder: TestEmbedder(), logger: Logger(label: "t"))
        let first = try await lookup(layer, chatBody("What is the capital city of France"))
        guard case .miss = first.outcome else { Issue.record("expected miss"); return }
        await layer.store(first, response: chatResponse("Paris"))
        // Near duplicate (one extra word): semantic hit with similarity >= 0.9 reported in a header.
        let near = try await lookup(layer, chatBody("What is the capital city of France please"))
        guard case .semanticHit(let response, let key, let similarity) = near.outcome else {
            Issue.record("expected semantic hit, got \(near.outcome)"); return
        }
        #expect(similarity >= 0.9 && similarity < 1)
        #expect(key.hasPrefix("sem:semantic:"))
        #expect(response["choices"] == chatResponse("Paris")["choices"])
        #expect(near.headers.contains { $0 == ("x-cache", "SEMANTIC_HIT") })
        #expect(near.headers.contains { $0.0 == "x-litellm-semantic-similarity" })
        // Below threshold: miss, similarity still reported.
        let far = try await lookup(layer, chatBody("How do volcanoes form under the ocean"))
        guard case .miss = far.outcome else { Issue.record("expected miss"); return }
        // Same question in other scopes: miss.
        for body in [chatBody("What is the capital city of France please", model: "other"),
                     chatBody("What is the capital city of France please", system: "Answer in German.")] {
            guard case .miss = try await lookup(layer, body).outcome else { Issue.record("expected scope miss"); return }
        }
        guard case .miss = try await lookup(layer, chatBody("What is the capital city of France please"), tenant: "t2").outcome else {
            Issue.record("expected tenant miss"); return
        }
        #expect(await layer.stats()["semantic_hits"] == 1)
    }

    @Test func largeScopeSwitchesToHNSW() async throws {
        var s = settings(.local)
        s.semanticIndexHNSWThreshold = 16
        let layer = await CacheLayer(settings: s, embedder: TestEmbedder(dimension: 4096), logger: Logger(label: "t"))
        let topics = (0..<60).map { "topic\($0) alpha\($0) beta\($0) gamma\($0) delta\($0)" }
        for (i, topic) in topics.enumerated() {
            let l = try await lookup(layer, chatBody("tell me about " + topic))
            guard case .miss = l.outcome else { Issue.record("expected miss for \(i), got \(l.outcome)"); continue }
            await layer.store(l, response: chatResponse("answer \(i)"))
        }
        #expect(await layer.stats()["semantic_entries"] == 60)
        for i in [0, 17, 59] {
            let l = try await lookup(layer, chatBody("tell me about " + topics[i] + " please"))
            guard case .semanticHit(let response, _, _) = l.outcome else { Issue.record("expected hit for \(i)"); continue }
            #expect(response["choices"] == chatResponse("answer \(i)")["choices"])
        }
    }

    @Test func embeddingTimeoutIsAMiss() async throws {
        var s = settings(.local)
        s.semanticEmbeddingTimeout = 0.05
        let layer = await CacheLayer(settings: s, embedder: SlowEmbedder(), logger: Logger(label: "t"))
        let start = ContinuousClock.now
        let l = try await lookup(layer, chatBody("anything"))
        guard case .miss = l.outcome else { Issue.record("expected miss"); return }
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test(.enabled(if: TestRedisServer.isAvailable))
    func redisEntriesAreSharedBetweenInstances() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let a = await CacheLayer(settings: settings(.redis, server), embedder: TestEmbedder(), logger: Logger(label: "a"))
        let b = await CacheLayer(settings: settings(.redis, server), embedder: TestEmbedder(), logger: Logger(label: "b"))
        defer { a.shutdown(); b.shutdown() }
        let miss = try await lookup(a, chatBody("Explain the rules of chess briefly"))
        await a.store(miss, response: chatResponse("Pieces move."))
        // Stored hash layout.
        let keys = try await server.client().scan(match: "sem:semantic:*")
        #expect(keys.count == 1)
        let fields = try await server.client().hgetall(keys[0])
        #expect(Set(fields.keys).isSuperset(of: ["vector", "response", "scope", "timestamp", "expires_at"]))
        #expect(fields["vector"]?.count == 64 * 4)
        let ttl = try #require(try await server.client().command(["TTL", keys[0]]).int)
        #expect(ttl > 590 && ttl <= 600)
        // b gets it through pub/sub (or a forced rescan): wait until its index holds the entry.
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, await b.stats()["semantic_entries"] != 1 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let hit = try await lookup(b, chatBody("Explain the rules of chess briefly please"))
        guard case .semanticHit = hit.outcome else { Issue.record("expected semantic hit on b, got \(hit.outcome)"); return }
        // Exact hit on b as well.
        guard case .hit = try await lookup(b, chatBody("Explain the rules of chess briefly")).outcome else {
            Issue.record("expected exact hit on b"); return
        }
        // A third instance started later loads the entry at start.
        let cClock = ManualClock(Date().timeIntervalSince1970)
        let c = await CacheLayer(settings: settings(.redis, server), embedder: TestEmbedder(), logger: Logger(label: "c"),
                                 clock: cClock.cacheClock)
        defer { c.shutdown() }
        guard case .semanticHit = try await lookup(c, chatBody("Explain the rules of chess briefly please")).outcome else {
            Issue.record("expected semantic hit on c"); return
        }
        // Deleting the entry in Redis: a rescan drops it.
        try await server.client().unlink(keys)
        cClock.advance(2)   // a rescan keeps entries loaded less than 1 s before it started
        await c.syncNow()
        guard case .miss = try await lookup(c, chatBody("Explain the rules of chess briefly please")).outcome else {
            Issue.record("expected miss after delete + rescan"); return
        }
        // Flush clears semantic entries everywhere.
        let m2 = try await lookup(a, chatBody("Name three primary colours"))
        await a.store(m2, response: chatResponse("Red, yellow, blue"))
        try await a.flushNamespace()
        #expect(try await server.client().scan(match: "sem:*").isEmpty)
        guard case .miss = try await lookup(a, chatBody("Name three primary colours please")).outcome else {
            Issue.record("expected miss after flush"); return
        }
    }

    @Test func hnswRecallAgainstExactSearch() {
        let dimension = 64, count = 5_000, queries = 200
        var rng = SplitMix64(seed: 42)
        func randomUnit() -> [Float] {
            VectorMath.normalized((0..<dimension).map { _ in rng.nextGaussian() })!
        }
        var flat = FlatVectorIndex(dimension: dimension)
        var hnsw = HNSWIndex(dimension: dimension, efSearch: 128)
        for id in 0..<count {
            let v = randomUnit()
            flat.add(id: id, vector: v)
            hnsw.add(id: id, vector: v)
        }
        var found = 0
        for _ in 0..<queries {
            let q = randomUnit()
            if flat.search(q, k: 1).first?.id == hnsw.search(q, k: 1).first?.id { found += 1 }
        }
        let recall = Double(found) / Double(queries)
        #expect(recall >= 0.95, "recall@1 = \(recall)")
        // Removal: removed ids are never returned and the index shrinks.
        for id in 0..<2_600 { hnsw.remove(id: id) }
        #expect(hnsw.count == 2_400)
        for _ in 0..<20 { #expect(hnsw.search(randomUnit(), k: 5).allSatisfy { $0.id >= 2_600 }) }
    }

    @Test func simdDotMatchesScalar() {
        var rng = SplitMix64(seed: 7)
        for n in [1, 15, 16, 17, 31, 32, 33, 384, 385] {
            let a = (0..<n).map { _ in rng.nextGaussian() }, b = (0..<n).map { _ in rng.nextGaussian() }
            let fast = VectorMath.dot(a, b)
            let slow = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { VectorMath.dotScalar(pa.baseAddress!, $0.baseAddress!, n) } }
            #expect(abs(fast - slow) <= 1e-4 * Float(n))
        }
    }

    @Test func flatIndexExactSearchAndRemoval() {
        var index = FlatVectorIndex(dimension: 2)
        index.add(id: 1, vector: [1, 0])
        index.add(id: 2, vector: [0, 1])
        index.add(id: 3, vector: VectorMath.normalized([1, 1])!)
        #expect(index.search([1, 0], k: 2).map(\.id) == [1, 3])
        index.remove(id: 1)
        #expect(index.search([1, 0], k: 1).map(\.id) == [3])
        #expect(index.count == 2)
    }
}

/// Uniform and Gaussian draws for index tests, on the router's seedable generator.
extension SplitMix64 {
    mutating func nextUnit() -> Double { (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992.0 }
    mutating func nextGaussian() -> Float {
        Float((-2 * log(nextUnit())).squareRoot() * cos(2 * .pi * nextUnit()))
    }
}
