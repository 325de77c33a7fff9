import Dispatch
import Engine
import Foundation
import Gateway
import Logging
import Tensor
import Redis

enum GatewayBuilder {
    /// Builds the router and caches of `config`; `server.local` is the local engine (nil when no `local/` GGUF
    /// is configured: gateway-only). `local/` entries naming a directory are sentence-embedding models.
    static func build(config: GatewayConfig, server: OpenAIServer, localModelPath: String?, cache override: CacheSettings?,
                      logger: Logger) async throws -> GatewayBuild {
        var embedders: [String: LocalEmbedder] = [:]
        var loadedEmbedders: [String: LocalEmbedder] = [:]   // by resolved directory
        func embedder(directory: String) throws -> LocalEmbedder {
            let key = URL(fileURLWithPath: directory).standardizedFileURL.path
            if let e = loadedEmbedders[key] { return e }
            // The embedders share the local model's worker pool (one pool per process, sized by --threads).
            let e = LocalEmbedder(model: try SentenceEmbedder(directory: directory,
                                                              threads: server.local?.model.transformer.threadPool ?? .shared))
            Console.error("[serve] embedding model \(e.model.modelName): \(e.dimension) dimensions")
            loadedEmbedders[key] = e
            return e
        }
        for (i, entry) in config.modelList.enumerated() where entry.params.provider == .local {
            let path = entry.params.upstreamModel
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ConfigError("model_list[\(i)].litellm_params.model: no such file or directory: \(path)")
            }
            if isDirectory.boolValue {
                embedders[entry.modelName] = try embedder(directory: path)
            } else if let localModelPath, !Self.samePath(path, localModelPath) {
                throw ConfigError("model_list[\(i)].litellm_params.model: this server runs one local GGUF model "
                    + "(\(localModelPath)); \(path) differs")
            }
        }
        var settings = override ?? Self.cacheSettings(config.litellmSettings)
        if settings.enabled, settings.type != .local, settings.redis == nil {
            settings.redis = try Self.redisConfiguration(config)
        }
        // Cooldowns are shared through Redis when the router (router_settings.redis_*) or the cache names one.
        var cooldowns: (any CooldownStore)?
        var latencies: (any LatencyStore)?
        var limits: any RateLimitStore = InMemoryRateLimitStore()
        var spend: any SpendStore = InMemorySpendStore()
        var redisHealthy: (@Sendable () async -> Bool)?
        if let redis = try Self.routerRedis(config.routerSettings) ?? (settings.enabled ? settings.redis : nil) {
            let client = RedisClient(configuration: redis, logger: logger)
            limits = RedisRateLimitStore(redis: client, prefix: settings.namespace ?? "infer")
            spend = RedisSpendStore(redis: client)
            redisHealthy = { (try? await client.command(["PING"])) != nil }
            let policy = CooldownPolicy(cooldownTime: config.routerSettings.cooldownTime,
                                        allowedFails: config.routerSettings.allowedFails)
            cooldowns = RedisCooldownStore(redis: client, policy: policy,
                                           prefix: settings.namespace ?? "infer", logger: logger)
            latencies = RedisLatencyStore(redis: client, prefix: settings.namespace ?? "infer", logger: logger)
            Console.error("[serve] router cooldowns and latencies shared through redis \(redis.host):\(redis.port)"
                + (redis.clusterNodes.isEmpty ? "" : " (cluster, \(redis.clusterNodes.count) startup nodes)"))
        }
        let router = try ProviderRouter(config: config, localProvider: { entry throws -> any ChatProvider in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: entry.params.upstreamModel, isDirectory: &isDirectory)
            if isDirectory.boolValue { return EmbeddingOnlyProvider(group: entry.modelName) }
            guard let local = server.local else { throw ConfigError("the local model is not loaded") }
            return LocalProvider(server: server, local: local, logger: logger)
        }, cooldowns: cooldowns, latencies: latencies, logger: logger)

        var cacheEmbedder: LocalEmbedder?
        if settings.enabled, settings.similarityThreshold != nil {
            let p = config.litellmSettings.cacheParams
            if let name = p.embeddingModel {
                guard let e = embedders[name] else {
                    throw ConfigError("litellm_settings.cache_params.redis_semantic_cache_embedding_model: `\(name)` "
                        + "is not a local embedding model in model_list")
                }
                cacheEmbedder = e
            } else if let only = embedders.values.first, embedders.count == 1 {
                cacheEmbedder = only   // the one local embedding model (e.g. --embedding-model)
            } else {
                cacheEmbedder = try embedder(directory: Self.defaultEmbeddingModel)
            }
        }
        let cache: CacheLayer? = settings.enabled
            ? await CacheLayer(settings: settings, embedder: cacheEmbedder, logger: logger) : nil
        if settings.enabled {
            Console.error("[serve] response cache: \(settings.type.rawValue)"
                + (settings.similarityThreshold.map { ", semantic threshold \($0)" } ?? "")
                + (settings.namespace.map { ", namespace \($0)" } ?? ""))
        }
        let defaultModel = config.modelList.count == 1 ? config.modelList.first?.modelName : nil
        var pipeline = GatewayPipeline(router: router, cache: cache, defaultModel: defaultModel,
                                       limiter: RateLimiter(store: limits),
                                       spend: SpendTracker(store: spend, prefix: settings.namespace ?? "infer"))
        let vision = VisionFallback(config: config)
        if !vision.fallbacks.isEmpty {
            pipeline.vision = vision
            Console.error("[serve] vision fallback: " + vision.fallbacks.sorted { $0.key < $1.key }
                .map { "\($0.key) -> \($0.value)" }.joined(separator: ", "))
        }
        let g = config.generalSettings
        if !g.alerting.isEmpty {
            if redisHealthy == nil, let redis = cache?.redis { redisHealthy = { (try? await redis.command(["PING"])) != nil } }
            let monitor = AlertMonitor(thresholds: g.alertThresholds,
                                       notifier: AlertNotifier(targets: g.alerting, logger: logger), router: router,
                                       interval: g.alertEvaluationInterval, redisHealthy: redisHealthy,
                                       keys: config.keys, spend: pipeline.spend)
            await monitor.start()
            pipeline.alerts = monitor
            Console.error("[serve] alerts: " + g.alerting.map(\.0.rawValue).joined(separator: ", ")
                + " every \(g.alertEvaluationInterval) s")
        }
        return GatewayBuild(pipeline: pipeline, embedders: embedders)
    }

    /// Where `make run` / `models/install` put MiniLM.
    static let defaultEmbeddingModel = "models/all-MiniLM-L6-v2"

    /// `litellm_settings.cache` / `cache_params` as cache-layer settings.
    static func cacheSettings(_ s: LiteLLMSettings) -> CacheSettings {
        let p = s.cacheParams
        var settings = CacheSettings(enabled: s.cache)
        settings.type = CacheSettings.CacheType(rawValue: p.type) ?? .local
        settings.namespace = p.namespace
        settings.ttl = p.ttl
        settings.similarityThreshold = p.similarityThreshold
        settings.semanticVerification = p.semanticVerification ?? true
        // Without a threshold: 0.8 when candidates are verified (measured: recall 95 % of paraphrases, no false hit on
        // 110 near-misses; bench/semantic), LiteLLM's usual 0.9 when they are not.
        if settings.type == .redisSemantic, settings.similarityThreshold == nil {
            settings.similarityThreshold = settings.semanticVerification ? 0.8 : 0.9
        }
        settings.mode = p.mode.flatMap(CacheSettings.Mode.init(rawValue:)) ?? .defaultOn
        if let m = p.maxEntries { settings.maxEntries = m }
        settings.supportedKinds = p.supportedKinds
        return settings
    }

    /// Redis from `cache_params` (`redis_startup_nodes` for a cluster, url, or host/port/password), else
    /// `REDIS_URL` / `REDIS_HOST` / ... .
    static func redisConfiguration(_ config: GatewayConfig) throws -> RedisConfiguration {
        let p = config.litellmSettings.cacheParams
        if let nodes = p.startupNodes {
            var base = RedisConfiguration()
            base.password = p.password
            return try clusterConfiguration(nodes, base: base, path: "litellm_settings.cache_params.redis_startup_nodes")
        }
        if let url = p.url {
            do {
                return try RedisConfiguration(url: url)
            } catch {
                throw ConfigError("litellm_settings.cache_params.url: \(error)")
            }
        }
        var r: RedisConfiguration
        do {
            r = try RedisConfiguration.fromEnvironment() ?? RedisConfiguration()
        } catch {
            throw ConfigError("REDIS_URL: \(error)")
        }
        if let host = p.host { r.host = host }
        if let port = p.port { r.port = port }
        if let password = p.password { r.password = password }
        return r
    }

    /// `router_settings.redis_url` / `redis_host` (+ port, password), if set.
    static func routerRedis(_ r: RouterSettings) throws -> RedisConfiguration? {
        if let nodes = r.redisStartupNodes {
            var base = RedisConfiguration()
            base.password = r.redisPassword
            return try clusterConfiguration(nodes, base: base, path: "router_settings.redis_startup_nodes")
        }
        if let url = r.redisURL {
            do {
                return try RedisConfiguration(url: url)
            } catch {
                throw ConfigError("router_settings.redis_url: \(error)")
            }
        }
        guard let host = r.redisHost else { return nil }
        var c = RedisConfiguration(host: host)
        if let port = r.redisPort { c.port = port }
        c.password = r.redisPassword
        return c
    }

    /// A Redis Cluster configuration from validated startup nodes (`path` names the key in errors).
    static func clusterConfiguration(_ nodes: [RedisNodeAddress], base: RedisConfiguration, path: String) throws
        -> RedisConfiguration {
        do {
            return try RedisConfiguration.cluster(nodes, base: base)
        } catch {
            throw ConfigError("\(path): \(error.message)")
        }
    }

    static func samePath(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).standardizedFileURL.resolvingSymlinksInPath().path
            == URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
