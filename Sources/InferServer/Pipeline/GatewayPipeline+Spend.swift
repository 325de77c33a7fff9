import Foundation
import Gateway
import Logging
import OpenAIRequest

/// Pricing and recording of answered requests: the one place that turns an answer into a `SpendRecord`
/// (the ledger's totals, the spend log, one info log line per request).
extension GatewayPipeline {
    /// Prices and records a cache hit on `r` (it costs 0; the stored usage is what it saved).
    func recordHit(_ r: GatewayRequest, caller: Caller, lookup: CacheLookup, start: Double, logger: Logger) async
        -> CostAttribution {
        var layer = "exact"
        if case .semanticHit = lookup.outcome { layer = "semantic" }
        let usage = TokenUsage(lookup.storedUsage)
        let attribution = prices.cacheHit(group: r.model, semantic: layer == "semantic", usage: usage)
        await record(SpendRecord(
            requestID: lookup.response?["id"]?.stringField ?? Self.requestID(), callType: Self.callType(r),
            apiKey: caller.spendID, keyAlias: caller.keyAlias, modelGroup: r.model, deploymentID: nil, apiBase: nil,
            usage: TokenUsage(promptTokens: 0, completionTokens: 0), attribution: attribution, cacheHit: layer,
            cacheKey: lookup.key, startTime: start, endTime: Date().timeIntervalSince1970), caller: caller, logger: logger)
        return attribution
    }

    /// Refuses a virtual key whose spend has reached its `max_budget`: LiteLLM's `BudgetExceededError` as its
    /// proxy renders it (status 422 since v1.7x, 400 / 429 before).
    func checkBudget(_ caller: Caller) async throws {
        guard case .key(let key) = caller, let over = await spend.check(key) else { return }
        throw OpenAIError(status: .unprocessableContent, message: over.message, type: "budget_exceeded",
                          param: nil, code: "422")
    }

    /// Prices and records `/v1/embeddings` on group `group` that encoded `promptTokens` tokens (cache hits
    /// are free).
    func recordEmbedding(group: String, caller: Caller, promptTokens: Int, start: Double, logger: Logger) async
        -> CostAttribution {
        let usage = TokenUsage(promptTokens: promptTokens, completionTokens: 0)
        let deployment = router.groups[group]?.first
        let attribution = deployment.map { prices.answered(group: group, deploymentID: $0.id, usage: usage) }
            ?? CostAttribution(cost: .zero)
        await record(SpendRecord(
            requestID: Self.requestID(), callType: "aembedding", apiKey: caller.spendID, keyAlias: caller.keyAlias,
            modelGroup: group, deploymentID: deployment?.id, apiBase: nil, usage: usage, attribution: attribution,
            cacheHit: nil, cacheKey: nil, startTime: start, endTime: Date().timeIntervalSince1970), caller: caller,
            logger: logger)
        return attribution
    }

    /// Prices and records an answer of `routed` whose `usage` the deployment reported (nil: unknown, priced 0).
    func recordAnswer(_ r: GatewayRequest, caller: Caller, routed: RoutedResult, id: String?, usage: JSONValue?,
                      start: Double, logger: Logger) async -> CostAttribution {
        let tokens = TokenUsage(usage) ?? TokenUsage(promptTokens: 0, completionTokens: 0)
        let attribution = prices.answered(group: r.model, deploymentID: routed.deploymentID, usage: tokens)
        if usage == nil { logger.warning("no usage reported by deployment \(routed.deploymentID): priced at 0") }
        await record(SpendRecord(
            requestID: id ?? Self.requestID(), callType: Self.callType(r), apiKey: caller.spendID,
            keyAlias: caller.keyAlias, modelGroup: r.model, deploymentID: routed.deploymentID,
            apiBase: routed.apiBase, usage: tokens, attribution: attribution, cacheHit: nil, cacheKey: nil,
            startTime: start, endTime: Date().timeIntervalSince1970), caller: caller, logger: logger)
        return attribution
    }

    /// Prices and records one answer of the vision fallback's group (an image description): charged to the
    /// caller's key (spend and tpm) under the vision group, like a request of its own.
    func recordDescription(_ d: VisionFallback.Description, caller: Caller, key: VirtualKeyConfig?, start: Double,
                           logger: Logger) async {
        let tokens = TokenUsage(d.usage) ?? TokenUsage(promptTokens: 0, completionTokens: 0)
        if let key, tokens.totalTokens > 0 { await limiter.charge(key, tokens: tokens.totalTokens) }
        let attribution = prices.answered(group: d.group, deploymentID: d.deploymentID, usage: tokens)
        await record(SpendRecord(
            requestID: d.id ?? Self.requestID(), callType: "acompletion", apiKey: caller.spendID,
            keyAlias: caller.keyAlias, modelGroup: d.group, deploymentID: d.deploymentID, apiBase: d.apiBase,
            usage: tokens, attribution: attribution, cacheHit: nil, cacheKey: nil, startTime: start,
            endTime: Date().timeIntervalSince1970), caller: caller, logger: logger)
    }

    private func record(_ record: SpendRecord, caller: Caller, logger: Logger) async {
        await ledger.record(record)
        await spend.log(record)
        await alerts?.cost(record.attribution.cost)
        if case .key(let key) = caller, record.attribution.cost > .zero {
            await spend.charge(key, record.attribution.cost)
        }
        let saved = record.attribution.saved.values.reduce(USDAmount.zero, +)
        logger.info("spend", metadata: [
            "request_id": .string(record.requestID), "model": .string(record.modelGroup),
            "model_id": .string(record.deploymentID ?? "-"), "cache": .string(record.cacheHit ?? "miss"),
            "prompt_tokens": .stringConvertible(record.usage.promptTokens),
            "cached_tokens": .stringConvertible(record.usage.cachedTokens),
            "completion_tokens": .stringConvertible(record.usage.completionTokens),
            "cost_usd": .string(record.attribution.cost.description), "saved_usd": .string(saved.description),
        ])
    }

    static func callType(_ r: GatewayRequest) -> String { r.endpoint == .chat ? "acompletion" : "atext_completion" }

    static func requestID() -> String { "req-" + UUID().uuidString.lowercased() }
}
