import Engine
import Foundation
import Hummingbird
import Logging
import Gateway

/// Settings of the HTTP server (from `infer serve` flags).
struct ServerSettings: Sendable {
    var host = "127.0.0.1"
    var port = 8080
    /// The model id clients use (`model` field, `/v1/models`).
    var servedModelName: String
    /// The master key: when set, every route but health and metrics needs `Authorization: Bearer <key>`.
    var apiKey: String?
    /// Virtual keys (the config's `keys:`); each is also accepted, limited to its models, and isolated: its
    /// prefix-cache salt and response-cache entries are derived from the key.
    var virtualKeys: [VirtualKeyConfig] = []
    /// Declared public system prompts (`general_settings.public_prefixes`): shared by every tenant.
    var publicPrefixes: [String] = []
    /// Largest accepted request body (bigger: 413).
    var maxBodyBytes = 16 << 20
    /// Largest response body (or whole stream) accepted from a remote deployment
    /// (`general_settings.max_response_size_mb`; bigger: 502 `response_too_large`).
    var maxResponseBytes = ProviderRequest.defaultMaxResponseBytes
    /// What one request may ask for, how many run at once, how long one may take.
    var limits = RequestLimits()
    /// Whether virtual keys get their own prefix-cache salt and response-cache scope (config
    /// `general_settings.tenant_isolation`, default true). Off, every key shares the caches as the master
    /// key does (a client `cache_salt` still separates what it salts).
    var tenantIsolation = true
    /// Seconds in-flight requests get to finish on SIGINT / SIGTERM before they are cancelled.
    var shutdownTimeout = 30.0
    /// Seconds one write of a streamed response may take (a client that stopped reading): after that the
    /// stream is closed and its generation cancelled. nil or 0 = no limit.
    var writeTimeout: Double? = 30
    /// Read and idle timeouts and the connection cap (`--read-timeout`, `--idle-timeout`, `--max-connections`).
    var connection = ConnectionGuard.Settings()

    /// The default model id: the file name without `.gguf`.
    static func defaultModelName(path: String) -> String {
        let name = URL(fileURLWithPath: path).lastPathComponent
        return name.hasSuffix(".gguf") ? String(name.dropLast(5)) : name
    }
}

/// Everything the routes share: the engine, the model's tokenizer and chat template, settings, metrics.
/// Immutable after construction (the engine and metrics are themselves safe to share).
struct OpenAIServer: Sendable {
    let engine: InferenceEngine
    let settings: ServerSettings
    let template: ChatTemplate
    let metrics: ServerMetrics
    /// Unix time the server started (`created` of the model object).
    let created: Int
    /// The master and virtual keys (empty: open server).
    let keys: APIKeyStore
    /// Token forms of the declared public prefixes.
    let publicPrefixes: PublicPrefixes
    /// API requests in flight (server-wide and per key limits).
    let concurrency: ConcurrencyLimiter
    /// Open HTTP connections (`--max-connections`).
    let connections = ConnectionGuard.Counter()

    init(engine: InferenceEngine, settings: ServerSettings) {
        self.engine = engine
        self.settings = settings
        template = ChatTemplate.forModel(engine.model)
        metrics = ServerMetrics()
        created = Int(Date().timeIntervalSince1970)
        keys = APIKeyStore(masterKey: settings.apiKey, keys: settings.virtualKeys)
        concurrency = ConcurrencyLimiter(limit: settings.limits.maxConcurrentRequests,
                                         perTenantLimit: settings.limits.maxConcurrentPerKey)
        publicPrefixes = PublicPrefixes(settings.publicPrefixes, template: template, tokenizer: engine.model.tokenizer)
    }

    /// The tenant that isolates a caller's caches: derived on the server from its key (nil for the master
    /// key, an open server, or with isolation off).
    func tenant(of caller: Caller) -> String? {
        settings.tenantIsolation ? caller.tenant : nil
    }

    var model: LanguageModel { engine.model }
    var tokenizer: any Tokenizer { engine.model.tokenizer }
    var contextLength: Int { engine.model.config.contextLength }

    /// The body (already read by `RequestBodyMiddleware`, 413 above the limit) parsed as a JSON object (400
    /// otherwise). Bodies over `CPUWork.inlineBytes` are validated and parsed on `CPUWork`'s threads.
    func readFields(_ request: Request) async throws -> RequestFields {
        let buffer = try await RequestBodyMiddleware<InferRequestContext>.read(request, limit: settings.maxBodyBytes)
        let data = Data(buffer.readableBytesView)
        let parse: @Sendable () throws -> RequestFields = { try RequestFields(OpenAIError.parseJSON(data)) }
        return data.count > CPUWork.inlineBytes ? try await CPUWork.run(parse) : try parse()
    }

    /// 404 unless `model` is nil or the served model id.
    func checkModel(_ model: String?) throws {
        if let model, model != settings.servedModelName { throw OpenAIError.modelNotFound(model) }
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
    func events(_ chunks: AsyncThrowingStream<JSONValue, any Error>, headers: HTTPFields = [:], logger: Logger,
                onComplete: (@Sendable ([JSONValue]) async -> Void)? = nil) -> Response {
        SSEResponse.response(chunks, headers: headers, logger: logger, writeTimeout: settings.writeTimeout,
                             onWriteTimeout: { [metrics] in await metrics.streamWriteTimedOut() },
                             onComplete: onComplete)
    }

    /// A fresh response id with the given prefix (`chatcmpl`, `cmpl`).
    static func responseID(_ prefix: String) -> String {
        prefix + "-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }
}

/// Sums the usage of all choices of one request: prompt tokens once per distinct prompt.
struct UsageTotals: Sendable {
    var promptTokens = 0
    var completionTokens = 0
    var cachedTokens = 0

    /// `perPrompt[p]` lists the usages of the choices generated from prompt `p`.
    init(perPrompt: [[ChoiceUsage]]) {
        for usages in perPrompt {
            promptTokens += usages.first?.promptTokens ?? 0
            cachedTokens += usages.map(\.cachedTokens).max() ?? 0
            completionTokens += usages.reduce(0) { $0 + $1.completionTokens }
        }
    }

    var json: JSONValue {
        ["prompt_tokens": .int(promptTokens), "completion_tokens": .int(completionTokens),
         "total_tokens": .int(promptTokens + completionTokens),
         "prompt_tokens_details": ["cached_tokens": .int(cachedTokens)]]
    }
}
