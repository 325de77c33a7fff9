import ArgumentParser
import Engine
import Foundation
import Gateway
import Hummingbird
import Logging
import NumericCore
import OpenAIRequest
import Redis
import ServiceLifecycle

/// `infer serve`: the OpenAI-compatible HTTP server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the model over an OpenAI-compatible HTTP API.")

    @Option(name: .long, help: "Path to a GGUF model file (optional with --config when model_list has a local/ GGUF).")
    var model: String?

    @Option(name: .long, help: "LiteLLM-style config file (model_list, router_settings, litellm_settings, general_settings).")
    var config: String?

    @Option(name: .long, help: "Worker threads (default: INFER_THREADS or the number of cores).")
    var threads: Int?

    @Flag(name: .long, help: "Do not print the model load progress and summary lines.")
    var quiet = false

    @Option(name: .long, help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to bind (0 = any free port; the real one is printed).")
    var port = 8080

    @Option(name: .long, help: "Model id clients use (default: the file name without .gguf).")
    var servedModelName: String?

    @Option(name: .long, parsing: .upToNextOption,
            help: "LoRA adapters (llama.cpp GGUF) served as NAME=PATH ...; a request with model NAME runs on the base model with that adapter.")
    var loraModules: [String] = []

    @Option(name: .long, help: "Require `Authorization: Bearer KEY` on the API routes.")
    var apiKey: String?

    @Option(name: .long, help: "KV cache size in tokens.")
    var kvCacheTokens = 65536

    @Option(name: .long, help: "KV cache size in GiB, counting the real bytes of --kv-cache-dtype (overrides --kv-cache-tokens).")
    var kvCacheGib: Double?

    @OptionGroup var kvOptions: KVCacheOptions

    @OptionGroup var tierOptions: KVTierOptions
    @OptionGroup var speculativeOptions: SpeculativeOptions

    @Option(name: .long, help: "Directory of the Batch API's files and batches; unfinished batches resume from it on start (default: general_settings.batch_dir or ~/.local/share/infer/batches).")
    var batchDir: String?

    @Option(name: .long, help: "Batch API requests run at once, below interactive traffic (default: general_settings.batch_concurrency or 4).")
    var batchConcurrency: Int?

    @Option(name: .long, help: "Sequences decoding at once.")
    var maxRunning = 16

    @Option(name: .long, help: "Requests allowed to wait (more get 429).")
    var maxQueued = 256

    @Option(name: .long, help: "Largest request body in bytes, more get 413 (default: general_settings.max_request_size_mb or 16 MiB).")
    var maxBodyBytes: Int?

    @Option(name: .long, help: "Largest prompt in tokens, more get 400 (default: general_settings.max_prompt_tokens or the context length).")
    var maxPromptTokens: Int?

    @Option(name: .long, help: "Largest max_tokens a request may ask for, and the cap when it asks for none (default: general_settings.max_output_tokens or the context).")
    var maxOutputTokens: Int?

    @Option(name: .long, help: "Most choices (n) per request (default: general_settings.max_n or 16).")
    var maxN: Int?

    @Option(name: .long, help: "Most API requests in flight, more get 429 (default: general_settings.global_max_parallel_requests or 1024).")
    var maxConcurrentRequests: Int?

    @Option(name: .long, help: "Most API requests one virtual key may have in flight (default: general_settings.max_parallel_requests or none).")
    var maxConcurrentPerKey: Int?

    @Option(name: .long, help: "Seconds a chat/completion request may take end to end (default: general_settings.request_deadline or 600).")
    var requestDeadline: Double?

    @Option(name: .long, help: "Seconds in-flight requests get to finish on SIGINT/SIGTERM.")
    var shutdownTimeout = 30.0

    @Option(name: .long, help: "Seconds one write of a streamed response may block (client not reading) before the stream is closed and its generation cancelled (0 = never).")
    var writeTimeout = 30.0

    @Option(name: .long, help: "Seconds from the first byte of a request to the end of its body; a slower client gets 408 and is disconnected (0 = never).")
    var readTimeout = 30.0

    @Option(name: .long, help: "Seconds a connection may stay open with no request in flight before it is closed (0 = never).")
    var idleTimeout = 60.0

    @Option(name: .long, help: "Most open HTTP connections; a connection over it gets 503 and is closed.")
    var maxConnections = 4096

    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel = "info"

    @Option(name: .long, help: "Response cache: local | redis | redis-semantic (overrides the config's litellm_settings.cache).")
    var cache: String?

    @Option(name: .long, help: "Response cache key prefix (cache_params.namespace).")
    var cacheNamespace: String?

    @Option(name: .long, help: "Response cache TTL in seconds (cache_params.ttl; default: no expiry).")
    var cacheTtl: Double?

    @Option(name: .long, help: "Semantic cache cosine threshold in [0, 1] (cache_params.similarity_threshold).")
    var similarityThreshold: Double?

    @Option(name: .long, help: "Redis for the caches: redis://[user:pass@]host:port/db (default: REDIS_URL / REDIS_HOST).")
    var redisUrl: String?

    @Option(name: .long, help: "Sentence-embedding model directory served at /v1/embeddings and used by the semantic cache.")
    var embeddingModel: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard kvCacheTokens > 0, maxRunning > 0, maxQueued >= 0, maxConnections > 0 else {
            throw ValidationError("--kv-cache-tokens, --max-running, --max-connections must be positive, --max-queued not negative")
        }
        for (name, value) in [("--shutdown-timeout", shutdownTimeout), ("--write-timeout", writeTimeout),
                              ("--read-timeout", readTimeout), ("--idle-timeout", idleTimeout)] {
            guard value >= 0, value <= 86_400 else {
                throw ValidationError("\(name) must be between 0 and 86400 seconds, got \(value)")
            }
        }
        for (name, value) in [("--max-body-bytes", maxBodyBytes), ("--max-prompt-tokens", maxPromptTokens),
                              ("--max-output-tokens", maxOutputTokens), ("--max-n", maxN),
                              ("--max-concurrent-requests", maxConcurrentRequests),
                              ("--max-concurrent-per-key", maxConcurrentPerKey), ("--batch-concurrency", batchConcurrency)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be positive, got \(value)") }
        }
        if let maxN, maxN > GenerationParameters.maxChoices {
            throw ValidationError("--max-n must be at most \(GenerationParameters.maxChoices)")
        }
        if let d = requestDeadline, !(d > 0) { throw ValidationError("--request-deadline must be positive") }
        if let g = kvCacheGib, !(g > 0 && g <= 1024) { throw ValidationError("--kv-cache-gib must be in (0, 1024]") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard model != nil || config != nil else { throw ValidationError("give --model PATH or --config FILE") }
        if let cache, CacheSettings.CacheType(rawValue: cache) == nil {
            throw ValidationError("--cache must be local, redis or redis-semantic, got '\(cache)'")
        }
        if let t = similarityThreshold, !(0...1).contains(t) { throw ValidationError("--similarity-threshold must be in [0, 1]") }
        if let t = cacheTtl, t <= 0 { throw ValidationError("--cache-ttl must be positive") }
        _ = try loraModuleList()
    }

    /// `--lora-modules NAME=PATH ...` as pairs.
    func loraModuleList() throws -> [(name: String, path: String)] {
        try loraModules.map { item in
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex, item.index(after: eq) != item.endIndex else {
                throw ValidationError("--lora-modules takes NAME=PATH items, got '\(item)'")
            }
            return (String(item[..<eq]), String(item[item.index(after: eq)...]))
        }
    }

    /// The request limits: flags over `general_settings`, then the defaults.
    func limits(_ general: GeneralSettings?) -> RequestLimits {
        var l = RequestLimits()
        l.maxPromptTokens = maxPromptTokens ?? general?.maxPromptTokens
        l.maxOutputTokens = maxOutputTokens ?? general?.maxOutputTokens
        l.maxN = min(maxN ?? general?.maxN ?? l.maxN, GenerationParameters.maxChoices)
        l.maxConcurrentRequests = maxConcurrentRequests ?? general?.globalMaxParallelRequests ?? l.maxConcurrentRequests
        l.maxConcurrentPerKey = maxConcurrentPerKey ?? general?.maxParallelRequests
        l.requestDeadline = requestDeadline ?? general?.requestDeadline ?? l.requestDeadline
        return l
    }

    /// Reads and validates the config file (errors name the key).
    func loadConfig() throws -> GatewayConfig? {
        guard let config else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: config, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read --config \(config): \(error.localizedDescription)")
        }
        do {
            let (parsed, warnings) = try GatewayConfig.parse(yaml: text)
            for w in warnings { Console.error("[config] warning: \(w)") }
            return parsed
        } catch {
            throw ValidationError("\(config): \(error)")
        }
    }

    /// The cache settings the flags ask for (nil: the config's).
    func cacheOverride(_ config: GatewayConfig?) throws -> CacheSettings? {
        guard cache != nil || cacheNamespace != nil || cacheTtl != nil || similarityThreshold != nil || redisUrl != nil
        else { return nil }
        var s = config.map { GatewayBuilder.cacheSettings($0.litellmSettings) } ?? CacheSettings()
        s.enabled = true
        if let cache { s.type = CacheSettings.CacheType(rawValue: cache) ?? .local }
        if let cacheNamespace { s.namespace = cacheNamespace }
        if let cacheTtl { s.ttl = cacheTtl }
        if let similarityThreshold { s.similarityThreshold = similarityThreshold }
        if s.type == .redisSemantic, s.similarityThreshold == nil { s.similarityThreshold = 0.9 }
        if s.type == .local, s.similarityThreshold != nil {
            throw ValidationError("the semantic cache keeps its entries in Redis: use --cache redis-semantic")
        }
        if let redisUrl {
            if s.type == .local { s.type = .redis }
            do {
                s.redis = try RedisConfiguration(url: redisUrl)
            } catch {
                throw ValidationError("--redis-url: \(error)")
            }
        }
        return s
    }

    func run() async throws {
        var logger = Logger(label: "infer.serve")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let gatewayConfig = try loadConfig()
        // The local GGUF: --model, else the config's local/ GGUF deployment (its model_name is the served name).
        let localEntry = gatewayConfig?.modelList.first { entry in
            entry.params.provider == .local && entry.params.upstreamModel.hasSuffix(".gguf")
        }
        // Gateway-only: a config with no local/ GGUF and no --model serves its remote deployments, caches, keys,
        // limits and admin routes with no engine thread and no KV pool.
        let path = model ?? localEntry?.params.upstreamModel
        var engine: InferenceEngine?
        var engineOptions: EngineOptions?
        if let path {
            let model = try ModelOptions.load(path: path, threads: threads, quiet: quiet, maxBatch: 128)
            let dtype = kvOptions.resolved(config: gatewayConfig?.generalSettings.kvCacheDType.flatMap(KVCacheDType.init(rawValue:)))
            let kvTokens = kvCacheGib.map { EngineOptions.kvTokens(forGiB: $0, config: model.config, dtype: dtype) }
                ?? kvCacheTokens
            var options = EngineOptions(kvCacheTokens: kvTokens, maxBatchTokens: 128, maxRunning: maxRunning,
                                        maxQueued: maxQueued, kvCacheDType: dtype)
            try tierOptions.apply(to: &options, model: model, general: gatewayConfig?.generalSettings, quiet: quiet)
            options.speculative = speculativeOptions.resolved(
                config: gatewayConfig?.generalSettings.speculative.flatMap(SpeculativeMode.init(rawValue:)))
            engine = try InferenceEngine(model: model, options: options)
            engineOptions = options
            if !quiet {
                let pool = KVPool.bytesPerToken(layerCount: model.config.layerCount, kvDim: model.config.kvDim, dtype: dtype)
                Console.error(String(format: "[serve] KV cache: %d tokens, %@, %.1f MiB", kvTokens, dtype.rawValue,
                                     Double(pool) * Double(kvTokens) / 1_048_576))
            }
        } else {
            guard gatewayConfig?.modelList.isEmpty == false else {
                throw ValidationError("no model to serve: give --model PATH, or a config whose model_list has deployments")
            }
            if tierOptions.isSet {
                throw ValidationError("the KV tier options need a local model (--model or a local/ GGUF in model_list)")
            }
            if let g = gatewayConfig?.generalSettings, g.kvRedis != nil || g.kvRedisStartupNodes != nil || g.kvDisk != nil {
                Console.error("[config] warning: general_settings.kv_redis / kv_disk ignored: there is no local model")
            }
            Console.error("[serve] gateway-only: no local model, every deployment is remote")
        }
        let general = gatewayConfig?.generalSettings
        // Config sizes are in MiB (finite, at most 1e12: ConfigReader); capped at 1 TiB before the conversion.
        func bytes(mebibytes: Double?) -> Int? { mebibytes.map { Int(min($0, 1_048_576) * 1_048_576) } }
        var settings = ServerSettings(
            servedModelName: servedModelName ?? localEntry?.modelName ?? path.map(ServerSettings.defaultModelName(path:)) ?? "")
        settings.host = host
        settings.port = port
        settings.apiKey = apiKey ?? general?.masterKey
        settings.virtualKeys = gatewayConfig?.keys ?? []
        settings.publicPrefixes = general?.publicPrefixes ?? []
        settings.maxBodyBytes = maxBodyBytes ?? bytes(mebibytes: general?.maxRequestSizeMB) ?? (16 << 20)
        settings.maxResponseBytes = bytes(mebibytes: general?.maxResponseSizeMB) ?? ProviderRequest.defaultMaxResponseBytes
        settings.limits = limits(general)
        settings.tenantIsolation = general?.tenantIsolation ?? true
        settings.shutdownTimeout = shutdownTimeout
        settings.writeTimeout = writeTimeout > 0 ? writeTimeout : nil
        settings.connection = ConnectionGuard.Settings(readTimeout: readTimeout > 0 ? readTimeout : nil,
                                                       idleTimeout: idleTimeout > 0 ? idleTimeout : nil,
                                                       maxConnections: maxConnections)
        FileDescriptorLimit.raise(toAtLeast: maxConnections + 256)
        let server = OpenAIServer(engine: engine, settings: settings)
        let adapters = try loraModuleList() + (localEntry?.params.lora ?? [])
        if !adapters.isEmpty {
            guard let local = server.local else { throw ValidationError("LoRA adapters need a local model") }
            for (name, adapterPath) in adapters {
                do {
                    let adapter = try local.loras.load(name: name, path: adapterPath)
                    if !quiet {
                        Console.error("[serve] LoRA '\(name)': \(adapterPath), \(adapter.matrixCount) matrices, rank \(adapter.rank)")
                    }
                } catch let e as OpenAIError {
                    throw ValidationError("LoRA adapter \(name)=\(adapterPath): \(e.message)")
                }
            }
        }
        var config = gatewayConfig ?? GatewayConfig()
        if gatewayConfig == nil, let path {
            // The quick path as a config: one local deployment named after the served model.
            config.modelList = [ModelDeploymentConfig(modelName: settings.servedModelName, params: DeploymentParams(
                model: "local/" + path, provider: .local, upstreamModel: path), modelInfo: ModelInfo())]
            config.routerSettings.numRetries = 0
        }
        if let embeddingModel {
            config.modelList.append(ModelDeploymentConfig(
                modelName: URL(fileURLWithPath: embeddingModel).lastPathComponent,
                params: DeploymentParams(model: "local/" + embeddingModel, provider: .local, upstreamModel: embeddingModel),
                modelInfo: ModelInfo()))
        }
        let build: GatewayBuild
        do {
            build = try await GatewayBuilder.build(config: config, server: server, localModelPath: path,
                                                   cache: try cacheOverride(gatewayConfig), logger: logger)
        } catch let error as ConfigError {
            throw ValidationError("\(self.config ?? "config"): \(error)")
        }
        var pipeline = build.pipeline
        pipeline.defaultModel = gatewayConfig == nil ? settings.servedModelName : pipeline.defaultModel
        let gateway = GatewayBuild(pipeline: pipeline, embedders: build.embedders)
        let host = self.host
        let name = settings.servedModelName
        let groups = pipeline.router.groupNames
        let template = server.local?.template
        let batchDirectory = batchDir ?? general?.batchDirectory ?? BatchService.defaultDirectory
        let batches = BatchService(directory: batchDirectory, concurrency: batchConcurrency ?? general?.batchConcurrency ?? 4,
                                   server: server, gateway: gateway, logger: logger)
        let app = buildApplication(server, gateway: gateway, batches: batches, logger: logger) { port in
            if groups.count > 1 || template == nil { Console.error("[serve] model groups: \(groups.joined(separator: ", "))") }
            if let template { Console.error("[serve] model '\(name)', chat template \(template.rawValue)") }
            Console.error("[serve] dashboard: http://\(host):\(port)/ui")
            Console.error("[serve] batch API: files and batches in \(batchDirectory)")
            do {
                let resumed = try await batches.runner.start()
                if !resumed.isEmpty {
                    Console.error("[serve] batch API: resuming \(resumed.count) unfinished batch(es): "
                        + resumed.map(\.description).joined(separator: ", "))
                }
            } catch {
                Console.error("[serve] warning: batch API unavailable: \(error)")
            }
            Console.error("listening on http://\(host):\(port)")
        }
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint],
                                              logger: logger)
        group.maximumGracefulShutdownDuration = Duration.milliseconds(Int64(CheckedConversion.milliseconds(shutdownTimeout)))
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
        // Batch requests still running get no answer recorded: they run again on the next start.
        await batches.runner.stop()
        pipeline.cache?.shutdown()
        // The server has stopped: unfinished requests end, the engine thread exits (handing the cached blocks
        // the tiers lack to the write queue), then the queue is written out.
        if let engine { await Task.detached { engine.shutdown() }.value }
        if let tier = engineOptions?.kvTier {
            let drained = await tier.drain(timeout: max(5, shutdownTimeout))
            let s = tier.stats()
            let written = s.order.map { "\($0) \(s.tiers[$0]?.writes ?? 0)" }.joined(separator: ", ")
            Console.error("[serve] KV tiers: blocks written \(written)\(drained ? "" : " (timed out with \(s.pendingWrites) still queued)")")
        }
        Console.error("[serve] stopped")
    }
}
