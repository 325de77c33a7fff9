import Redis
/// Cache configuration (from `litellm_settings.cache` / `cache_params` in the config file).
public struct CacheSettings: Sendable {
    /// `cache_params.type`.
    public enum CacheType: String, Sendable {
        /// In-process (the default).
        case local
        /// Exact cache in Redis; with `similarityThreshold` and an embedder, the semantic layer behind it.
        case redis
        /// LiteLLM's name for the same two layers as `.redis` with a threshold.
        case redisSemantic = "redis-semantic"
    }

    /// `cache_params.mode`.
    public enum Mode: String, Sendable {
        /// Every request uses the cache unless it opts out.
        case defaultOn = "default_on"
        /// Only requests with `"cache": {"use-cache": true}` use the cache.
        case defaultOff = "default_off"
    }

    /// `litellm_settings.cache: true`.
    public var enabled: Bool
    public var type: CacheType
    /// Key prefix; nil = bare digests (LiteLLM's default).
    public var namespace: String?
    /// Default TTL in seconds; nil = no expiry.
    public var ttl: Double?
    /// Cosine similarity in [0, 1] for a semantic hit; nil disables the semantic layer.
    public var similarityThreshold: Double?
    /// Serve a semantic candidate only when `SemanticVerifier` finds no difference between the two questions.
    public var semanticVerification = true
    public var mode: Mode
    /// Bounds of the in-process exact cache (`.local`).
    public var maxEntries: Int
    public var maxBytes: Int
    /// Redis connection; nil with a Redis type = `REDIS_URL` / `REDIS_HOST` from the environment,
    /// else 127.0.0.1:6379.
    public var redis: RedisConfiguration?
    /// Scopes larger than this use HNSW instead of exact search.
    public var semanticIndexHNSWThreshold: Int
    /// Seconds allowed for one embedding call (timeout = miss).
    public var semanticEmbeddingTimeout: Double
    /// Seconds between semantic-index rescans of Redis.
    public var semanticRescanInterval: Double
    /// What replayed hits report as usage.
    public var replayUsage: CachedUsagePolicy
    /// The request kinds that are cached (`cache_params.supported_call_types`); nil = all of them.
    public var supportedKinds: Set<CacheRequestKind>?

    public init(
        enabled: Bool = false, type: CacheType = .local, namespace: String? = nil, ttl: Double? = nil,
        similarityThreshold: Double? = nil, mode: Mode = .defaultOn, maxEntries: Int = 10_000,
        maxBytes: Int = 256 << 20, redis: RedisConfiguration? = nil, semanticIndexHNSWThreshold: Int = 100_000,
        semanticEmbeddingTimeout: Double = 2, semanticRescanInterval: Double = 30,
        replayUsage: CachedUsagePolicy = .zero
    ) {
        self.enabled = enabled
        self.type = type
        self.namespace = namespace
        self.ttl = ttl
        self.similarityThreshold = similarityThreshold
        self.mode = mode
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.redis = redis
        self.semanticIndexHNSWThreshold = semanticIndexHNSWThreshold
        self.semanticEmbeddingTimeout = semanticEmbeddingTimeout
        self.semanticRescanInterval = semanticRescanInterval
        self.replayUsage = replayUsage
    }
}

/// The result of `CacheLayer.lookup`: the outcome, the response headers to add, and what `store` needs.
public struct CacheLookup: Sendable {
    public enum Outcome: Sendable {
        /// Exact hit: `response` is already rewritten for replay (new id/created, requested model, usage).
        case hit(response: JSONValue, key: String)
        /// Semantic hit (rewritten likewise).
        case semanticHit(response: JSONValue, key: String, similarity: Double)
        case miss
        /// The cache was skipped: `no-cache`, `default_off`, `use-cache: false`, or the backend is down.
        case bypass(reason: String)
        /// Caching is off in the config.
        case disabled
    }

    public var outcome: Outcome
    /// The exact-cache key of the request ("" when disabled).
    public var key: String
    /// Best semantic similarity seen (hit or miss), when the semantic layer ran.
    public var similarity: Double?
    /// Headers to add to the response: `x-cache`, and on hits `x-litellm-cache-key`;
    /// `x-litellm-semantic-similarity` whenever the semantic layer ran.
    public var headers: [(String, String)]
    /// The usage the hit's answer cost when it was computed (before replay zeroed it), for cost-saved metrics.
    public var storedUsage: JSONValue?
    /// The hit's response, if any.
    public var response: JSONValue? {
        switch outcome {
        case .hit(let r, _), .semanticHit(let r, _, _): return r
        default: return nil
        }
    }

    // What `store` needs.
    var kind: CacheRequestKind
    var storeAllowed: Bool
    var ttl: Double?
    var semanticQuery: SemanticQuery?
    var semanticVector: [Float]?
}
