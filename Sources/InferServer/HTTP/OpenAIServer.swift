import Engine
import Foundation
import Hummingbird
import Logging
import Gateway
import OpenAIRequest

/// Everything the routes share: the local engine (if any), settings, keys, limits, metrics.
/// Immutable after construction (the engine and metrics are themselves safe to share).
struct OpenAIServer: Sendable {
    /// The in-process model; nil in gateway-only mode (every deployment remote, no engine thread).
    let local: LocalEngine?
    let settings: ServerSettings
    let metrics: ServerMetrics
    /// Unix time the server started (`created` of the model object).
    let created: Int
    /// The master and virtual keys (empty: open server).
    let keys: APIKeyStore
    /// API requests in flight (server-wide and per key limits).
    let concurrency: ConcurrencyLimiter
    /// Open HTTP connections (`--max-connections`).
    let connections = ConnectionGuard.Counter()

    /// A server with the local engine `engine` (nil: gateway-only).
    init(engine: InferenceEngine?, settings: ServerSettings) {
        local = engine.map { LocalEngine(engine: $0, publicPrefixes: settings.publicPrefixes,
                                            servedModelName: settings.servedModelName) }
        self.settings = settings
        metrics = ServerMetrics()
        created = Int(Date().timeIntervalSince1970)
        keys = APIKeyStore(masterKey: settings.apiKey, keys: settings.virtualKeys)
        concurrency = ConcurrencyLimiter(limit: settings.limits.maxConcurrentRequests,
                                         perTenantLimit: settings.limits.maxConcurrentPerKey)
    }

    /// The tenant that isolates a caller's caches: derived on the server from its key (nil for the master
    /// key, an open server, or with isolation off).
    func tenant(of caller: Caller) -> String? {
        settings.tenantIsolation ? caller.tenant : nil
    }

    /// The body parsed as a JSON object (400 otherwise). `RequestBodyMiddleware` has already read it (413 above
    /// the limit, 400 when broken off), so this only collects the buffer it left. Bodies over
    /// `CPUWork.inlineBytes` are validated and parsed on `CPUWork`'s threads.
    func readFields(_ request: Request) async throws -> RequestFields {
        let buffer = try await request.body.collect(upTo: settings.maxBodyBytes)
        let data = Data(buffer.readableBytesView)
        let parse: @Sendable () throws -> RequestFields = { try RequestFields(OpenAIError.parseJSON(data)) }
        return data.count > CPUWork.inlineBytes ? try await CPUWork.run(parse) : try parse()
    }

    /// The local engine for a route that needs the served model (`/tokenize`, `/detokenize`): 404 when there
    /// is none (gateway-only) or `model` is neither nil nor the served model id.
    func localModel(_ model: String?) throws -> LocalEngine {
        guard let local else { throw OpenAIError.modelNotFound(model ?? settings.servedModelName) }
        if let model, model != settings.servedModelName { throw OpenAIError.modelNotFound(model) }
        return local
    }

    /// Starts every choice, surfacing engine rejections (queue full, context overflow) as HTTP errors before
    /// any response is sent; on failure the other choices are cancelled.
    func start(_ streams: [ChoiceStream], param: String) async throws {
        do {
            for s in streams { try await s.start() }
        } catch {
            for s in streams { s.cancel() }
            if let e = error as? EngineError { throw OpenAIError.from(engine: e, param: param) }
            throw error
        }
    }

    /// A JSON response.
    func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized())))
    }

    /// A server-sent-events response of `chunks` under the server's write timeout (counted in the metrics).
    func events(_ chunks: AsyncThrowingStream<JSONValue, any Error>, headers: HTTPFields = [:],
                encoding: any SSEEncoding = OpenAIEventEncoding(), logger: Logger,
                onComplete: (@Sendable ([JSONValue]) async -> Void)? = nil,
                onIncomplete: (@Sendable ([JSONValue]) async -> Void)? = nil) -> Response {
        SSEResponse.response(chunks, headers: headers, encoding: encoding, logger: logger, writeTimeout: settings.writeTimeout,
                             onWriteTimeout: { [metrics] in await metrics.streamWriteTimedOut() },
                             onComplete: onComplete, onIncomplete: onIncomplete)
    }

    /// A fresh response id with the given prefix (`chatcmpl`, `cmpl`).
    static func responseID(_ prefix: String) -> String {
        prefix + "-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }
}
