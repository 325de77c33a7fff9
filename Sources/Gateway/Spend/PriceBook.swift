/// Which prices apply to what: every deployment's `model_info` prices, the prices a cache hit on a group is
/// valued at, and the priced remote deployment a group's local engine stands in for.
public struct PriceBook: Sendable {
    /// Deployment id -> prices (unpriced deployments absent).
    public let deployments: [String: TokenPrices]
    /// Deployment ids of the local engine.
    public let localDeployments: Set<String>
    /// Group -> the prices of its first priced deployment (what a cache hit on it is worth).
    public let hitPrices: [String: TokenPrices]
    /// Group -> the first priced remote deployment among its own deployments, then its fallback groups
    /// (`fallbacks[group]`, `fallbacks["*"]`, `default_fallbacks`), in order.
    public let fallbackPrices: [String: TokenPrices]
    /// Cascade name -> (its top tier, that tier's prices): what a lower tier's answer is compared with.
    public let cascadeTops: [String: (group: String, prices: TokenPrices)]
    /// Deployment id -> its group.
    let deploymentGroups: [String: String]

    /// - Parameter isLocal: whether a deployment is the in-process engine.
    public init(router: ProviderRouter, isLocal: (Deployment) -> Bool) {
        var deployments: [String: TokenPrices] = [:], local = Set<String>()
        var hit: [String: TokenPrices] = [:], remote: [String: TokenPrices] = [:]
        var groupOf: [String: String] = [:]
        for group in router.groupNames {
            for d in router.groups[group] ?? [] {
                groupOf[d.id] = group
                let prices = TokenPrices(d.modelInfo)
                if let prices { deployments[d.id] = prices }
                if isLocal(d) {
                    local.insert(d.id)
                } else if let prices, remote[group] == nil {
                    remote[group] = prices
                }
                if let prices, hit[group] == nil { hit[group] = prices }
            }
        }
        let s = router.settings
        var fallback: [String: TokenPrices] = [:]
        for group in router.groupNames {
            let chain = [group] + (s.fallbacks[group] ?? []) + (s.fallbacks["*"] ?? []) + s.defaultFallbacks
            if let first = chain.lazy.compactMap({ remote[$0] }).first { fallback[group] = first }
        }
        var tops: [String: (group: String, prices: TokenPrices)] = [:]
        for cascade in s.cascades {
            if let top = cascade.tiers.last, let prices = hit[top] { tops[cascade.name] = (top, prices) }
        }
        cascadeTops = tops
        deploymentGroups = groupOf
        self.deployments = deployments
        localDeployments = local
        hitPrices = hit
        fallbackPrices = fallback
    }

    /// The cost and savings of an answer from deployment `deploymentID`, requested as group `group` (a model
    /// group or a cascade's name).
    public func answered(group: String, deploymentID: String, usage: TokenUsage) -> CostAttribution {
        var top: TokenPrices?
        if let t = cascadeTops[group], deploymentGroups[deploymentID] != t.group { top = t.prices }
        return CostAttribution.answered(usage: usage, served: deployments[deploymentID],
                                        local: localDeployments.contains(deploymentID), reference: fallbackPrices[group],
                                        cascadeTop: top)
    }

    /// The savings of a cache hit on `group` whose stored answer had `usage`.
    public func cacheHit(group: String, semantic: Bool, usage: TokenUsage?) -> CostAttribution {
        CostAttribution.cacheHit(semantic: semantic, usage: usage, prices: hitPrices[group])
    }
}
