import CurlHTTP
import Redis
/// The gateway's configuration, read from a LiteLLM-compatible YAML file (`model_list`,
/// `router_settings`, `litellm_settings`, `general_settings`, plus our `keys:` list).
///
/// Parse with `GatewayConfig.parse(yaml:environment:)`: wrong types are errors naming the full key path,
/// `os.environ/VAR` values are read from the given environment, unknown keys become warnings.
public struct GatewayConfig: Sendable {
    /// Deployments in file order; deployments sharing a `model_name` form a model group.
    public var modelList: [ModelDeploymentConfig] = []
    public var routerSettings = RouterSettings()
    public var litellmSettings = LiteLLMSettings()
    public var generalSettings = GeneralSettings()
    /// Virtual API keys (`keys:`), for per-key limits and cache namespaces.
    public var keys: [VirtualKeyConfig] = []

    public init() {}

    /// Model group names in first-appearance order.
    public var modelGroups: [String] {
        var seen = Set<String>()
        return modelList.map(\.modelName).filter { seen.insert($0).inserted }
    }
}

/// The provider named by the `model:` prefix.
public enum ProviderKind: String, Sendable, CaseIterable {
    /// This process's inference engine (adapted to `ChatProvider` by the server).
    case local
    case openai
    case hostedVLLM = "hosted_vllm"
    case anthropic
}

/// One `model_list` entry: a deployment of the model group `modelName`.
public struct ModelDeploymentConfig: Sendable {
    /// The client-facing model name (the group).
    public var modelName: String
    public var params: DeploymentParams
    public var modelInfo: ModelInfo

    public init(modelName: String, params: DeploymentParams, modelInfo: ModelInfo = ModelInfo()) {
        self.modelName = modelName
        self.params = params
        self.modelInfo = modelInfo
    }
}

/// `litellm_params` of a deployment.
public struct DeploymentParams: Sendable {
    /// The full `model` value, e.g. `openai/gpt-4o-mini`.
    public var model: String
    public var provider: ProviderKind
    /// The model id after the provider prefix (for `local/`: the model path).
    public var upstreamModel: String
    public var apiBase: String?
    public var apiKey: String?
    public var rpm: Int?
    public var tpm: Int?
    public var weight: Double?
    /// Total seconds per upstream call.
    public var timeout: Double?
    /// Seconds to the first streamed chunk and between chunks (LiteLLM's `stream_timeout`, httpx's read
    /// timeout); unset: no first-chunk limit, `HTTPClientRequest.defaultStreamIdleTimeout` between chunks.
    public var streamTimeout: Double?
    public var maxRetries: Int?
    /// `extra_headers`, sent with every upstream request.
    public var extraHeaders: [String: String] = [:]
    /// `message_fixes`: `true` (all) or a list of `MessageFixes.Fix` names.
    public var messageFixes: MessageFixes?
    /// `lora: {NAME: PATH}` of a `local/` GGUF deployment: LoRA adapters served under NAME (config order).
    public var lora: [(name: String, path: String)] = []

    public init(model: String, provider: ProviderKind, upstreamModel: String, apiBase: String? = nil,
                apiKey: String? = nil) {
        self.model = model
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.apiBase = apiBase
        self.apiKey = apiKey
    }
}

/// `model_info` of a deployment.
public struct ModelInfo: Sendable, Equatable {
    /// The deployment id (reported in `x-litellm-model-id`); generated when absent.
    public var id: String?
    public var inputCostPerToken: Double?
    public var outputCostPerToken: Double?
    public var cacheReadInputTokenCost: Double?
    public var maxInputTokens: Int?
    /// LiteLLM's `supports_vision`: the deployment reads image parts itself.
    public var supportsVision = false
    /// The model group that describes images for this deployment's group when it is text-only (our extension;
    /// overrides `router_settings.vision_fallback`).
    public var visionFallback: String?

    public init(id: String? = nil, inputCostPerToken: Double? = nil, outputCostPerToken: Double? = nil,
                cacheReadInputTokenCost: Double? = nil, maxInputTokens: Int? = nil) {
        self.id = id
        self.inputCostPerToken = inputCostPerToken
        self.outputCostPerToken = outputCostPerToken
        self.cacheReadInputTokenCost = cacheReadInputTokenCost
        self.maxInputTokens = maxInputTokens
    }
}

/// How the router picks a deployment within a group.
public enum RoutingStrategy: String, Sendable, CaseIterable {
    case simpleShuffle = "simple-shuffle"
    case leastBusy = "least-busy"
    case latencyBased = "latency-based-routing"
    /// To the deployment most likely to hold the request's prefix (`PrefixAwareSelection`), balanced against load.
    case prefixAware = "prefix-aware"
}

/// `router_settings`. Defaults follow LiteLLM's Router.
public struct RouterSettings: Sendable {
    public var routingStrategy: RoutingStrategy = .simpleShuffle
    /// `cascades`: model groups made of ordered tiers with an acceptance gate.
    public var cascades: [Cascade] = []
    /// `vision_fallback`: the model group that describes images sent to text-only groups (`VisionFallback`).
    public var visionFallback: String?
    /// `vision_settings`: prompt, image limits and the description cache of the vision fallback.
    public var visionSettings = VisionSettings()
    /// Retries within a group before falling back (LiteLLM's default: openai.DEFAULT_MAX_RETRIES = 2).
    public var numRetries = 2
    /// Total seconds per upstream call.
    public var timeout: Double? = 600
    /// Seconds to the first streamed chunk and between chunks (LiteLLM's `stream_timeout`, httpx's read
    /// timeout); unset: no first-chunk limit, `HTTPClientRequest.defaultStreamIdleTimeout` between chunks.
    public var streamTimeout: Double?
    /// Failures per minute a deployment may have before it is cooled down.
    public var allowedFails = 3
    /// Seconds a deployment stays cooled down.
    public var cooldownTime: Double = 5
    /// Minimum seconds between retries.
    public var retryAfter: Double = 0
    /// Group -> fallback groups for generic errors (`"*"` applies to every group).
    public var fallbacks: [String: [String]] = [:]
    public var contextWindowFallbacks: [String: [String]] = [:]
    public var contentPolicyFallbacks: [String: [String]] = [:]
    /// Fallback groups for any group without its own entry.
    public var defaultFallbacks: [String] = []
    /// At most this many fallback hops per request.
    public var maxFallbacks = 5
    /// First retry backoff in seconds (doubles per retry; LiteLLM's INITIAL_RETRY_DELAY). Not in YAML.
    public var retryBackoffBase = 0.5
    /// Backoff cap in seconds (LiteLLM's MAX_RETRY_DELAY). Not in YAML.
    public var retryBackoffMax = 8.0
    /// `prefix-aware`: the share of the request text a deployment's tree must match for the request to go
    /// there (below it: the deployment that has seen the least text).
    public var prefixCacheThreshold = 0.5
    /// `prefix-aware`: deployments whose match is at most this share of the request text shorter than the
    /// longest match count as holding the prefix too, and the least busy of them wins (once a hot prefix is on
    /// several deployments, they share its load).
    public var prefixMatchTolerance = 0.02
    /// `prefix-aware`: load balance wins when the in-flight counts differ by more than this many requests ...
    /// (2, not SGLang's 32: a CPU instance is saturated by a few concurrent requests, so a queue of 3 behind a
    /// cached prefix already costs more than computing the prefix on an idle instance; bench/cluster.)
    public var prefixBalanceAbsThreshold = 2
    /// ... and the busiest deployment has more than this multiple of the least busy one's.
    public var prefixBalanceRelThreshold = 1.5
    /// `prefix-aware`: bytes of request text remembered per deployment (least recently routed text goes first).
    public var prefixTreeMaxBytes = 16 << 20
    /// Requests with the same `x-session-id` header (else the same `user`) go to the same deployment while it
    /// is healthy (ahead of the routing strategy).
    public var stickySessions = false
    /// Sessions remembered (least recently used forgotten first).
    public var stickySessionsMax = 100_000
    public var redisHost: String?
    public var redisPort: Int?
    public var redisPassword: String?
    /// `REDIS_URL` from the environment, when set.
    public var redisURL: String?
    /// `redis_startup_nodes`: a Redis Cluster for cooldowns, latencies, rate limits and spend (over `redis_host`).
    public var redisStartupNodes: [RedisNodeAddress]?

    public init() {}
}

/// `litellm_settings.cache_params`, kept plain; the server maps it onto the cache layer.
public struct CacheParams: Sendable, Equatable {
    /// `local`, `redis` or `redis-semantic`.
    public var type: String = "local"
    public var namespace: String?
    /// Entry TTL in seconds; nil = none configured.
    public var ttl: Double?
    public var similarityThreshold: Double?
    /// `semantic_verification` (our extension): a semantic candidate is served only if `SemanticVerifier` finds no
    /// difference that changes the answer (default true).
    public var semanticVerification: Bool?
    public var embeddingModel: String?
    /// `default_on` or `default_off`.
    public var mode: String?
    public var host: String?
    public var port: Int?
    public var password: String?
    public var url: String?
    /// `redis_startup_nodes`: the cache lives in a Redis Cluster (over `host` / `url`).
    public var startupNodes: [RedisNodeAddress]?
    public var maxEntries: Int?
    /// `supported_call_types` mapped to the kinds this gateway caches; nil = all.
    public var supportedKinds: Set<CacheRequestKind>?

    public init() {}
}

/// `litellm_settings`.
public struct LiteLLMSettings: Sendable {
    /// `cache: true` turns the response cache on.
    public var cache = false
    public var cacheParams = CacheParams()

    public init() {}
}

/// `general_settings`.
public struct GeneralSettings: Sendable {
    public var masterKey: String?
    public var maxRequestSizeMB: Double?
    public var maxResponseSizeMB: Double?
    /// Most requests one virtual key may have in flight (LiteLLM's per-key default).
    public var maxParallelRequests: Int?
    /// Most requests in flight on the whole server (more get 429).
    public var globalMaxParallelRequests: Int?
    /// Whether virtual keys get their own prefix-cache salt and response-cache scope (default: true).
    public var tenantIsolation: Bool?
    /// Largest prompt in tokens the local engine accepts (default: the context length).
    public var maxPromptTokens: Int?
    /// Largest `max_tokens` / `max_completion_tokens` a request may ask for; also the default cap.
    public var maxOutputTokens: Int?
    /// Most choices (`n`) one request may ask for.
    public var maxN: Int?
    /// Seconds a request may take end to end, all retries and fallbacks included.
    public var requestDeadline: Double?
    /// How the local engine's KV cache stores keys and values (`f32`, `f16` or `q8_0`); nil: the server's default.
    public var kvCacheDType: String?
    /// Redis URL of the shared KV block tier (`--kv-redis`).
    public var kvRedis: String?
    /// `kv_redis_startup_nodes`: the KV block tier in a Redis Cluster (`--kv-redis-startup-nodes`; over `kv_redis`).
    public var kvRedisStartupNodes: [RedisNodeAddress]?
    /// Seconds a KV block lives in the Redis tier (`--kv-redis-ttl`).
    public var kvRedisTTL: Double?
    /// Directory of the disk KV block tier (`--kv-disk`).
    public var kvDisk: String?
    /// Size cap of the disk tier in GiB (`--kv-disk-gib`).
    public var kvDiskGiB: Double?
    /// Secret that authenticates tier entries (HMAC-SHA256; `--kv-tier-secret`).
    public var kvTierSecret: String?
    /// Admission order of waiting requests: `lpm` (longest cached prefix first, with aging) or `fcfs`.
    public var schedulePolicy: String?
    /// Speculative decoding on the local engine: `ngram` (prompt lookup) or `off` (`--speculative`).
    public var speculative: String?
    /// Directory of the Batch API's files and batches (`--batch-dir`; default `~/.local/share/infer/batches`).
    public var batchDirectory: String?
    /// Batch requests run at once (`--batch-concurrency`).
    public var batchConcurrency: Int?
    /// System prompts every tenant may share (our extension): with tenant isolation, a prompt that starts
    /// with one keeps that part of the prefix cache unsalted, and salts the rest.
    public var publicPrefixes: [String] = []
    /// `alerting: [slack, webhook]` resolved to URLs (`SLACK_WEBHOOK_URL`; `alerting_args.webhook_url` or
    /// `WEBHOOK_URL`); empty: no alerts.
    public var alerting: [(AlertNotifier.Channel, String)] = []
    /// `alerting_args`: the rules' thresholds and windows.
    public var alertThresholds = AlertThresholds()
    /// Seconds between two evaluations of the alert rules (`alerting_args.evaluation_interval`).
    public var alertEvaluationInterval = 10.0

    public init() {}
}

/// One entry of the top-level `keys:` list.
public struct VirtualKeyConfig: Sendable, Equatable {
    public var key: String
    public var alias: String?
    /// Model groups this key may use (empty = all).
    public var models: [String] = []
    public var cacheNamespace: String?
    public var rpm: Int?
    public var tpm: Int?
    /// LiteLLM's `max_budget`: at this spend in the current window the key is refused (`budget_exceeded`).
    public var maxBudget: USDAmount?
    /// LiteLLM's `soft_budget`: crossing it raises a `budget_crossed` alert, nothing is refused.
    public var softBudget: USDAmount?
    /// LiteLLM's `budget_duration`: spend starts again at 0 every window (nil: never).
    public var budgetDuration: BudgetDuration?

    public init(key: String, alias: String? = nil, models: [String] = [], cacheNamespace: String? = nil,
                rpm: Int? = nil, tpm: Int? = nil) {
        self.key = key
        self.alias = alias
        self.models = models
        self.cacheNamespace = cacheNamespace
        self.rpm = rpm
        self.tpm = tpm
    }
}

/// A configuration error (the first one found), naming the key path.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
