import Foundation
import Yams

/// `litellm_settings` (with `cache_params`), `general_settings` (with `alerting_args`) and `keys`.
extension GatewayConfig {
    static func parseLiteLLMSettings(_ node: Node, _ path: String, into config: inout GatewayConfig,
                                             _ reader: inout ConfigReader) throws(ConfigError) {
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "cache": config.litellmSettings.cache = try reader.bool(value, p) ?? false
            case "cache_params": config.litellmSettings.cacheParams = try parseCacheParams(value, p, &reader)
            // LiteLLM also accepts these router knobs here; when both sections set one, the later one wins.
            case "num_retries": config.routerSettings.numRetries = try reader.int(value, p) ?? config.routerSettings.numRetries
            case "request_timeout": config.routerSettings.timeout = try reader.double(value, p)
            case "fallbacks": config.routerSettings.fallbacks = try reader.fallbackMap(value, p)
            case "context_window_fallbacks":
                config.routerSettings.contextWindowFallbacks = try reader.fallbackMap(value, p)
            case "content_policy_fallbacks":
                config.routerSettings.contentPolicyFallbacks = try reader.fallbackMap(value, p)
            case "default_fallbacks": config.routerSettings.defaultFallbacks = try reader.stringList(value, p)
            default: reader.unknownKey(p)
            }
        }
    }

    static func parseCacheParams(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> CacheParams {
        var params = CacheParams()
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "type":
                let type = try reader.string(value, p) ?? "local"
                guard ["local", "redis", "redis-semantic"].contains(type) else {
                    throw ConfigError("\(p): unsupported cache type \"\(type)\" (supported: local, redis, redis-semantic)")
                }
                params.type = type
            case "namespace": params.namespace = try reader.string(value, p)
            case "ttl": params.ttl = try reader.double(value, p)
            case "similarity_threshold":
                params.similarityThreshold = try reader.double(value, p)
                if let t = params.similarityThreshold, !(0...1).contains(t) {
                    throw ConfigError("\(p): must be between 0 and 1, got \(t)")
                }
            case "semantic_verification": params.semanticVerification = try reader.bool(value, p)
            case "redis_semantic_cache_embedding_model": params.embeddingModel = try reader.string(value, p)
            case "mode": params.mode = try reader.choice(value, p, among: ["default_on", "default_off"])
            case "host": params.host = try reader.string(value, p)
            case "port": params.port = try reader.int(value, p)
            case "password": params.password = try reader.string(value, p)
            case "url", "redis_url": params.url = try reader.string(value, p)
            case "redis_startup_nodes": params.startupNodes = try reader.redisStartupNodes(value, p)
            case "max_entries": params.maxEntries = try reader.int(value, p)
            case "supported_call_types":
                // LiteLLM's call type names; the async and sync spellings are the same request here.
                var kinds = Set<CacheRequestKind>()
                for name in try reader.stringList(value, p) {
                    switch name {
                    case "completion", "acompletion": kinds.insert(.chat)
                    case "text_completion", "atext_completion": kinds.insert(.completion)
                    case "embedding", "aembedding": kinds.insert(.embedding)
                    case "transcription", "atranscription", "rerank", "arerank", "image_generation",
                         "aimage_generation", "speech", "aspeech", "responses", "aresponses":
                        reader.warnings.append("\(p): \"\(name)\" is not served by this gateway (ignored)")
                    default:
                        throw ConfigError("\(p): unknown call type \"\(name)\" (known: completion, acompletion, "
                            + "text_completion, atext_completion, embedding, aembedding)")
                    }
                }
                params.supportedKinds = kinds
            default: reader.unknownKey(p)
            }
        }
        return params
    }

    static func parseGeneralSettings(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> GeneralSettings {
        var settings = GeneralSettings()
        var channels: [String] = [], webhookURL: String?
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "master_key": settings.masterKey = try reader.string(value, p)
            case "max_response_size_mb": settings.maxResponseSizeMB = try reader.positiveDouble(value, p)
            case "max_request_size_mb": settings.maxRequestSizeMB = try reader.positiveDouble(value, p)
            case "max_parallel_requests": settings.maxParallelRequests = try reader.positiveInt(value, p)
            case "global_max_parallel_requests": settings.globalMaxParallelRequests = try reader.positiveInt(value, p)
            case "public_prefixes": settings.publicPrefixes = try reader.stringList(value, p)
            case "tenant_isolation": settings.tenantIsolation = try reader.bool(value, p)
            case "max_prompt_tokens": settings.maxPromptTokens = try reader.positiveInt(value, p)
            case "max_output_tokens": settings.maxOutputTokens = try reader.positiveInt(value, p)
            case "max_n": settings.maxN = try reader.positiveInt(value, p)
            case "kv_cache_dtype": settings.kvCacheDType = try reader.choice(value, p, among: ["f32", "f16", "q8_0"])
            case "kv_redis": settings.kvRedis = try reader.string(value, p)
            case "kv_redis_startup_nodes": settings.kvRedisStartupNodes = try reader.redisStartupNodes(value, p)
            case "kv_redis_ttl": settings.kvRedisTTL = try reader.positiveDouble(value, p)
            case "kv_disk": settings.kvDisk = try reader.string(value, p)
            case "kv_disk_gib": settings.kvDiskGiB = try reader.positiveDouble(value, p)
            case "kv_tier_secret": settings.kvTierSecret = try reader.string(value, p)
            case "schedule_policy": settings.schedulePolicy = try reader.choice(value, p, among: ["lpm", "fcfs"])
            case "speculative": settings.speculative = try reader.choice(value, p, among: ["ngram", "off"])
            case "batch_dir": settings.batchDirectory = try reader.string(value, p)
            case "batch_concurrency": settings.batchConcurrency = try reader.positiveInt(value, p)
            case "alerting": channels = try reader.stringList(value, p)
            case "alerting_args": try parseAlertingArgs(value, p, into: &settings, webhookURL: &webhookURL, &reader)
            case "alerting_threshold":
                reader.warnings.append("\(p): accepted and ignored (slow requests alert through alerting_args.p95_latency_threshold)")
            case "request_deadline", "request_deadline_seconds":
                settings.requestDeadline = try reader.positiveDouble(value, p)
            default: reader.unknownKey(p)
            }
        }
        for channel in channels {
            let p = "\(path).alerting"
            switch channel {
            case "slack":
                guard let url = reader.environment["SLACK_WEBHOOK_URL"] else {
                    throw ConfigError("\(p): slack needs the environment variable SLACK_WEBHOOK_URL")
                }
                guard AlertNotifier.validURL(url) else { throw ConfigError("SLACK_WEBHOOK_URL: expected an http(s) URL") }
                settings.alerting.append((.slack, url))
            case "webhook":
                guard let url = webhookURL ?? reader.environment["WEBHOOK_URL"] else {
                    throw ConfigError("\(p): webhook needs alerting_args.webhook_url or the environment variable WEBHOOK_URL")
                }
                guard AlertNotifier.validURL(url) else {
                    throw ConfigError("\(path).alerting_args.webhook_url: expected an http(s) URL of at most 2048 characters")
                }
                settings.alerting.append((.webhook, url))
            default:
                reader.warnings.append("\(p): \"\(channel.prefix(40))\" is not supported (slack, webhook); ignored")
            }
        }
        return settings
    }

    static func parseAlertingArgs(_ node: Node, _ path: String, into settings: inout GeneralSettings,
                                          webhookURL: inout String?, _ reader: inout ConfigReader) throws(ConfigError) {
        func bounded(_ value: Node, _ p: String, _ range: ClosedRange<Double>) throws(ConfigError) -> Double? {
            guard let d = try reader.double(value, p) else { return nil }
            guard range.contains(d) else {
                throw ConfigError("\(p): expected a number from \(range.lowerBound) to \(range.upperBound), got \(d)")
            }
            return d
        }
        var t = settings.alertThresholds
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "webhook_url": webhookURL = try reader.string(value, p)
            case "error_rate_threshold": t.errorRate = try bounded(value, p, 0...1) ?? t.errorRate
            case "p95_latency_threshold": t.p95LatencySeconds = try bounded(value, p, 0.001...86_400) ?? t.p95LatencySeconds
            case "cache_hit_rate_threshold": t.cacheHitRate = try bounded(value, p, 0...1) ?? t.cacheHitRate
            case "cost_spike_factor": t.costSpikeFactor = try bounded(value, p, 1...1_000) ?? t.costSpikeFactor
            case "window": t.windowSeconds = try bounded(value, p, 1...3_000) ?? t.windowSeconds
            case "min_requests": t.minSamples = Int(try bounded(value, p, 1...1_000_000) ?? Double(t.minSamples))
            case "repeat_interval": t.repeatIntervalSeconds = try bounded(value, p, 1...604_800) ?? t.repeatIntervalSeconds
            case "evaluation_interval":
                settings.alertEvaluationInterval = try bounded(value, p, 0.1...3_600) ?? settings.alertEvaluationInterval
            default: reader.unknownKey(p)
            }
        }
        settings.alertThresholds = t
    }

    static func parseKey(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> VirtualKeyConfig {
        let pairs = try reader.mapping(node, path)
        let key = try reader.requiredString(pairs.first { $0.0 == "key" }?.1, "\(path).key")
        var entry = VirtualKeyConfig(key: key)
        for (name, value) in pairs {
            let p = "\(path).\(name)"
            switch name {
            case "key": break
            case "alias", "key_alias": entry.alias = try reader.string(value, p)
            case "models": entry.models = try reader.stringList(value, p)
            case "cache_namespace": entry.cacheNamespace = try reader.string(value, p)
            case "rpm", "rpm_limit": entry.rpm = try reader.int(value, p)
            case "tpm", "tpm_limit": entry.tpm = try reader.int(value, p)
            case "max_budget": entry.maxBudget = try reader.usd(value, p)
            case "soft_budget": entry.softBudget = try reader.usd(value, p)
            case "budget_duration":
                let text = try reader.string(value, p)
                if let text {
                    guard let duration = BudgetDuration(text) else {
                        throw ConfigError("\(p): expected <n>s, <n>m, <n>h, <n>d, <n>w or <n>mo up to 10 years, got \"\(text.prefix(40))\"")
                    }
                    entry.budgetDuration = duration
                }
            default: reader.unknownKey(p)
            }
        }
        return entry
    }
}
