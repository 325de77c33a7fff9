/// A deployment's per-token prices from its `model_info` (LiteLLM's `input_cost_per_token`,
/// `cache_read_input_token_cost`, `output_cost_per_token`), exact in pico-dollars.
public struct TokenPrices: Sendable, Equatable {
    public var input: USDAmount
    /// The price of a prompt token served from a prompt cache; LiteLLM charges `input` when unset.
    public var cachedInput: USDAmount
    public var output: USDAmount

    public init(input: USDAmount, cachedInput: USDAmount? = nil, output: USDAmount) {
        self.input = input
        self.cachedInput = cachedInput ?? input
        self.output = output
    }

    /// The prices of `info`; nil when it names neither an input nor an output price (the deployment is
    /// unpriced: its answers cost 0 and it is no reference for savings).
    public init?(_ info: ModelInfo) {
        guard info.inputCostPerToken != nil || info.outputCostPerToken != nil else { return nil }
        // The config parser bounds every price (ConfigError otherwise), so these conversions succeed.
        let input = info.inputCostPerToken.flatMap(USDAmount.init(dollars:)) ?? .zero
        self.init(input: input, cachedInput: info.cacheReadInputTokenCost.flatMap(USDAmount.init(dollars:)),
                  output: info.outputCostPerToken.flatMap(USDAmount.init(dollars:)) ?? .zero)
    }

    /// What `usage` costs here: uncached prompt tokens at `input`, cached ones at `cachedInput`, completion
    /// tokens at `output` (LiteLLM's `cost_per_token` for OpenAI-style usage).
    public func cost(_ usage: TokenUsage) -> USDAmount {
        input.times(usage.promptTokens - usage.cachedTokens) + cachedInput.times(usage.cachedTokens)
            + output.times(usage.completionTokens)
    }

    /// What `usage` would cost here with no prompt cache (every prompt token at `input`).
    public func uncachedCost(_ usage: TokenUsage) -> USDAmount {
        input.times(usage.promptTokens) + output.times(usage.completionTokens)
    }
}

/// The token counts of an OpenAI `usage` object, bounded: negative or non-integer counts read as 0 and
/// `cached_tokens` never exceeds `prompt_tokens` (the values come from upstreams).
public struct TokenUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var cachedTokens: Int
    public var completionTokens: Int

    public init(promptTokens: Int, cachedTokens: Int = 0, completionTokens: Int) {
        self.promptTokens = max(0, promptTokens)
        self.cachedTokens = min(max(0, cachedTokens), self.promptTokens)
        self.completionTokens = max(0, completionTokens)
    }

    /// The counts of `usage` (`prompt_tokens`, `prompt_tokens_details.cached_tokens`, `completion_tokens`);
    /// nil when `usage` is not an object.
    public init?(_ usage: JSONValue?) {
        guard let usage, case .object = usage else { return nil }
        func count(_ v: JSONValue?) -> Int { if case .int(let i)? = v { i } else { 0 } }
        self.init(promptTokens: count(usage["prompt_tokens"]),
                  cachedTokens: count(usage["prompt_tokens_details"]?["cached_tokens"]),
                  completionTokens: count(usage["completion_tokens"]))
    }

    public var totalTokens: Int { promptTokens.addingReportingOverflow(completionTokens).overflow
        ? .max : promptTokens + completionTokens }
}
