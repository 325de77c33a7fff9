/// A routed answer plus what the `x-litellm-*` response headers report.
public struct RoutedResult: Sendable {
    /// The answer; its `model` fields already carry the requested model name.
    public var result: ProviderResult
    /// The deployment that answered.
    public var deploymentID: String
    /// The group that answered (differs from `requestedModel` after a fallback).
    public var modelGroup: String
    /// The model name the client asked for.
    public var requestedModel: String
    public var apiBase: String?
    public var attemptedRetries: Int
    public var attemptedFallbacks: Int
    /// The `MessageFixes` that changed the request for the deployment that answered.
    public var messageFixes: [String] = []
    /// For a cascade: the tier (model group) that answered, and why the tiers before it were passed over.
    public var cascadeTier: String?
    public var cascadeRejections: [String] = []
    /// Why the cascade's classifier sent the request past the lower tiers, and where (`code -> big`).
    public var cascadeClassifier: String?
    /// `x-vision-fallback`: the vision group that described the request's images, how many, how many cached.
    public var visionFallback: String?

    /// `x-litellm-model-id`, `-model-group`, `-model-api-base`, `-attempted-retries`, `-attempted-fallbacks`.
    public var headers: [(String, String)] {
        var out = [("x-litellm-model-id", deploymentID), ("x-litellm-model-group", modelGroup)]
        if let apiBase { out.append(("x-litellm-model-api-base", apiBase)) }
        out.append(("x-litellm-attempted-retries", String(attemptedRetries)))
        out.append(("x-litellm-attempted-fallbacks", String(attemptedFallbacks)))
        if !messageFixes.isEmpty { out.append(("x-message-fixes", messageFixes.joined(separator: ","))) }
        if let cascadeTier { out.append(("x-cascade-tier", cascadeTier)) }
        if !cascadeRejections.isEmpty { out.append(("x-cascade-rejected", cascadeRejections.joined(separator: "; "))) }
        if let cascadeClassifier { out.append(("x-cascade-classifier", cascadeClassifier)) }
        if let visionFallback { out.append(("x-vision-fallback", visionFallback)) }
        return out
    }
}

/// A request the router could not serve: the provider error to report, and what was tried.
public struct RouterError: Error, Sendable, CustomStringConvertible {
    /// The error to render (status, message, type, code, param, retry-after).
    public var error: ProviderError
    public var requestedModel: String
    /// The last deployment tried, if any.
    public var lastDeploymentID: String?
    public var attemptedRetries: Int
    public var attemptedFallbacks: Int

    public var description: String { "model \(requestedModel): \(error)" }
}
