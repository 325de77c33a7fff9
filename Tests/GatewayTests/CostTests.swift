import Gateway
import Testing

/// Money, prices and per-layer savings. Expected amounts were computed with Python's `decimal` module
/// (exact decimal arithmetic), e.g. `400*D('1e-6') + 600*D('1e-7') + 50*D('2e-6') == D('0.00056')`.
@Suite struct CostTests {
    @Test func pricesFromConfigAreExactPicoDollars() throws {
        let price = try #require(USDAmount(dollars: 1.5e-7))
        #expect(price.pico == 150_000 && price.description == "0.00000015")
        #expect(USDAmount(dollars: 2.5)?.description == "2.5" && USDAmount(dollars: 0)?.description == "0")
        #expect(USDAmount(dollars: 1e-12)?.pico == 1)
        // A million tokens at 1.5e-7 USD are exactly 0.15 USD (Double addition gives 0.15000000000209981).
        var total = USDAmount.zero
        for _ in 0..<1_000_000 { total += price }
        #expect(total.description == "0.15" && total == price.times(1_000_000))
    }

    @Test(arguments: [-1e-9, Double.nan, Double.infinity, -Double.infinity, 1e6 + 1])
    func outOfRangeDollarAmountsAreRefused(dollars: Double) {
        #expect(USDAmount(dollars: dollars) == nil)
    }

    @Test func arithmeticSaturatesInsteadOfTrapping() {
        let max = USDAmount(pico: .max)
        #expect(max + USDAmount(pico: 1) == max)
        #expect(USDAmount(pico: 2).times(Int.max) == max)
        #expect(USDAmount(pico: 2).times(-5) == .zero)
        #expect(USDAmount.savings(USDAmount(pico: 3), over: USDAmount(pico: 5)) == .zero)
        #expect(USDAmount.savings(USDAmount(pico: 5), over: USDAmount(pico: 3)).pico == 2)
    }

    @Test func cachedPromptTokensAreChargedAtTheCacheReadPrice() throws {
        let info = ModelInfo(inputCostPerToken: 1e-6, outputCostPerToken: 2e-6, cacheReadInputTokenCost: 1e-7)
        let prices = try #require(TokenPrices(info))
        let usage = TokenUsage(promptTokens: 1000, cachedTokens: 600, completionTokens: 50)
        #expect(prices.cost(usage).description == "0.00056")
        #expect(prices.uncachedCost(usage).description == "0.0011")
        // Without cache_read_input_token_cost, LiteLLM charges cached tokens at the input price.
        let plain = try #require(TokenPrices(ModelInfo(inputCostPerToken: 1e-6, outputCostPerToken: 2e-6)))
        #expect(plain.cost(usage).description == "0.0011")
        #expect(TokenPrices(ModelInfo(id: "free")) == nil)
    }

    @Test func usageFromUpstreamIsBounded() throws {
        let json: JSONValue = ["prompt_tokens": 10, "completion_tokens": -4,
                               "prompt_tokens_details": ["cached_tokens": 99]]
        let usage = try #require(TokenUsage(json))
        #expect(usage == TokenUsage(promptTokens: 10, cachedTokens: 10, completionTokens: 0))
        #expect(TokenUsage(["prompt_tokens": "many"])?.promptTokens == 0)
        #expect(TokenUsage(.null) == nil && TokenUsage(nil) == nil)
        #expect(TokenUsage(promptTokens: .max, completionTokens: 1).totalTokens == .max)
    }

    @Test func layersAddUpWithoutCountingATokenTwice() throws {
        let local = try #require(TokenPrices(ModelInfo(inputCostPerToken: 1e-8, outputCostPerToken: 1e-8,
                                                       cacheReadInputTokenCost: 0)))
        let remote = try #require(TokenPrices(ModelInfo(inputCostPerToken: 1e-6, outputCostPerToken: 2e-6)))
        let usage = TokenUsage(promptTokens: 1000, cachedTokens: 600, completionTokens: 50)
        let a = CostAttribution.answered(usage: usage, served: local, local: true, reference: remote)
        #expect(a.cost.description == "0.0000045")
        #expect(a.saved[.prefixCache]?.description == "0.000006")
        #expect(a.saved[.localInsteadOfFallback]?.description == "0.0010895")
        #expect((a.cost + a.saved[.prefixCache]! + a.saved[.localInsteadOfFallback]!) == remote.uncachedCost(usage))
        // A remote answer saves nothing by being local; an unpriced one costs 0.
        let r = CostAttribution.answered(usage: usage, served: remote, local: false, reference: remote)
        #expect(r.cost.description == "0.0011" && r.saved.isEmpty)
        #expect(CostAttribution.answered(usage: usage, served: nil, local: false, reference: nil) == CostAttribution(cost: .zero))
    }

    @Test func aCascadeLowerTierSavesTheTopTiersPrice() throws {
        let small = try #require(TokenPrices(ModelInfo(inputCostPerToken: 1e-7, outputCostPerToken: 2e-7)))
        let top = try #require(TokenPrices(ModelInfo(inputCostPerToken: 3e-6, outputCostPerToken: 1.5e-5)))
        let usage = TokenUsage(promptTokens: 1000, completionTokens: 100)
        // 1000 x 3e-6 + 100 x 1.5e-5 = 0.0045 at the top tier; 1000 x 1e-7 + 100 x 2e-7 = 0.00012 here.
        let a = CostAttribution.answered(usage: usage, served: small, local: false, reference: nil, cascadeTop: top)
        #expect(a.cost.description == "0.00012")
        #expect(a.saved == [.cascadeLowerTier: USDAmount(dollars: 0.00438)!])
        // A free local tier saves the whole top-tier price, and the cascade layer replaces the fallback layer.
        let l = CostAttribution.answered(usage: usage, served: nil, local: true, reference: small, cascadeTop: top)
        #expect(l.cost == .zero && l.saved == [.cascadeLowerTier: USDAmount(dollars: 0.0045)!])
    }

    @Test func aCacheHitCostsNothingAndSavesTheStoredUsage() throws {
        let prices = try #require(TokenPrices(ModelInfo(inputCostPerToken: 1e-6, outputCostPerToken: 2e-6)))
        let usage = TokenUsage(promptTokens: 100, completionTokens: 20)
        let hit = CostAttribution.cacheHit(semantic: true, usage: usage, prices: prices)
        #expect(hit.cost == .zero && hit.saved == [.semanticHit: USDAmount(dollars: 0.00014)!])
        #expect(CostAttribution.cacheHit(semantic: false, usage: usage, prices: nil).saved.isEmpty)
    }

    @Test func priceBookFindsTheFallbackALocalDeploymentStandsIn() throws {
        func d(_ id: String, _ group: String, _ info: ModelInfo) -> Deployment {
            Deployment(id: id, group: group, provider: OpenAICompatibleProvider(apiBase: "http://127.0.0.1:9/v1", apiKey: nil),
                       upstreamModel: id, modelInfo: info)
        }
        var settings = RouterSettings()
        settings.fallbacks = ["small": ["big"]]
        settings.defaultFallbacks = ["other"]
        let router = ProviderRouter(deployments: [
            d("local-1", "small", ModelInfo(inputCostPerToken: 0, outputCostPerToken: 0)),
            d("big-free", "big", ModelInfo()),
            d("big-1", "big", ModelInfo(inputCostPerToken: 3e-6, outputCostPerToken: 1.5e-5)),
            d("other-1", "other", ModelInfo(inputCostPerToken: 1e-6, outputCostPerToken: 1e-6)),
            d("local-2", "solo", ModelInfo()),
        ], settings: settings)
        let book = PriceBook(router: router, isLocal: { $0.id.hasPrefix("local") })
        #expect(book.localDeployments == ["local-1", "local-2"])
        #expect(book.fallbackPrices["small"]?.input == USDAmount(dollars: 3e-6))   // fallbacks before default
        #expect(book.fallbackPrices["solo"]?.input == USDAmount(dollars: 1e-6))    // default_fallbacks
        #expect(book.hitPrices["small"]?.input == .zero && book.hitPrices["big"]?.output == USDAmount(dollars: 1.5e-5))
        let usage = TokenUsage(promptTokens: 10, completionTokens: 10)
        // 10 * 3e-6 + 10 * 1.5e-5 = 0.00018 saved by answering locally for free.
        let a = book.answered(group: "small", deploymentID: "local-1", usage: usage)
        #expect(a.cost == .zero && a.saved == [.localInsteadOfFallback: USDAmount(dollars: 0.00018)!])
        #expect(book.answered(group: "big", deploymentID: "big-1", usage: usage).cost.description == "0.00018")
    }
}
