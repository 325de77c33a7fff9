import Foundation
import Yams

extension GatewayConfig {
    /// Parses a LiteLLM-compatible YAML config.
    ///
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - environment: where `os.environ/VAR` values and `REDIS_*` settings are read.
    /// - Returns: the config and warnings (unknown keys, unsupported-but-harmless settings).
    /// - Throws: `ConfigError` naming the key path of the first invalid value.
    public static func parse(yaml: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> (GatewayConfig, warnings: [String]) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("invalid YAML: \(error)")
        }
        var reader = ConfigReader(environment: environment)
        var config = GatewayConfig()
        guard let root else { return (config, reader.warnings) }
        for (key, value) in try reader.mapping(root, "config") {
            switch key {
            case "model_list":
                for (i, item) in try reader.sequence(value, key).enumerated() {
                    config.modelList.append(try parseDeployment(item, "model_list[\(i)]", &reader))
                }
            case "router_settings":
                try parseRouterSettings(value, key, into: &config.routerSettings, &reader)
            case "litellm_settings":
                try parseLiteLLMSettings(value, key, into: &config, &reader)
            case "general_settings":
                config.generalSettings = try parseGeneralSettings(value, key, &reader)
            case "keys":
                for (i, item) in try reader.sequence(value, key).enumerated() {
                    config.keys.append(try parseKey(item, "keys[\(i)]", &reader))
                }
            case "environment_variables":
                break   // LiteLLM sets these into its own environment; we read the real one only
            default:
                reader.unknownKey(key)
            }
        }
        let r = config.routerSettings
        config.routerSettings.redisHost = r.redisHost ?? environment["REDIS_HOST"]
        config.routerSettings.redisPort = r.redisPort ?? environment["REDIS_PORT"].flatMap { Int($0) }
        config.routerSettings.redisPassword = r.redisPassword ?? environment["REDIS_PASSWORD"]
        config.routerSettings.redisURL = r.redisURL ?? environment["REDIS_URL"]
        try validate(config, &reader)
        return (config, reader.warnings)
    }

    private static func validate(_ config: GatewayConfig, _ reader: inout ConfigReader) throws(ConfigError) {
        var ids: [String: Int] = [:]
        for (i, deployment) in config.modelList.enumerated() {
            if let id = deployment.modelInfo.id {
                if let first = ids[id] {
                    throw ConfigError("model_list[\(i)].model_info.id: \"\(id)\" is already used by model_list[\(first)]")
                }
                ids[id] = i
            }
        }
        let groups = Set(config.modelGroups)
        let r = config.routerSettings
        for (name, map) in [("fallbacks", r.fallbacks), ("context_window_fallbacks", r.contextWindowFallbacks),
                            ("content_policy_fallbacks", r.contentPolicyFallbacks)] {
            for (group, targets) in map.sorted(by: { $0.key < $1.key }) {
                for target in targets + (group == "*" ? [] : [group]) where !groups.contains(target) {
                    reader.warnings.append("router_settings.\(name): model group \"\(target)\" is not in model_list")
                }
            }
        }
        for target in r.defaultFallbacks where !groups.contains(target) {
            reader.warnings.append("router_settings.default_fallbacks: model group \"\(target)\" is not in model_list")
        }
        try validateVision(config)
    }

    private static func parseDeployment(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> ModelDeploymentConfig {
        let pairs = try reader.mapping(node, path)
        let fields = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        let name = try reader.requiredString(fields["model_name"], "\(path).model_name")
        guard let paramsNode = fields["litellm_params"] else { throw ConfigError("\(path).litellm_params: required") }
        let params = try parseParams(paramsNode, "\(path).litellm_params", &reader)
        var info = ModelInfo()
        if let infoNode = fields["model_info"] {
            let infoPath = "\(path).model_info"
            for (key, value) in try reader.mapping(infoNode, infoPath) {
                let p = "\(infoPath).\(key)"
                switch key {
                case "id": info.id = try reader.string(value, p)
                case "input_cost_per_token": info.inputCostPerToken = try reader.price(value, p)
                case "output_cost_per_token": info.outputCostPerToken = try reader.price(value, p)
                case "cache_read_input_token_cost": info.cacheReadInputTokenCost = try reader.price(value, p)
                case "supports_vision": info.supportsVision = try reader.bool(value, p) ?? false
                case "vision_fallback": info.visionFallback = try reader.string(value, p)
                case "max_input_tokens":
                    info.maxInputTokens = try reader.positiveInt(value, p)
                    reader.warnings.append("\(p): accepted and ignored (prompts are not counted before routing; "
                        + "a context overflow answer from the deployment triggers context_window_fallbacks)")
                default: reader.unknownKey(p)
                }
            }
        }
        for (key, _) in pairs where !["model_name", "litellm_params", "model_info"].contains(key) {
            reader.unknownKey("\(path).\(key)")
        }
        return ModelDeploymentConfig(modelName: name, params: params, modelInfo: info)
    }

    private static func parseParams(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> DeploymentParams {
        let pairs = try reader.mapping(node, path)
        let model = try reader.requiredString(pairs.first { $0.0 == "model" }?.1, "\(path).model")
        guard let slash = model.firstIndex(of: "/") else {
            throw ConfigError("\(path).model: \"\(model)\" has no provider prefix (expected one of "
                + ProviderKind.allCases.map { "\($0.rawValue)/" }.joined(separator: ", ") + ")")
        }
        let prefix = String(model[..<slash])
        guard let provider = ProviderKind(rawValue: prefix) else {
            throw ConfigError("\(path).model: unknown provider prefix \"\(prefix)/\" (supported: "
                + ProviderKind.allCases.map { "\($0.rawValue)/" }.joined(separator: ", ") + ")")
        }
        let upstream = String(model[model.index(after: slash)...])
        if upstream.isEmpty { throw ConfigError("\(path).model: missing the model id after \"\(prefix)/\"") }
        var params = DeploymentParams(model: model, provider: provider, upstreamModel: upstream)
        for (key, value) in pairs {
            let p = "\(path).\(key)"
            switch key {
            case "model": break
            case "api_base": params.apiBase = try reader.string(value, p)
            case "api_key": params.apiKey = try reader.string(value, p)
            case "rpm": params.rpm = try reader.int(value, p)
            case "tpm": params.tpm = try reader.int(value, p)
            case "weight": params.weight = try reader.double(value, p)
            case "timeout": params.timeout = try reader.double(value, p)
            case "stream_timeout": params.streamTimeout = try reader.double(value, p)
            case "max_retries":
                let retries = try reader.int(value, p)
                if let retries, !(0...10).contains(retries) {
                    throw ConfigError("\(p): expected an integer from 0 to 10, got \(retries)")
                }
                params.maxRetries = retries
            case "message_fixes":
                if case .scalar = value {
                    params.messageFixes = try reader.bool(value, p) == true ? .all : nil
                } else {
                    var fixes: [MessageFixes.Fix] = []
                    for name in try reader.stringList(value, p) {
                        guard let fix = MessageFixes.Fix(rawValue: name) else {
                            throw ConfigError("\(p): unknown fix \"\(name)\" (known: "
                                + MessageFixes.Fix.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                        }
                        fixes.append(fix)
                    }
                    params.messageFixes = MessageFixes(fixes)
                }
            case "lora":
                guard provider == .local, upstream.hasSuffix(".gguf") else {
                    throw ConfigError("\(p): LoRA adapters need a local/ GGUF deployment")
                }
                for (name, adapter) in try reader.mapping(value, p) {
                    guard !name.isEmpty, let path = try reader.string(adapter, "\(p).\(name)"), !path.isEmpty else {
                        throw ConfigError("\(p).\(name): expected an adapter name and a file path")
                    }
                    params.lora.append((name, path))
                }
            case "extra_headers", "headers":
                for (name, header) in try reader.mapping(value, p) {
                    params.extraHeaders[name] = try reader.string(header, "\(p).\(name)") ?? ""
                }
            default: reader.unknownKey(p)
            }
        }
        if provider == .hostedVLLM, params.apiBase == nil {
            throw ConfigError("\(path).api_base: required for hosted_vllm/ deployments")
        }
        return params
    }

    private static func parseCascade(_ node: Node, _ path: String, _ reader: inout ConfigReader)
        throws(ConfigError) -> Cascade {
        var name: String?
        var tiers: [String] = []
        var gate = CascadeGate()
        var classifier: CascadeClassifier?
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "classifier": classifier = try parseCascadeClassifier(value, p, &reader)
            case "model_name": name = try reader.string(value, p)
            case "tiers": tiers = try reader.stringList(value, p)
            case "accept":
                for (gateKey, gateValue) in try reader.mapping(value, p) {
                    let g = "\(p).\(gateKey)"
                    switch gateKey {
                    case "min_mean_logprob": gate.minMeanLogprob = try reader.double(gateValue, g)
                    case "reject_truncated": gate.rejectTruncated = try reader.bool(gateValue, g) ?? false
                    case "require_valid_json": gate.requireValidJSON = try reader.bool(gateValue, g) ?? false
                    case "reject_refusals": gate.rejectRefusals = try reader.bool(gateValue, g) ?? false
                    default: reader.unknownKey(g)
                    }
                }
            default: reader.unknownKey(p)
            }
        }
        guard let name, !name.isEmpty else { throw ConfigError("\(path).model_name: required") }
        guard tiers.count >= 2 else { throw ConfigError("\(path).tiers: a cascade needs at least two model groups") }
        guard Set(tiers).count == tiers.count else { throw ConfigError("\(path).tiers: a group appears twice") }
        if let target = classifier?.routeTo, !tiers.contains(target) {
            throw ConfigError("\(path).classifier.route_to: \"\(target)\" is not one of the cascade's tiers")
        }
        return Cascade(name: name, tiers: tiers, gate: gate, classifier: classifier)
    }

    private static func parseRouterSettings(_ node: Node, _ path: String, into settings: inout RouterSettings,
                                            _ reader: inout ConfigReader) throws(ConfigError) {
        for (key, value) in try reader.mapping(node, path) {
            let p = "\(path).\(key)"
            switch key {
            case "routing_strategy":
                let name = try reader.string(value, p) ?? RoutingStrategy.simpleShuffle.rawValue
                if let strategy = RoutingStrategy(rawValue: name) {
                    settings.routingStrategy = strategy
                } else if ["usage-based-routing", "usage-based-routing-v2", "cost-based-routing"].contains(name) {
                    reader.warnings.append("\(p): \"\(name)\" is not supported; using simple-shuffle")
                } else {
                    throw ConfigError("\(p): unknown routing strategy \"\(name)\" (supported: "
                        + RoutingStrategy.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
            case "num_retries": settings.numRetries = try reader.int(value, p) ?? settings.numRetries
            case "timeout": settings.timeout = try reader.double(value, p)
            case "stream_timeout": settings.streamTimeout = try reader.double(value, p)
            case "allowed_fails": settings.allowedFails = try reader.int(value, p) ?? settings.allowedFails
            case "cooldown_time": settings.cooldownTime = try reader.double(value, p) ?? settings.cooldownTime
            case "retry_after": settings.retryAfter = try reader.double(value, p) ?? 0
            case "max_fallbacks": settings.maxFallbacks = try reader.int(value, p) ?? settings.maxFallbacks
            case "fallbacks": settings.fallbacks = try reader.fallbackMap(value, p)
            case "context_window_fallbacks": settings.contextWindowFallbacks = try reader.fallbackMap(value, p)
            case "content_policy_fallbacks": settings.contentPolicyFallbacks = try reader.fallbackMap(value, p)
            case "default_fallbacks": settings.defaultFallbacks = try reader.stringList(value, p)
            case "cascades":
                for (i, item) in try reader.sequence(value, p).enumerated() {
                    settings.cascades.append(try parseCascade(item, "\(p)[\(i)]", &reader))
                }
            case "prefix_cache_threshold":
                settings.prefixCacheThreshold = try reader.double(value, p) ?? settings.prefixCacheThreshold
                guard (0...1).contains(settings.prefixCacheThreshold) else {
                    throw ConfigError("\(p): must be between 0 and 1, got \(settings.prefixCacheThreshold)")
                }
            case "prefix_balance_abs_threshold":
                settings.prefixBalanceAbsThreshold = try reader.int(value, p) ?? settings.prefixBalanceAbsThreshold
                guard (0...1_000_000).contains(settings.prefixBalanceAbsThreshold) else {
                    throw ConfigError("\(p): expected an integer from 0 to 1000000, got \(settings.prefixBalanceAbsThreshold)")
                }
            case "prefix_balance_rel_threshold":
                settings.prefixBalanceRelThreshold = try reader.double(value, p) ?? settings.prefixBalanceRelThreshold
                guard (1...1_000_000).contains(settings.prefixBalanceRelThreshold) else {
                    throw ConfigError("\(p): must be between 1 and 1000000, got \(settings.prefixBalanceRelThreshold)")
                }
            case "prefix_tree_max_bytes":
                settings.prefixTreeMaxBytes = try reader.int(value, p) ?? settings.prefixTreeMaxBytes
                guard (1024...(1 << 32)).contains(settings.prefixTreeMaxBytes) else {
                    throw ConfigError("\(p): expected an integer from 1024 to 4294967296, got \(settings.prefixTreeMaxBytes)")
                }
            case "vision_fallback": settings.visionFallback = try reader.string(value, p)
            case "vision_settings": settings.visionSettings = try parseVisionSettings(value, p, &reader)
            case "sticky_sessions": settings.stickySessions = try reader.bool(value, p) ?? false
            case "sticky_sessions_max":
                settings.stickySessionsMax = try reader.int(value, p) ?? settings.stickySessionsMax
                guard (1...10_000_000).contains(settings.stickySessionsMax) else {
                    throw ConfigError("\(p): expected an integer from 1 to 10000000, got \(settings.stickySessionsMax)")
                }
            case "redis_host": settings.redisHost = try reader.string(value, p)
            case "redis_port": settings.redisPort = try reader.int(value, p)
            case "redis_password": settings.redisPassword = try reader.string(value, p)
            case "redis_url": settings.redisURL = try reader.string(value, p)
            case "redis_startup_nodes": settings.redisStartupNodes = try reader.redisStartupNodes(value, p)
            default: reader.unknownKey(p)
            }
        }
        if settings.numRetries < 0 { throw ConfigError("\(path).num_retries: must be >= 0") }
        if settings.allowedFails < 0 { throw ConfigError("\(path).allowed_fails: must be >= 0") }
        if settings.cooldownTime < 0 { throw ConfigError("\(path).cooldown_time: must be >= 0") }
    }

    private static func parseLiteLLMSettings(_ node: Node, _ path: String, into config: inout GatewayConfig,
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

    private static func parseCacheParams(_ node: Node, _ path: String, _ reader: inout ConfigReader)
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

    private static func parseGeneralSettings(_ node: Node, _ path: String, _ reader: inout ConfigReader)
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

    private static func parseAlertingArgs(_ node: Node, _ path: String, into settings: inout GeneralSettings,
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

    private static func parseKey(_ node: Node, _ path: String, _ reader: inout ConfigReader)
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
