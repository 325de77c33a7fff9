import Gateway

/// Cost the caches saved, per model group: a hit's stored usage at the group's first priced deployment.
actor CostSavings {
    private var saved: [String: Double] = [:]
    private let prices: [String: ModelInfo]

    init(router: ProviderRouter) {
        var prices: [String: ModelInfo] = [:]
        for group in router.groupNames {
            if let priced = router.groups[group]?.first(where: {
                $0.modelInfo.inputCostPerToken != nil || $0.modelInfo.outputCostPerToken != nil
            }) {
                prices[group] = priced.modelInfo
            }
        }
        self.prices = prices
    }

    /// Records a cache hit on `group` whose stored answer had `usage`.
    func recordHit(group: String, usage: JSONValue?) {
        guard let info = prices[group], let usage else { return }
        func int(_ v: JSONValue?) -> Double { if case .int(let i)? = v { Double(i) } else { 0 } }
        saved[group, default: 0] += int(usage["prompt_tokens"]) * (info.inputCostPerToken ?? 0)
            + int(usage["completion_tokens"]) * (info.outputCostPerToken ?? 0)
    }

    func snapshot() -> [String: Double] { saved }
}
