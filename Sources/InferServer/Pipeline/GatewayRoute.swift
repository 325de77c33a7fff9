import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NumericCore
import OpenAIRequest

/// `POST /v1/chat/completions` and `POST /v1/completions` through the gateway: a short sequence of named
/// stages over one `GatewayRequest` parsed at the edge:
///
/// 1. `parse`: the body (already read by `RequestBodyMiddleware`) into a `GatewayRequest`;
/// 2. `admit`: server limits, the model group exists, the caller may use it and every fallback it names,
///    the key's rpm / tpm;
/// 3. `lookUp`: the response caches (exact, then semantic); a hit is replayed (`replay`) and ends here;
/// 4. `route`: the router (local engine or remote providers, retries, fallbacks) under the deadline, cancelled
///    if the client hangs up first;
/// 5. `respond`: the answer as JSON or SSE, stored in the cache and charged to the key (streams once they
///    complete normally).
struct GatewayRoute: Sendable {
    let server: OpenAIServer
    let gateway: GatewayPipeline

    func chat(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try await handle(request, context, endpoint: .chat)
    }

    func completions(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try await handle(request, context, endpoint: .completions)
    }

    /// What the stages after admission need to know about the caller.
    struct Admission {
        let caller: Caller
        /// The caller's cache tenant (nil: shared caches).
        let tenant: String?
        /// The virtual key whose rpm / tpm are charged (nil: master key or open server).
        let key: VirtualKeyConfig?
        let deadline: ContinuousClock.Instant
    }

    /// The stages, observed by the alert rules (a 5xx or an unexpected error is a failed request) and, once
    /// admitted to a configured group, by the group's traffic window. Latency runs to the response head (the
    /// first chunk for streams). `fields`: the body when the caller already has it (the Messages API's,
    /// translated); `wire`: the answer's API.
    func handle(_ request: Request, _ context: InferRequestContext, endpoint: Endpoint, fields: RequestFields? = nil,
                wire: AnswerWire = .openAI) async throws -> Response {
        let start = Date().timeIntervalSince1970
        var group: String?
        do {
            let response = try await stages(request, context, endpoint: endpoint, fields: fields, wire: wire,
                                            start: start, group: &group)
            await observe(group: group, failed: response.status.code >= 500, start: start)
            return response
        } catch {
            await observe(group: group, failed: (error as? OpenAIError).map { $0.status.code >= 500 } ?? true, start: start)
            throw error
        }
    }

    func observe(group: String?, failed: Bool, start: Double) async {
        let latency = Date().timeIntervalSince1970 - start
        await gateway.alerts?.request(failed: failed, latency: latency)
        if let group { gateway.traffic.record(group: group, latency: latency, failed: failed) }
    }

    /// `group` is set once the request is admitted to an existing model group.
    private func stages(_ request: Request, _ context: InferRequestContext, endpoint: Endpoint, fields: RequestFields?,
                        wire: AnswerWire, start: Double, group: inout String?) async throws -> Response {
        let body: RequestFields
        if let fields { body = fields } else { body = try await server.readFields(request) }
        let parsed = try parse(body, endpoint: endpoint, sessionHeader: request.headers[Self.sessionIDHeader])
        let admission = try await admit(parsed, context.caller)
        group = parsed.model
        let lookup = try await lookUp(parsed, admission, cacheControl: request.headers[.cacheControl])
        if let lookup, let cached = lookup.response {
            return await replay(cached, lookup, parsed, admission, wire: wire, start: start, logger: context.logger)
        }
        let routed = try await route(parsed, admission, channel: context.channel, logger: context.logger)
        return await respond(routed, parsed, admission, lookup: lookup, wire: wire, start: start, logger: context.logger)
    }

    /// The sticky-session header.
    static let sessionIDHeader = HTTPField.Name("x-session-id")!

    // MARK: Stages

    /// 1. The body as a `GatewayRequest`; the server-wide generation limits.
    func parse(_ fields: RequestFields, endpoint: Endpoint, sessionHeader: String?) throws -> GatewayRequest {
        try server.settings.limits.check(fields)
        var parsed = try GatewayRequest(fields, endpoint: endpoint, defaultModel: gateway.defaultModel,
                                        sessionHeader: sessionHeader)
        // A LoRA adapter of the local model (not a group or cascade of its own) runs on the base's group.
        if gateway.router.groups[parsed.model] == nil, gateway.cascades.cascades[parsed.model] == nil,
           let local = server.local, local.loras.adapter(named: parsed.model) != nil {
            parsed.adapter = parsed.model
            parsed.routeGroup = server.settings.servedModelName
        }
        return parsed
    }

    /// 2. May this caller send this request now?
    func admit(_ r: GatewayRequest, _ caller: Caller) async throws -> Admission {
        try authorize(model: r.model, caller: caller)
        // A request may not name a fallback its key may not use (the router also skips forbidden groups of
        // the config's fallback lists for this caller).
        if let forbidden = r.fallbacks?.first(where: { !caller.mayUse(model: $0) }) {
            throw OpenAIError.modelNotAllowed(forbidden, param: "fallbacks")
        }
        var key: VirtualKeyConfig?
        if case .key(let k) = caller {
            key = k
            try await gateway.checkBudget(caller)
            if let wait = await gateway.limiter.admit(k) {
                let seconds = CheckedConversion.wholeSeconds(wait)
                throw OpenAIError(status: .tooManyRequests,
                                  message: "Rate limit reached for this API key (rpm/tpm); retry in \(seconds) s.",
                                  type: "rate_limit_error", code: "rate_limit_exceeded",
                                  headers: [.retryAfter: String(seconds)])
            }
        }
        let deadline = ContinuousClock.now + .seconds(server.settings.limits.requestDeadline)
        return Admission(caller: caller, tenant: server.tenant(of: caller), key: key, deadline: deadline)
    }

    /// The model group exists (a router group or a cascade) and the caller may use it: 404 / 403.
    func authorize(model: String, caller: Caller) throws {
        // A group, a cascade, or a LoRA adapter of the local model (it runs on the base's group).
        guard gateway.router.groups[model] != nil || gateway.cascades.cascades[model] != nil
            || server.local?.loras.adapter(named: model) != nil else {
            throw OpenAIError.modelNotFound(model)
        }
        guard caller.mayUse(model: model) else { throw OpenAIError.modelNotAllowed(model) }
    }

    /// 3. The response caches (nil: none configured).
    func lookUp(_ r: GatewayRequest, _ a: Admission, cacheControl: String?) async throws -> CacheLookup? {
        guard let cache = gateway.cache else { return nil }
        do {
            let lookup = try await cache.lookup(kind: r.cacheKind, body: r.fields.object, cacheControlHeader: cacheControl,
                                                tenant: a.tenant, namespace: a.caller.cacheNamespace)
            switch lookup.outcome {
            case .hit, .semanticHit: await gateway.alerts?.cacheLookup(hit: true)
            case .miss: await gateway.alerts?.cacheLookup(hit: false)
            case .bypass, .disabled: break
            }
            return lookup
        } catch {
            throw OpenAIError.badParameter(error.field, error.message)
        }
    }

    /// 3b. A cache hit, as JSON or replayed as SSE.
    private func replay(_ cached: JSONValue, _ lookup: CacheLookup, _ r: GatewayRequest, _ a: Admission,
                        wire: AnswerWire, start: Double, logger: Logger) async -> Response {
        let cost = await gateway.recordHit(r, caller: a.caller, lookup: lookup, start: start, logger: logger).cost
        let headers = Self.fields(lookup.headers + [(Self.costHeader, cost.description)])
        guard r.stream else { return server.json(wire.json(cached), headers: headers) }
        let chunks = CacheReplay.streamChunks(from: cached, includeUsage: r.includeUsage)
        return server.events(AsyncThrowingStream { c in
            for chunk in chunks { c.yield(chunk) }
            c.finish()
        }, headers: headers, encoding: wire.encoding, logger: logger)
    }

    /// 4. The router, under the request's deadline (a stream's rest is cut off at the same instant in
    /// `respond`). Nothing is written until the answer is complete (or, for a stream, until its first event):
    /// if the client hangs up meanwhile (a response being generated, a stream still queued or in prefill),
    /// the work is cancelled instead of running for nobody. After that, streams notice a dead client on their
    /// next write (SSEResponse, --write-timeout).
    ///
    /// `channel`: the client's connection (nil: no client waits, a Batch API request).
    func route(_ r: GatewayRequest, _ a: Admission, channel: (any Channel)?, logger: Logger) async throws -> RoutedResult {
        let router = gateway.router, seconds = server.settings.limits.requestDeadline
        let call = r.providerRequest(tenant: a.tenant, maxResponseBytes: server.settings.maxResponseBytes)
        let cascades = gateway.cascades, cascade = gateway.cascades.cascades[r.model], vision = gateway.vision
        let gateway = gateway, start = Date().timeIntervalSince1970
        let route: @Sendable () async throws -> RoutedResult = {
            try await RequestDeadline.run(until: a.deadline, seconds: seconds) {
                var call = call, visionHeader: String?
                if let vision {
                    do {
                        if let rewritten = try await vision.rewrite(group: r.routeGroup, request: call, router: router, caller: a.caller) {
                            call = rewritten.request
                            visionHeader = rewritten.header
                            for answer in rewritten.descriptions {
                                await gateway.recordDescription(answer, caller: a.caller, key: a.key, start: start, logger: logger)
                            }
                        }
                    } catch let error as ProviderError {
                        throw OpenAIError(error)
                    }
                }
                var routed: RoutedResult
                if let cascade {
                    routed = try await cascades.route(cascade, request: call, caller: a.caller)
                } else {
                    routed = try await router.route(modelGroup: r.routeGroup, request: call, requestFallbacks: r.fallbacks,
                                                    disableFallbacks: r.disableFallbacks, caller: a.caller)
                }
                routed.visionFallback = visionHeader
                return r.adapter == nil ? routed : routed.reportingModel(r.model)
            }
        }
        do {
            guard let channel else { return try await route() }
            return try await ClientDisconnect.cancellingOnClose(channel) { try await route() }
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
    }

    /// 5. The answer; priced, stored in the cache and charged to the key (streams: once they complete
    /// normally, or with what they delivered when they end early; a stream's cost is not known when its
    /// headers go out, so only JSON answers carry `x-litellm-response-cost`, and a stream's cost is in the
    /// log, the spend log and the key's spend).
    private func respond(_ routed: RoutedResult, _ r: GatewayRequest, _ a: Admission, lookup: CacheLookup?,
                         wire: AnswerWire, start: Double, logger: Logger) async -> Response {
        let cache = gateway.cache, route = self
        switch routed.result {
        case .response(let json):
            let pairs = await settle(json, routed, r, a, lookup: lookup, start: start, logger: logger)
            return server.json(wire.json(json), headers: Self.fields(pairs))
        case .stream(let routedChunks):
            let headers = Self.fields((lookup?.headers ?? []) + routed.headers)
            let seconds = server.settings.limits.requestDeadline
            let tap = StreamUsageTap()
            let chunks = tap.tap(RequestDeadline.stream(routedChunks, until: a.deadline, seconds: seconds),
                                 includeUsage: r.includeUsage)
            let store: @Sendable ([JSONValue]) async -> Void = { sent in
                let usage = tap.usage
                var assembled = CacheReplay.assemble(chunks: sent)
                if let usage, assembled != nil, assembled?["usage"] == nil {
                    assembled = assembled?.settingField("usage", usage)
                }
                if let cache, let lookup, let assembled { await cache.store(lookup, response: assembled) }
                _ = await route.account(usage: usage, id: sent.first?["id"]?.stringField, routed, r, a, start: start,
                                        logger: logger)
            }
            // A stream that ends early (client gone, upstream failure) is charged what it delivered.
            let tokenizer = server.local?.tokenizer, body = r.fields.object
            let chargePartial: @Sendable ([JSONValue]) async -> Void = { sent in
                let usage = tap.usage ?? StreamUsageEstimate.usage(body: body, sent: sent, tokenizer: tokenizer)
                logger.warning("stream ended early: charging \(tap.usage == nil ? "estimated" : "reported") usage \(usage.serialized())")
                _ = await route.account(usage: usage, id: sent.first?["id"]?.stringField, routed, r, a, start: start,
                                        logger: logger)
            }
            return server.events(chunks, headers: headers, encoding: wire.encoding, logger: logger, onComplete: store,
                                 onIncomplete: chargePartial)
        }
    }

    /// A complete JSON answer: stored in the cache, charged to the key's tpm, priced and logged. Returns the
    /// response headers (cache, router, cost).
    func settle(_ json: JSONValue, _ routed: RoutedResult, _ r: GatewayRequest, _ a: Admission, lookup: CacheLookup?,
                start: Double, logger: Logger) async -> [(String, String)] {
        if let cache = gateway.cache, let lookup { await cache.store(lookup, response: json) }
        let priced = await account(usage: json["usage"], id: json["id"]?.stringField, routed, r, a, start: start,
                                   logger: logger)
        var pairs = (lookup?.headers ?? []) + routed.headers + [(Self.costHeader, priced.cost.description)]
        if routed.cascadeTier != nil {
            pairs.append((Self.cascadeSavedHeader, (priced.saved[.cascadeLowerTier] ?? .zero).description))
        }
        return pairs
    }

    /// Charges an answer's tokens to the key's tpm and prices and records it: the one place for JSON answers
    /// and streams, complete or cut short.
    func account(usage: JSONValue?, id: String?, _ routed: RoutedResult, _ r: GatewayRequest, _ a: Admission,
                 start: Double, logger: Logger) async -> CostAttribution {
        if let key = a.key, case .int(let tokens)? = usage?["total_tokens"] {
            await gateway.limiter.charge(key, tokens: tokens)
        }
        return await gateway.recordAnswer(r, caller: a.caller, routed: routed, id: id, usage: usage, start: start,
                                          logger: logger)
    }

    /// LiteLLM's response header with the request's price in USD.
    static let costHeader = "x-litellm-response-cost"
    /// A cascade's JSON answer: USD saved against the top tier's price of the same usage (0 when the top tier
    /// answered or is unpriced).
    static let cascadeSavedHeader = "x-cascade-saved"

    static func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        return fields
    }
}
