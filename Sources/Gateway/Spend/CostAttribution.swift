/// The layers of the gateway that save money, as labels of `infer_cost_saved_usd_total{layer=...}`.
public enum SavingsLayer: String, Sendable, CaseIterable {
    /// An exact response-cache hit: the stored answer's usage at the group's prices.
    case exactHit = "exact_hit"
    /// A semantic response-cache hit, priced the same way.
    case semanticHit = "semantic_hit"
    /// Prompt tokens served from a prefix cache: `cached_tokens x (input - cache_read_input_token_cost)`.
    case prefixCache = "prefix_cache"
    /// The local engine answered where the group's priced fallback would have: that fallback's price of the
    /// usage (no prompt cache) minus the local deployment's (no prompt cache).
    case localInsteadOfFallback = "local_instead_of_fallback"
    /// A cascade's lower tier answered: the top tier's price of the usage (no prompt cache) minus the
    /// answering deployment's (no prompt cache).
    case cascadeLowerTier = "cascade_lower_tier"
}

/// What one answered request cost and saved.
public struct CostAttribution: Sendable, Equatable {
    /// The price of the request (`x-litellm-response-cost`).
    public var cost: USDAmount
    /// The savings per layer (layers that saved nothing are absent).
    public var saved: [SavingsLayer: USDAmount]

    public init(cost: USDAmount, saved: [SavingsLayer: USDAmount] = [:]) {
        self.cost = cost
        self.saved = saved.filter { $0.value > .zero }
    }

    /// A cache hit: it costs nothing and saves the stored answer's `usage` at the group's `prices`.
    public static func cacheHit(semantic: Bool, usage: TokenUsage?, prices: TokenPrices?) -> CostAttribution {
        guard let usage, let prices else { return CostAttribution(cost: .zero) }
        return CostAttribution(cost: .zero, saved: [semantic ? .semanticHit : .exactHit: prices.uncachedCost(usage)])
    }

    /// An answer of a deployment priced at `served` (nil: free) with `usage`. `reference` is the priced
    /// remote deployment the local engine stood in for, when `local` (nil: none).
    ///
    /// NOTE: the layers add up without counting a token twice: prefix = served without prompt cache - served;
    /// local = reference without prompt cache - served without prompt cache; so prefix + local = reference
    /// without prompt cache - what was charged.
    /// `cascadeTop`: for an answer of a cascade's lower tier, the top tier's prices (nil otherwise); its
    /// layer is counted like `local` (top tier without prompt cache - served without prompt cache), and a
    /// cascade has no fallback reference, so the two never both apply.
    public static func answered(usage: TokenUsage, served: TokenPrices?, local: Bool,
                                reference: TokenPrices?, cascadeTop: TokenPrices? = nil) -> CostAttribution {
        let cost = served?.cost(usage) ?? .zero
        let full = served?.uncachedCost(usage) ?? .zero
        var saved: [SavingsLayer: USDAmount] = [.prefixCache: USDAmount.savings(full, over: cost)]
        if let cascadeTop {
            saved[.cascadeLowerTier] = USDAmount.savings(cascadeTop.uncachedCost(usage), over: full)
        } else if local, let reference {
            saved[.localInsteadOfFallback] = USDAmount.savings(reference.uncachedCost(usage), over: full)
        }
        return CostAttribution(cost: cost, saved: saved)
    }
}
