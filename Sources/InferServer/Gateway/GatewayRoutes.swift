import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Logging

/// The gateway in front of every deployment (DESIGN "Request flow"): exact and semantic cache lookup,
/// then the router (local engine or remote providers, with retries, fallbacks and cooldowns), then the
/// cache store. The no-config quick path is the same pipeline with one local deployment and no cache.
struct GatewayPipeline: Sendable {
    let router: ProviderRouter
    /// nil: no response cache configured.
    let cache: CacheLayer?
    /// The model group a request without `model` goes to (the quick path's served model); nil = required.
    var defaultModel: String?
    /// What the caches saved at `model_info` prices.
    let savings: CostSavings
    /// Per-key rpm / tpm limits.
    let limiter: RateLimiter

    init(router: ProviderRouter, cache: CacheLayer?, defaultModel: String?,
         limiter: RateLimiter = RateLimiter(store: InMemoryRateLimitStore())) {
        self.router = router
        self.cache = cache
        self.defaultModel = defaultModel
        self.limiter = limiter
        savings = CostSavings(router: router)
    }
}

/// `POST /v1/chat/completions` and `POST /v1/completions` through the gateway.
struct GatewayRoutes: Sendable {
    let server: OpenAIServer
    let gateway: GatewayPipeline

    func chat(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try await handle(request, context, endpoint: .chat, kind: .chat)
    }

    func completions(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try await handle(request, context, endpoint: .completions, kind: .completion)
    }

    private func handle(_ request: Request, _ context: InferRequestContext, endpoint: Endpoint,
                        kind: CacheRequestKind) async throws -> Response {
        let f = try await server.readFields(request)
        let limits = server.settings.limits
        let deadline = ContinuousClock.now + .seconds(limits.requestDeadline)
        try limits.check(f)
        guard let model = try f.string("model") ?? gateway.defaultModel else {
            throw OpenAIError.badParameter("model", "'model' is required.")
        }
        guard gateway.router.groups[model] != nil else { throw OpenAIError.modelNotFound(model) }
        let caller = context.caller
        guard caller.mayUse(model: model) else { throw OpenAIError.modelNotAllowed(model) }
        let tenant = server.tenant(of: caller)
        var limitedKey: VirtualKeyConfig?
        if case .key(let key) = caller {
            limitedKey = key
            if let wait = await gateway.limiter.admit(key) {
                throw OpenAIError(status: .tooManyRequests,
                                  message: "Rate limit reached for this API key (rpm/tpm); retry in \(CheckedConversion.wholeSeconds(wait)) s.",
                                  type: "rate_limit_error", code: "rate_limit_exceeded",
                                  headers: [.retryAfter: String(CheckedConversion.wholeSeconds(wait))])
            }
        }
        let stream = try f.bool("stream") ?? false
        var includeUsage = false
        if let options = f.value("stream_options") {
            guard case .object = options else { throw f.typeError("stream_options", "an object", options) }
            includeUsage = try RequestFields(options).bool("include_usage") ?? false
        }
        let fallbacks = try f.value("fallbacks").map { raw -> [String] in
            guard case .array(let items) = raw else { throw f.typeError("fallbacks", "an array of model names", raw) }
            return try items.map { item in
                guard case .string(let s) = item else { throw f.typeError("fallbacks", "an array of model names", raw) }
                return s
            }
        }
        // A request may not name a fallback its key may not use (the router also skips forbidden groups of
        // the config's fallback lists for this caller).
        if let forbidden = fallbacks?.first(where: { !caller.mayUse(model: $0) }) {
            throw OpenAIError.modelNotAllowed(forbidden, param: "fallbacks")
        }
        let disableFallbacks = try f.bool("disable_fallbacks") ?? false
        let logger = context.logger

        // 1. Response caches.
        var lookup: CacheLookup?
        if let cache = gateway.cache {
            do {
                lookup = try await cache.lookup(kind: kind, body: f.object,
                                                cacheControlHeader: request.headers[.cacheControl], tenant: tenant,
                                                namespace: caller.cacheNamespace)
            } catch {
                throw OpenAIError.badParameter(error.field, error.message)
            }
            if let l = lookup, let cached = l.response {
                let headers = Self.fields(l.headers)
                await gateway.savings.recordHit(group: model, usage: l.storedUsage)
                if stream {
                    let chunks = CacheReplay.streamChunks(from: cached, includeUsage: includeUsage)
                    return server.events(AsyncThrowingStream { c in
                        for chunk in chunks { c.yield(chunk) }
                        c.finish()
                    }, headers: headers, logger: logger)
                }
                return server.json(cached, headers: headers)
            }
        }

        // 2. Router, under the request's deadline (a stream's rest is cut off at the same instant below).
        // Nothing is written until the answer is complete (or, for a stream, until its first event): if the
        // client hangs up meanwhile (a response being generated, a stream still queued or in prefill), the
        // work is cancelled instead of running for nobody. After that, streams notice a dead client on
        // their next write (SSEResponse, --write-timeout).
        let routed: RoutedResult
        let router = gateway.router
        var upstreamRequest = ProviderRequest(endpoint: endpoint, body: Self.upstreamBody(f.object), stream: stream,
                                              tenant: tenant)
        upstreamRequest.maxResponseBytes = server.settings.maxResponseBytes
        let providerRequest = upstreamRequest
        let route: @Sendable () async throws -> RoutedResult = {
            try await RequestDeadline.run(until: deadline, seconds: limits.requestDeadline) {
                try await router.route(modelGroup: model, request: providerRequest, requestFallbacks: fallbacks,
                                       disableFallbacks: disableFallbacks, caller: caller)
            }
        }
        do {
            routed = try await ClientDisconnect.cancellingOnClose(context.channel) { try await route() }
        } catch let error as RouterError {
            var e = OpenAIError(error.error)
            e.headers[HTTPField.Name("x-litellm-attempted-retries")!] = String(error.attemptedRetries)
            e.headers[HTTPField.Name("x-litellm-attempted-fallbacks")!] = String(error.attemptedFallbacks)
            throw e
        } catch let error as OpenAIError where error.code == "client_closed_request" {
            logger.info("client closed the connection before the first token: request cancelled")
            await server.metrics.clientDisconnected()
            throw error
        }
        let headers = Self.fields((lookup?.headers ?? []) + routed.headers)

        // 3. Store (streams once they complete normally).
        switch routed.result {
        case .response(let json):
            if let cache = gateway.cache, let lookup { await cache.store(lookup, response: json) }
            if let limitedKey, case .int(let tokens)? = json["usage"]?["total_tokens"] {
                await gateway.limiter.charge(limitedKey, tokens: tokens)
            }
            return server.json(json, headers: headers)
        case .stream(let routedChunks):
            let chunks = RequestDeadline.stream(routedChunks, until: deadline, seconds: limits.requestDeadline)
            let cache = gateway.cache, limiter = gateway.limiter
            let store: (@Sendable ([JSONValue]) async -> Void)?
            if cache != nil || limitedKey != nil {
                store = { [lookup, limitedKey] sent in
                    let assembled = CacheReplay.assemble(chunks: sent)
                    if let cache, let lookup, let assembled { await cache.store(lookup, response: assembled) }
                    if let limitedKey, case .int(let tokens)? = assembled?["usage"]?["total_tokens"] {
                        await limiter.charge(limitedKey, tokens: tokens)
                    }
                }
            } else {
                store = nil
            }
            return server.events(chunks, headers: headers, logger: logger, onComplete: store)
        }
    }

    /// Gateway-only request fields, never sent upstream (OpenAI rejects unknown parameters).
    static let gatewayFields: Set<String> = ["cache", "fallbacks", "disable_fallbacks"]

    static func upstreamBody(_ body: JSONValue) -> JSONValue {
        guard case .object(let pairs) = body else { return body }
        return .object(pairs.filter { !gatewayFields.contains($0.0) })
    }

    static func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        return fields
    }
}

extension GatewayPipeline {
    /// The no-config quick path (`infer serve --model PATH`): one group named after the served model with the
    /// local engine as its only deployment, no retries (a local failure is final), no response cache.
    static func quickPath(_ server: OpenAIServer, logger: Logger) -> GatewayPipeline {
        let name = server.settings.servedModelName
        var settings = RouterSettings()
        settings.numRetries = 0
        let local = Deployment(id: "local", group: name, provider: LocalProvider(server: server, logger: logger),
                               upstreamModel: name)
        return GatewayPipeline(router: ProviderRouter(deployments: [local], settings: settings, logger: logger),
                               cache: nil, defaultModel: name)
    }
}
