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
    /// The deployments' `model_info` prices: what an answer costs and what each layer saved.
    let prices: PriceBook
    /// Cost and savings per key and group, and the recent spend records.
    let ledger: CostLedger
    /// Per-key rpm / tpm limits.
    let limiter: RateLimiter
    /// `router_settings.cascades`.
    let cascades: CascadeRouter
    /// Per-key spend against `max_budget` (in Redis when configured).
    let spend: SpendTracker
    /// The alert rules (nil: `general_settings.alerting` is empty).
    var alerts: AlertMonitor?
    /// Requests, failures and latency per model group over the last minute (the dashboard's).
    let traffic = TrafficMonitor()
    /// Images for text-only groups described by a vision group (nil: no group has a vision fallback).
    var vision: VisionFallback?

    init(router: ProviderRouter, cache: CacheLayer?, defaultModel: String?,
         limiter: RateLimiter = RateLimiter(store: InMemoryRateLimitStore()),
         spend: SpendTracker = SpendTracker(store: InMemorySpendStore())) {
        self.spend = spend
        self.router = router
        self.cache = cache
        self.defaultModel = defaultModel
        self.limiter = limiter
        prices = PriceBook(router: router, isLocal: { $0.provider is LocalProvider })
        ledger = CostLedger()
        cascades = CascadeRouter(router: router)
    }
}

extension GatewayPipeline {
    /// The no-config quick path (`infer serve --model PATH`): one group named after the served model with the
    /// local engine as its only deployment, no retries (a local failure is final), no response cache. A server
    /// without a local engine gets an empty router (every model is 404).
    static func quickPath(_ server: OpenAIServer, logger: Logger) -> GatewayPipeline {
        let name = server.settings.servedModelName
        var settings = RouterSettings()
        settings.numRetries = 0
        let deployments = server.local.map { local in
            [Deployment(id: "local", group: name, provider: LocalProvider(server: server, local: local, logger: logger),
                        upstreamModel: name)]
        } ?? []
        return GatewayPipeline(router: ProviderRouter(deployments: deployments, settings: settings, logger: logger),
                               cache: nil, defaultModel: name)
    }
}
