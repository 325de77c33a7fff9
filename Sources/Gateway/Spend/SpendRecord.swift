import Foundation

/// One answered request as the spend log keeps it (LiteLLM's `SpendLogs` row).
public struct SpendRecord: Sendable, Equatable {
    /// The response's `id` (LiteLLM logs the same), or a generated id.
    public var requestID: String
    /// LiteLLM's call type: `acompletion` (chat) or `atext_completion`.
    public var callType: String
    /// `Caller.spendID`: the hashed key, `master` or `anonymous`.
    public var apiKey: String
    public var keyAlias: String?
    /// The model group the client asked for.
    public var modelGroup: String
    /// The deployment that answered (nil: a cache hit).
    public var deploymentID: String?
    public var apiBase: String?
    public var usage: TokenUsage
    public var attribution: CostAttribution
    /// `exact` or `semantic` for a cache hit, nil otherwise.
    public var cacheHit: String?
    public var cacheKey: String?
    /// Unix seconds.
    public var startTime: Double
    public var endTime: Double

    public init(requestID: String, callType: String, apiKey: String, keyAlias: String?, modelGroup: String,
                deploymentID: String?, apiBase: String?, usage: TokenUsage, attribution: CostAttribution,
                cacheHit: String?, cacheKey: String?, startTime: Double, endTime: Double) {
        self.requestID = requestID
        self.callType = callType
        self.apiKey = apiKey
        self.keyAlias = keyAlias
        self.modelGroup = modelGroup
        self.deploymentID = deploymentID
        self.apiBase = apiBase
        self.usage = usage
        self.attribution = attribution
        self.cacheHit = cacheHit
        self.cacheKey = cacheKey
        self.startTime = startTime
        self.endTime = endTime
    }

    /// LiteLLM's `/spend/logs` row: `request_id`, `call_type`, `api_key`, `spend`, token counts,
    /// `startTime` / `endTime` (ISO 8601), `model`, `model_id`, `model_group`, `api_base`, `cache_hit`,
    /// `cache_key`, and `metadata` (key alias, savings per layer in USD).
    public var json: JSONValue {
        var saved: [(String, JSONValue)] = []
        for layer in SavingsLayer.allCases {
            if let usd = attribution.saved[layer] { saved.append((layer.rawValue, .double(usd.dollars))) }
        }
        return .object([
            ("request_id", .string(requestID)),
            ("call_type", .string(callType)),
            ("api_key", .string(apiKey)),
            ("spend", .double(attribution.cost.dollars)),
            ("total_tokens", .int(usage.totalTokens)),
            ("prompt_tokens", .int(usage.promptTokens)),
            ("completion_tokens", .int(usage.completionTokens)),
            ("startTime", .string(Self.iso8601(startTime))),
            ("endTime", .string(Self.iso8601(endTime))),
            ("model", .string(modelGroup)),
            ("model_id", deploymentID.map(JSONValue.string) ?? .null),
            ("model_group", .string(modelGroup)),
            ("api_base", apiBase.map(JSONValue.string) ?? .null),
            ("cache_hit", .string(cacheHit == nil ? "False" : "True")),
            ("cache_key", cacheKey.map(JSONValue.string) ?? .null),
            ("metadata", .object([
                ("user_api_key_alias", keyAlias.map(JSONValue.string) ?? .null),
                ("cached_tokens", .int(usage.cachedTokens)),
                ("cache_layer", cacheHit.map(JSONValue.string) ?? .null),
                ("saved", .object(saved)),
            ])),
        ])
    }

    public static func iso8601(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}
