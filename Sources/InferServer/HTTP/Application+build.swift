import Engine
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The composition root: routes and middleware over the local engine (if any) and the gateway. Tests call it
/// directly.
///
/// Below the routes, `ConnectionGuard` enforces the connection cap and the read and idle timeouts on every
/// connection. Middleware order: metrics (outermost) -> error envelope -> API key -> body read (413; before
/// any permit, so a slow sender never holds one) -> concurrency permit -> route.
///
/// - Parameters:
///   - server: the engine and settings (`settings.host` / `settings.port` are the bind address; port 0
///     picks a free port).
///   - gateway: caches and router in front of the engine (nil: the quick path, the engine alone).
///   - batches: the Batch API (nil: its routes are not served).
///   - logger: the application logger.
///   - onListening: called with the bound port once the server accepts connections.
func buildApplication(_ server: OpenAIServer, gateway build: GatewayBuild? = nil, batches: BatchService? = nil,
                      logger: Logger = Logger(label: "infer.serve"),
                      onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = Router(context: InferRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: server.metrics))
    router.add(middleware: ErrorEnvelopeMiddleware(maxBodyBytes: server.settings.maxBodyBytes))
    router.add(middleware: APIKeyMiddleware(keys: server.keys))
    router.add(middleware: RequestBodyMiddleware(maxBodyBytes: server.settings.maxBodyBytes))
    router.add(middleware: ConcurrencyLimitMiddleware(limiter: server.concurrency))

    let pipeline = build?.pipeline ?? .quickPath(server, logger: logger)
    let routes = GatewayRoute(server: server, gateway: pipeline)
    let utility = UtilityRoutes(server: server,
                                groups: pipeline.router.groupNames + pipeline.router.settings.cascades.map(\.name),
                                pipeline: pipeline)
    let embeddings = EmbeddingsRoute(server: server, embedders: build?.embedders ?? [:], cache: pipeline.cache,
                                     gateway: pipeline)
    let admin = CacheAdminRoutes(server: server, cache: pipeline.cache)
    router.post("/v1/chat/completions", use: routes.chat)
    router.post("/v1/completions", use: routes.completions)
    let messages = AnthropicMessagesRoute(routes: routes)
    router.post("/v1/messages", use: messages.messages)
    router.post("/v1/messages/count_tokens", use: messages.countTokens)
    router.post("/v1/embeddings", use: embeddings.handle)
    router.get("/v1/models", use: utility.models)
    router.get("/v1/models/{id}", use: utility.model)
    router.get("/cache/ping", use: admin.ping)
    router.post("/cache/delete", use: admin.delete)
    router.post("/cache/flushall", use: admin.flushAll)
    router.get("/cache/stats", use: admin.stats)
    let spend = SpendRoutes(server: server, ledger: pipeline.ledger, spend: pipeline.spend)
    router.get("/global/spend/keys", use: spend.keys)
    router.get("/global/spend/models", use: spend.models)
    router.get("/spend/logs", use: spend.logs)
    router.get("/key/info", use: KeyInfoRoute(server: server, spend: pipeline.spend).handle)
    let dashboard = DashboardRoutes(server: server, pipeline: pipeline)
    router.get("/ui", use: dashboard.page)
    router.get("/ui/api/summary", use: dashboard.summary)
    if let local = server.local {
        let prefixAdmin = PrefixCacheAdminRoutes(server: server, local: local)
        router.get("/prefix_cache/stats", use: prefixAdmin.stats)
        router.post("/prefix_cache/reset", use: prefixAdmin.reset)
        let loraAdmin = LoRAAdminRoutes(server: server, local: local)
        router.post("/v1/load_lora_adapter", use: loraAdmin.load)
        router.post("/v1/unload_lora_adapter", use: loraAdmin.unload)
    }
    if let batches {
        let routes = BatchRoutes(server: server, store: batches.store, runner: batches.runner)
        router.post("/v1/files", use: routes.uploadFile)
        router.get("/v1/files", use: routes.listFiles)
        router.get("/v1/files/{file_id}", use: routes.file)
        router.get("/v1/files/{file_id}/content", use: routes.fileContent)
        router.delete("/v1/files/{file_id}", use: routes.deleteFile)
        router.post("/v1/batches", use: routes.createBatch)
        router.get("/v1/batches", use: routes.listBatches)
        router.get("/v1/batches/{batch_id}", use: routes.batch)
        router.post("/v1/batches/{batch_id}/cancel", use: routes.cancelBatch)
    }
    router.post("/tokenize", use: utility.tokenize)
    router.post("/detokenize", use: utility.detokenize)
    router.get("/health", use: utility.health)
    router.get("/health/readiness", use: utility.readiness)
    router.get("/health/liveliness", use: utility.health)
    router.get("/metrics", use: utility.metrics)

    let connection = server.settings.connection, counter = server.connections, metrics = server.metrics
    let onTimeout: @Sendable () -> Void = { Task { await metrics.connectionTimedOut() } }
    return Application(
        router: router,
        server: .http1(configuration: HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuard(settings: connection, counter: counter, onTimeout: onTimeout)])),
        configuration: ApplicationConfiguration(address: .hostname(server.settings.host, port: server.settings.port),
                                                serverName: "infer"),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? server.settings.port) },
        logger: logger)
}
