import Engine
import Foundation
import Hummingbird
import Logging
import Gateway
import OpenAIRequest

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
    /// Compiled output grammars (`response_format`, `grammar`, `json_schema`) by schema.
    let grammars = GrammarCache()

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

    /// The grammar state a constrained request starts from (compiled off the event loop on a cache miss).
    func grammarMatcher(_ constraint: OutputConstraint?) async throws -> GrammarMatcher? {
        guard let constraint else { return nil }
        let grammars = self.grammars
        let grammar = try await CPUWork.run(bytes: constraint.cacheKey.utf8.count, threshold: 4096) {
            try grammars.grammar(for: constraint)
        }
        do {
            return try GrammarMatcher(grammar)
        } catch let e as GrammarError {
            throw OpenAIError.badParameter(constraint.param, "Invalid grammar: \(e.message).")
        }
    }

    var model: LanguageModel { engine.model }
    var tokenizer: any Tokenizer { engine.model.tokenizer }
    var contextLength: Int { engine.model.config.contextLength }

    /// The body parsed as a JSON object (400 otherwise). `RequestBodyMiddleware` has already read it (413 above
    /// the limit, 400 when broken off), so this only collects the buffer it left. Bodies over
    /// `CPUWork.inlineBytes` are validated and parsed on `CPUWork`'s threads.
    func readFields(_ request: Request) async throws -> RequestFields {
        let buffer = try await request.body.collect(upTo: settings.maxBodyBytes)
        let data = Data(buffer.readableBytesView)
        let parse: @Sendable () throws -> RequestFields = { try RequestFields(OpenAIError.parseJSON(data)) }
        return data.count > CPUWork.inlineBytes ? try await CPUWork.run(parse) : try parse()
    }

    /// The validated generation fields of a request routed to the local engine (stream and include_usage
    /// as the edge parsed them); 404 unless its `model` is absent or the served model.
    func generationParameters(_ f: RequestFields, _ request: ProviderRequest) throws -> GenerationParameters {
        let params = try GenerationParameters(f, vocabularySize: model.config.vocabularySize, tenant: request.tenant,
                                              stream: request.stream, includeUsage: request.includeUsage)
        try checkModel(params.model)
        return params
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
