import KVTier
import PrefixCache

/// One generation request to the `InferenceEngine`.
public struct GenerationRequest: Sendable {
    public var promptTokens: [Int]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Stop at an end-of-generation token (not emitted).
    public var stopAtEndOfGeneration: Bool
    /// Prefix-cache isolation set by the server (e.g. a digest of the API key when tenants are isolated).
    public var tenant: String?
    /// The client's `cache_salt`: adds to the tenant salt. Both nil = unsalted, shared with every request.
    public var cacheSalt: String?
    /// Leading prompt tokens that stay unsalted (a declared public prefix shared across salts).
    public var publicPrefixTokens: Int
    /// Report the log-probability of each sampled token and this many top alternatives (0 = none).
    public var topLogprobs: Int
    public var logprobs: Bool
    /// Keep the prompt's first `prefixTokens` cached for `ttl` once computed (an Anthropic-style
    /// `cache_control` breakpoint), within the pool share pins may take.
    public var pin: PrefixPin?
    /// Constrain the output to this grammar: every token is one the grammar allows, end of generation only
    /// where the text is complete, and the request stops (`stop`) once nothing more may follow.
    public var grammar: GrammarMatcher?
    /// The LoRA adapter to run this request under (nil: the base model). Its content digest joins the prefix
    /// cache key of every block, so KV is shared only with requests under the same adapter file.
    public var lora: LoRAAdapter?
    /// Interactive requests are admitted before background ones (Batch API work) and preempt them first.
    public var priority: GenerationPriority = .interactive

    public init(promptTokens: [Int], maxTokens: Int = 128, sampling: SamplingParameters = SamplingParameters(),
                stopAtEndOfGeneration: Bool = true, tenant: String? = nil, cacheSalt: String? = nil,
                publicPrefixTokens: Int = 0,
                logprobs: Bool = false, topLogprobs: Int = 0) {
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
        self.tenant = tenant
        self.cacheSalt = cacheSalt
        self.publicPrefixTokens = publicPrefixTokens
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
    }

    var cacheKeys: BlockExtraKeys {
        BlockExtraKeys(tenant: tenant.map { CacheSalt($0) }, salt: cacheSalt.map { CacheSalt($0) },
                  publicPrefixTokens: publicPrefixTokens, lora: lora?.cacheKey)
    }
}

/// Where a request stands in the admission queue (`GenerationRequest.priority`).
public enum GenerationPriority: Int, Sendable, Comparable {
    /// Offline work (the Batch API): admitted only when no interactive request is waiting, and the first to be
    /// preempted when the pool runs out.
    case background = 0
    /// A client waiting for the answer.
    case interactive = 1

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A prefix of the prompt to keep cached for a while (`GenerationRequest.pin`).
public struct PrefixPin: Sendable, Equatable {
    public var prefixTokens: Int
    public var ttl: Duration

    public init(prefixTokens: Int, ttl: Duration) {
        self.prefixTokens = prefixTokens
        self.ttl = ttl
    }
}

/// One sampled token, streamed as soon as it is known.
public struct TokenEvent: Sendable {
    public var id: Int
    /// Text that became complete with this token (may be empty: a UTF-8 character can span tokens).
    public var text: String
    /// Log-probability of `id` (when requested).
    public var logprob: Float?
    /// Top alternatives with log-probabilities, highest first (when requested).
    public var top: [(id: Int, logprob: Float)]
    /// Prompt tokens whose KV came from the prefix cache (known from the first token on, so a consumer that
    /// stops early, e.g. at a stop string, can still report it).
    public var cachedTokens: Int = 0
    /// Seconds from submission to the first token of the request.
    public var timeToFirstToken: Double?
}

/// What a finished request reports.
public struct GenerationSummary: Sendable {
    /// Text held back by the streaming detokenizer (an incomplete UTF-8 tail), rendered at the end.
    public var trailingText: String
    public var promptTokens: Int
    /// Prompt tokens whose KV came from the prefix cache.
    public var cachedTokens: Int
    public var generatedTokens: Int
    public var finishReason: FinishReason
    /// Seconds from submission to the first token (nil if none was produced).
    public var timeToFirstToken: Double?
    public var totalSeconds: Double
    /// Times the request was preempted (its KV dropped and recomputed).
    public var preemptions: Int
}

/// Events of one request's stream: tokens, then exactly one `finished`.
public enum GenerationEvent: Sendable {
    case token(TokenEvent)
    case finished(GenerationSummary)
}

/// Engine-wide settings.
public struct EngineOptions: Sendable {
    /// KV pool size in tokens (rounded up to whole blocks).
    public var kvCacheTokens: Int
    public var blockSize: Int
    /// Token budget of one engine step (decode tokens + prefill chunk); also the forward batch size.
    public var maxBatchTokens: Int
    /// Sequences decoding at once.
    public var maxRunning: Int
    /// Requests allowed to wait for admission (more: `submit` fails with `.overloaded`).
    public var maxQueued: Int
    public var prefixCaching: Bool
    /// How the KV pool stores keys and values.
    public var kvCacheDType: KVCacheDType
    /// The tiers behind the pool (disk, Redis): full blocks are written there as they are registered, and
    /// admission loads the blocks that follow the local hit from there. Its layout must match the pool's.
    public var kvTier: KVTier?
    /// Seconds admission waits for a tier read before going on without it.
    public var kvTierFetchTimeout: Double = 2
    /// Which waiting request is admitted first.
    public var schedulePolicy: SchedulePolicy = .longestPrefix
    /// Seconds after which a waiting request is admitted in arrival order, ahead of any better-cached one.
    /// NOTE: 30 s, measured on a 48-request rag burst in a tight pool (bench/results/prefix-rag-2026-12-05-burst-*):
    /// aging 2 s turned the queue back into arrival order within seconds (hit rate 14 %), 10 s reached 52 %,
    /// 30 s and 60 s the workload's ceiling of 82 %. A request waits at most this long for better-cached ones.
    public var scheduleAging: Double = 30
    /// Speculative decoding for decoding sequences (prompt-lookup drafts verified in the same batch).
    public var speculative: SpeculativeMode = .off

    public init(kvCacheTokens: Int = 65536, blockSize: Int = 16, maxBatchTokens: Int = 128, maxRunning: Int = 16,
                maxQueued: Int = 256, prefixCaching: Bool = true, kvCacheDType: KVCacheDType = .f32,
                kvTier: KVTier? = nil) {
        self.kvCacheDType = kvCacheDType
        self.kvTier = kvTier
        self.kvCacheTokens = kvCacheTokens
        self.blockSize = blockSize
        self.maxBatchTokens = maxBatchTokens
        self.maxRunning = maxRunning
        self.maxQueued = maxQueued
        self.prefixCaching = prefixCaching
    }
}

/// The order in which waiting requests are admitted (`--schedule-policy`).
public enum SchedulePolicy: String, Sendable, CaseIterable {
    /// Arrival order.
    case fcfs
    /// Longest cached prefix first (SGLang's `lpm`): requests that reuse the most KV start first, which keeps
    /// their prefix from being evicted by colder requests in between. Requests waiting longer than
    /// `scheduleAging` (and preempted ones) go first in arrival order, so nobody starves.
    case longestPrefix = "lpm"
}

extension EngineOptions {
    /// KV tokens that fit in `gib` GiB for `config` (K and V of every layer in `dtype`).
    public static func kvTokens(forGiB gib: Double, config: ModelConfig, dtype: KVCacheDType = .f32) -> Int {
        let bytesPerToken = KVPool.bytesPerToken(layerCount: config.layerCount, kvDim: config.kvDim, dtype: dtype)
        return max(1, Int(min(gib, 1_048_576) * 1_073_741_824 / Double(bytesPerToken)))
    }
}

/// Engine counters (monotonic since start).
public struct EngineStats: Sendable {
    /// Tokens run through the model as prompt (prefill) work; cache hits do not count.
    public var prefillTokens: Int = 0
    public var decodeTokens: Int = 0
    /// Speculative decoding: tokens drafted (run through the model with the decode tokens) and accepted.
    public var draftedTokens: Int = 0
    public var acceptedDraftTokens: Int = 0
    public var steps: Int = 0
    public var preemptions: Int = 0
    public var finishedRequests: Int = 0
    public var running: Int = 0
    public var waiting: Int = 0
    public var prefix: PrefixCacheStats? = nil
    /// Prefix-cache operations that failed on the engine thread (a commit or a block table that should have
    /// existed): the sequence goes on (or ends with an error) and the cache stays consistent, but each one
    /// is a bug to look at; the last message is in `lastPrefixCacheError` and on stderr.
    public var prefixCacheErrors: Int = 0
    public var lastPrefixCacheError: String? = nil
    /// Prompt tokens whose KV was loaded from each tier (`disk`, `redis`) at admission; `prefix.hitTokens`
    /// counts the local hits.
    public var tierHitTokens: [String: Int] = [:]
    /// The tiers' counters (nil without tiers).
    public var tier: KVTierStats? = nil
    /// The most reused cached prefixes (at most 10), most hits first.
    public var topPrefixes: [PrefixHitTable.Entry] = []
}
