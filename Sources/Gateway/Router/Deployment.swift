import Crypto
import CurlHTTP
import Foundation

/// One deployment of a model group: a provider plus the settings the router needs to choose it.
public struct Deployment: Sendable {
    /// Unique id (`model_info.id`, or a stable hash of the entry), reported in `x-litellm-model-id`.
    public var id: String
    /// The model group (`model_name`) this deployment serves.
    public var group: String
    public var provider: any ChatProvider
    /// The upstream model id put into request bodies.
    public var upstreamModel: String
    public var apiBase: String?
    public var weight: Double?
    public var rpm: Int?
    public var tpm: Int?
    public var timeout: Double?
    public var streamTimeout: Double?
    /// Extra attempts on this same deployment for a transient failure (connection, timeout, 429, 5xx)
    /// before the router sees it (`litellm_params.max_retries`, the retries of LiteLLM's provider client).
    public var maxRetries: Int
    public var modelInfo: ModelInfo
    /// Rewrites of chat messages this upstream needs (`litellm_params.message_fixes`).
    public var messageFixes: MessageFixes?

    public init(id: String, group: String, provider: any ChatProvider, upstreamModel: String,
                apiBase: String? = nil, weight: Double? = nil, rpm: Int? = nil, tpm: Int? = nil,
                timeout: Double? = nil, streamTimeout: Double? = nil, maxRetries: Int = 0,
                modelInfo: ModelInfo = ModelInfo()) {
        self.maxRetries = maxRetries
        self.id = id
        self.group = group
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.apiBase = apiBase ?? provider.apiBase
        self.weight = weight
        self.rpm = rpm
        self.tpm = tpm
        self.timeout = timeout
        self.streamTimeout = streamTimeout
        self.modelInfo = modelInfo
    }

    func with(messageFixes: MessageFixes?) -> Deployment {
        var copy = self
        copy.messageFixes = messageFixes
        return copy
    }

    /// Builds a deployment from a config entry. `local/` entries use `localProvider` (the server adapts
    /// the engine); the others get the built-in HTTP providers.
    ///
    /// NOTE: without `model_info.id` the id is a hash of the group, model, api_base and position in
    /// `model_list`, so every instance reading the same file agrees on ids (shared cooldowns need that).
    public static func make(from entry: ModelDeploymentConfig, index: Int, client: HTTPClient = .shared,
                            localProvider: ((ModelDeploymentConfig) throws -> any ChatProvider)?)
        throws(ConfigError) -> Deployment {
        let p = entry.params
        let headers = p.extraHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let provider: any ChatProvider
        switch p.provider {
        case .openai:
            provider = OpenAICompatibleProvider(apiBase: p.apiBase ?? "https://api.openai.com/v1", apiKey: p.apiKey,
                                                extraHeaders: headers, client: client)
        case .hostedVLLM:
            provider = OpenAICompatibleProvider(apiBase: p.apiBase ?? "", apiKey: p.apiKey, extraHeaders: headers,
                                                client: client)
        case .anthropic:
            provider = AnthropicProvider(apiBase: p.apiBase, apiKey: p.apiKey, extraHeaders: headers, client: client)
        case .local:
            guard let localProvider else {
                throw ConfigError("model_list[\(index)].litellm_params.model: local/ deployments need the local engine")
            }
            do {
                provider = try localProvider(entry)
            } catch let error as ConfigError {
                throw error
            } catch {
                throw ConfigError("model_list[\(index)].litellm_params.model: \(error)")
            }
        }
        let seed = [entry.modelName, p.model, p.apiBase ?? "", String(index)].joined(separator: "\n")
        let hash = SHA256.hash(data: Data(seed.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return Deployment(id: entry.modelInfo.id ?? hash, group: entry.modelName, provider: provider,
                          upstreamModel: p.upstreamModel, apiBase: provider.apiBase, weight: p.weight, rpm: p.rpm,
                          tpm: p.tpm, timeout: p.timeout, streamTimeout: p.streamTimeout,
                          maxRetries: p.maxRetries ?? 0, modelInfo: entry.modelInfo)
            .with(messageFixes: p.messageFixes)
    }
}
