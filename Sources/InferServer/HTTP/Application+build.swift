import Engine
import Hummingbird
import Logging
import NIOCore

/// The composition root: routes and middleware over one engine. Tests call it directly.
///
/// - Parameters:
///   - server: the engine and settings (`settings.host` / `settings.port` are the bind address; port 0
///     picks a free port).
///   - logger: the application logger.
///   - onListening: called with the bound port once the server accepts connections.
func buildApplication(_ server: OpenAIServer, logger: Logger = Logger(label: "infer.serve"),
                      onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: server.metrics))
    router.add(middleware: ErrorEnvelopeMiddleware(maxBodyBytes: server.settings.maxBodyBytes))
    router.add(middleware: APIKeyMiddleware(apiKey: server.settings.apiKey))

    let chat = ChatCompletionsRoute(server: server)
    let completions = CompletionsRoute(server: server)
    let utility = UtilityRoutes(server: server)
    router.post("/v1/chat/completions", use: chat.handle)
    router.post("/v1/completions", use: completions.handle)
    router.get("/v1/models", use: utility.models)
    router.get("/v1/models/{id}", use: utility.model)
    router.post("/tokenize", use: utility.tokenize)
    router.post("/detokenize", use: utility.detokenize)
    router.get("/health", use: utility.health)
    router.get("/health/readiness", use: utility.readiness)
    router.get("/metrics", use: utility.metrics)

    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(server.settings.host, port: server.settings.port),
                                                serverName: "infer"),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? server.settings.port) },
        logger: logger)
}
