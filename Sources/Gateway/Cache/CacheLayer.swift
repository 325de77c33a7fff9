import Foundation
import Logging
import Redis
import Synchronization

/// The facade the HTTP server calls: controls, exact layer, semantic layer, statistics.
///
/// Contract:
/// - `lookup` throws only `CacheControlError` (bad per-request controls, a 400). Backend trouble is a
///   `.bypass` (Redis down: the breaker makes it fail in microseconds after the first few failures).
/// - The exact layer is consulted first; then, for chat requests with the semantic layer on, the
///   semantic layer. `s-maxage` applies to both.
/// - `store` never throws and never stores error or empty responses, nor after `no-store`, `default_off`
///   without opt-in, or a bypass caused by a backend failure. `no-cache` still stores.
/// - Call `shutdown()` before dropping a layer with Redis (stops the semantic subscriber and rescans).
public final class CacheLayer: Sendable {
    public let settings: CacheSettings
    public let exact: any ResponseCache
    public let semantic: SemanticCache?
    public let redis: RedisClient?
    private let clock: CacheClock
    private let logger: Logger
    private let counters = Mutex(Counters())
    private let verifier = SemanticVerifier()

    struct Counters: Sendable {
        var hits = 0, semanticHits = 0, misses = 0, bypasses = 0, stores = 0, storeErrors = 0
        /// Semantic candidates above the threshold refused by the verifier, by rule.
        var semanticRejections: [SemanticVerifier.Rule: Int] = [:]
    }

    public init(settings: CacheSettings, embedder: (any Embedder)?, logger: Logger, clock: CacheClock = .system) async {
        self.settings = settings
        self.clock = clock
        self.logger = logger
        let usesRedis = settings.enabled && settings.type != .local
        if usesRedis {
            let configuration = settings.redis ?? ((try? RedisConfiguration.fromEnvironment()) ?? nil) ?? RedisConfiguration()
            let client = RedisClient(configuration: configuration, logger: logger)
            redis = client
            exact = RedisResponseCache(client: client)
        } else {
            redis = nil
            exact = MemoryResponseCache(maxEntries: settings.maxEntries, maxBytes: settings.maxBytes, clock: clock)
        }
        if settings.enabled, settings.similarityThreshold != nil, let embedder {
            var options = SemanticCacheOptions()
            options.hnswThreshold = settings.semanticIndexHNSWThreshold
            options.embeddingTimeout = settings.semanticEmbeddingTimeout
            options.rescanInterval = settings.semanticRescanInterval
            semantic = SemanticCache(
                embedder: embedder, redis: redis, namespace: settings.namespace, options: options, clock: clock,
                logger: logger)
            await semantic?.start()
        } else {
            if settings.enabled, settings.similarityThreshold != nil {
                logger.warning("similarity_threshold set but no embedding model: semantic cache disabled")
            }
            semantic = nil
        }
    }

    /// Stops background work (semantic subscriber and rescans).
    public func shutdown() {
        semantic?.shutdown()
    }

    /// Looks the request up. `body` is the parsed request JSON; `tenant` the API key identity (or nil).
    public func lookup(
        kind: CacheRequestKind, body: JSONValue, cacheControlHeader: String?, tenant: String?,
        namespace keyNamespace: String? = nil
    ) async throws(CacheControlError) -> CacheLookup {
        guard settings.enabled else {
            return CacheLookup(outcome: .disabled, key: "", similarity: nil, headers: [], kind: kind,
                               storeAllowed: false, ttl: nil)
        }
        let controls = try CacheControls.parse(body: body, header: cacheControlHeader)
        let namespace = controls.namespace ?? keyNamespace ?? settings.namespace
        let key = CacheKey.make(kind: kind, body: body, namespace: namespace, tenant: tenant)
        var result = CacheLookup(
            outcome: .miss, key: key, similarity: nil, headers: [], kind: kind,
            storeAllowed: !controls.noStore, ttl: controls.ttl ?? settings.ttl)
        if kind == .chat, semantic != nil {
            result.semanticQuery = SemanticScope.make(body: body, namespace: namespace, tenant: tenant)
        }
        if let kinds = settings.supportedKinds, !kinds.contains(kind) {
            result.storeAllowed = false
            return bypass(result, reason: "call type not in supported_call_types")
        }
        let optedIn = settings.mode == .defaultOn ? controls.useCache != false : controls.useCache == true
        guard optedIn else {
            result.storeAllowed = false
            return bypass(result, reason: settings.mode == .defaultOff ? "default_off" : "use-cache false")
        }
        if controls.noCache { return bypass(result, reason: "no-cache") }

        let now = clock.now()
        do {
            if let entry = try await exact.get(key), controls.sMaxAge.map({ now - entry.timestamp <= $0 }) ?? true {
                let response = CacheReplay.rewrite(
                    entry.response, model: Self.model(body), usage: settings.replayUsage, now: now)
                result.outcome = .hit(response: response, key: key)
                result.storedUsage = entry.response["usage"]
                result.headers = [("x-cache", "HIT"), ("x-litellm-cache-key", key)]
                counters.withLock { $0.hits += 1 }
                return result
            }
        } catch {
            logger.debug("cache lookup failed", metadata: ["error": "\(error)"])
            result.storeAllowed = false
            return bypass(result, reason: "cache unavailable")
        }

        if let semantic, let query = result.semanticQuery, let threshold = settings.similarityThreshold,
           let vector = await semantic.embed(query.text) {
            result.semanticVector = vector
            if let match = await semantic.bestMatch(scope: query.scope, vector: vector, maxAge: controls.sMaxAge) {
                result.similarity = match.similarity
                result.headers.append(("x-litellm-semantic-similarity", String(format: "%.4f", match.similarity)))
                // Above the threshold, the verifier must find no difference that changes the answer.
                let refusal = match.similarity >= threshold && settings.semanticVerification
                    ? verifier.refusal(query.text, match.text) : nil
                if match.similarity >= threshold, let refusal {
                    result.headers.append(("x-semantic-verdict", "different (\(refusal.rawValue))"))
                    counters.withLock { $0.semanticRejections[refusal, default: 0] += 1 }
                } else if match.similarity >= threshold {
                    let response = CacheReplay.rewrite(
                        match.response, model: Self.model(body), usage: settings.replayUsage, now: now)
                    result.outcome = .semanticHit(response: response, key: match.key, similarity: match.similarity)
                    result.storedUsage = match.response["usage"]
                    result.headers += [("x-cache", "SEMANTIC_HIT"), ("x-litellm-cache-key", match.key)]
                    if settings.semanticVerification { result.headers.append(("x-semantic-verdict", "same")) }
                    counters.withLock { $0.semanticHits += 1 }
                    return result
                }
            }
        }
        result.headers.append(("x-cache", "MISS"))
        counters.withLock { $0.misses += 1 }
        return result
    }

    private func bypass(_ lookup: CacheLookup, reason: String) -> CacheLookup {
        var lookup = lookup
        lookup.outcome = .bypass(reason: reason)
        lookup.headers = [("x-cache", "BYPASS")]
        counters.withLock { $0.bypasses += 1 }
        return lookup
    }

    /// Stores a fresh non-streaming response (for a stream: `CacheReplay.assemble(chunks:)` first).
    /// No-op after hits, `no-store`, opt-out, backend-failure bypasses, and for error or empty responses.
    public func store(_ lookup: CacheLookup, response: JSONValue) async {
        switch lookup.outcome {
        case .miss, .bypass: break
        case .hit, .semanticHit, .disabled: return
        }
        guard lookup.storeAllowed, Self.isStorable(response, kind: lookup.kind) else { return }
        let entry = CachedResponse(timestamp: clock.now(), response: response)
        do {
            try await exact.set(lookup.key, entry, ttl: lookup.ttl)
            if let semantic, let query = lookup.semanticQuery {
                var vector = lookup.semanticVector
                if vector == nil { vector = await semantic.embed(query.text) }
                if let vector { try await semantic.insert(query: query, vector: vector, response: response, ttl: lookup.ttl) }
            }
            counters.withLock { $0.stores += 1 }
        } catch {
            counters.withLock { $0.storeErrors += 1 }
            logger.debug("cache store failed", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes exact and semantic entries by key (what `POST /cache/delete` takes).
    public func delete(keys: [String]) async throws(CacheError) {
        try await exact.delete(keys)
        try await semantic?.delete(keys: keys)
    }

    /// Deletes every entry of the configured namespace (never FLUSHALL); returns how many were removed.
    @discardableResult
    public func flushNamespace() async throws(CacheError) -> Int {
        var removed = try await exact.flush(namespace: settings.namespace)
        if let semantic { removed += try await semantic.flush() }
        return removed
    }

    /// Forces the semantic index to resynchronise with Redis now (tests, admin).
    public func syncNow() async {
        await semantic?.rescan()
    }

    /// `GET /cache/ping` body (LiteLLM's shape). `status` is `"healthy"` or `"unhealthy"` (serve a 503).
    public func ping() async -> JSONValue {
        let cacheType: JSONValue = .string(settings.enabled ? exact.cacheType : "none")
        guard settings.enabled else {
            return ["status": "unhealthy", "cache_type": cacheType, "error": "cache is not enabled"]
        }
        do {
            try await exact.ping()
            let probeKey = CacheKey.prefixed("health-check", namespace: settings.namespace)
            try await exact.set(probeKey, CachedResponse(timestamp: clock.now(), response: ["ping": true]), ttl: 10)
            return [
                "status": "healthy", "cache_type": cacheType, "ping_response": true,
                "set_cache_response": "success", "semantic_cache": .bool(semantic != nil),
                "namespace": .optional(settings.namespace),
            ]
        } catch {
            return ["status": "unhealthy", "cache_type": cacheType, "ping_response": false, "error": .string(error.message)]
        }
    }

    /// Counters and sizes: hits, semantic_hits, misses, bypasses, stores, entries, bytes, redis status.
    public func stats() async -> JSONValue {
        let c = counters.withLock { $0 }
        let size = await exact.stats()
        let redisStatus: String = redis.map { $0.isCircuitOpen ? "unavailable" : "connected" } ?? "not_configured"
        var pairs: [(String, JSONValue)] = [
            ("enabled", .bool(settings.enabled)), ("cache_type", .string(exact.cacheType)),
            ("hits", .int(c.hits)), ("semantic_hits", .int(c.semanticHits)),
            ("semantic_rejections", .int(c.semanticRejections.values.reduce(0, +))),
            ("semantic_rejections_by_rule", .object(SemanticVerifier.Rule.allCases.compactMap { rule in
                c.semanticRejections[rule].map { (rule.rawValue, .int($0)) } })),
            ("misses", .int(c.misses)),
            ("bypasses", .int(c.bypasses)), ("stores", .int(c.stores)), ("store_errors", .int(c.storeErrors)),
            ("entries", size.entries.map { .int($0) } ?? .null), ("bytes", size.bytes.map { .int($0) } ?? .null),
            ("redis", .string(redisStatus)),
        ]
        if let semantic { pairs.append(("semantic_entries", .int(await semantic.entryCount))) }
        return .object(pairs)
    }

    /// Whether a response may be cached: not an error, and with non-empty output.
    public static func isStorable(_ response: JSONValue, kind: CacheRequestKind) -> Bool {
        guard case .object = response, response["error"] == nil || response["error"] == .null else { return false }
        if kind == .embedding {
            if case .array(let data)? = response["data"] { return !data.isEmpty }
            return false
        }
        guard case .array(let choices)? = response["choices"], !choices.isEmpty else { return false }
        return choices.contains { choice in
            if case .string(let text)? = choice["text"], !text.isEmpty { return true }
            guard let message = choice["message"] else { return false }
            if case .string(let content)? = message["content"], !content.isEmpty { return true }
            if case .array(let calls)? = message["tool_calls"], !calls.isEmpty { return true }
            return false
        }
    }

    private static func model(_ body: JSONValue) -> String? {
        if case .string(let m)? = body["model"] { return m }
        return nil
    }
}
