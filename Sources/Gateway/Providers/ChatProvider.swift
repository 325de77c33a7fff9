/// Which OpenAI endpoint a request targets.
public enum Endpoint: String, Sendable {
    case chat
    case completions
}

/// A request to one deployment, in OpenAI shape.
public struct ProviderRequest: Sendable {
    public var endpoint: Endpoint
    /// The OpenAI-shaped request body; the router sets `"model"` to the deployment's upstream id.
    public var body: JSONValue
    public var stream: Bool
    /// `stream_options.include_usage`, parsed at the edge (the body still carries it for remote upstreams).
    public var includeUsage = false
    /// Total seconds for the upstream call (nil: the deployment's or router's default).
    public var timeout: Double?
    /// Seconds to the first streamed byte (nil: the deployment's or router's default).
    public var streamTimeout: Double?

    /// The caller's tenant id when tenants are isolated (the local engine salts its prefix cache with it;
    /// remote providers ignore it).
    public var tenant: String?
    /// The client's session (`x-session-id` header, else `user`) for sticky sessions; never sent upstream.
    public var session: String?
    /// Most bytes a remote provider's response body (or whole stream) may have
    /// (`general_settings.max_response_size_mb`); past it the call fails with a 502 `response_too_large`.
    public var maxResponseBytes = ProviderRequest.defaultMaxResponseBytes
    /// The LoRA adapter of the local model the client named as `model` (the local engine applies it; remote
    /// providers never see it).
    public var adapter: String?
    /// Batch API work: the local engine admits it only when no interactive request waits (remote providers
    /// ignore it).
    public var background = false

    /// The response size limit when none is configured: 64 MiB.
    public static let defaultMaxResponseBytes = 64 << 20

    public init(endpoint: Endpoint, body: JSONValue, stream: Bool, timeout: Double? = nil,
                streamTimeout: Double? = nil, tenant: String? = nil) {
        self.tenant = tenant
        self.endpoint = endpoint
        self.body = body
        self.stream = stream
        self.timeout = timeout
        self.streamTimeout = streamTimeout
    }
}

/// What a provider returns.
public enum ProviderResult: Sendable {
    /// The OpenAI-shaped response JSON (non-streaming).
    case response(JSONValue)
    /// OpenAI chunk objects (no `[DONE]`); errors after the first chunk surface here.
    case stream(AsyncThrowingStream<JSONValue, any Error>)
}

/// One upstream that serves OpenAI-shaped chat and completion requests.
public protocol ChatProvider: Sendable {
    /// The upstream base URL, reported in `x-litellm-model-api-base` (nil for in-process providers).
    var apiBase: String? { get }

    /// Non-streaming: the OpenAI-shaped response JSON. Streaming: OpenAI chunk JSON objects (no [DONE]).
    /// Errors BEFORE the first chunk are thrown from this call (so the router can retry or fall back);
    /// errors after it surface in the stream.
    func send(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResult

    /// The message fixes this provider's chat format needs for a request body, applied by the router when the
    /// deployment configures none (`litellm_params.message_fixes` wins) and reported in `x-message-fixes`.
    /// nil: none (the default).
    func requiredMessageFixes(_ body: JSONValue) -> MessageFixes?
}

extension ChatProvider {
    public func requiredMessageFixes(_ body: JSONValue) -> MessageFixes? { nil }
}
