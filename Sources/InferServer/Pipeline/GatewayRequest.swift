import Gateway
import OpenAIRequest

/// One chat or completion request, parsed once at the edge: what the gateway decides on (model group,
/// stream, usage chunk, fallbacks) plus the typed view of the body. It travels through the stages of
/// `GatewayRoute` and, as a `ProviderRequest` (`providerRequest`), through the router to every provider;
/// the local engine reads its generation fields from the same `fields` and takes `stream` /
/// `include_usage` from here instead of parsing them again.
struct GatewayRequest: Sendable {
    let endpoint: Endpoint
    /// The body, validated as a JSON object.
    let fields: RequestFields
    /// The model the client named (the body's `model`, else the server's default group): the group that is
    /// authorized, rate-limited and charged, and the `model` of the answer.
    let model: String
    /// The router group that serves it: `model`, or the base model's group when `model` is a LoRA adapter
    /// of the local engine (`adapter`).
    var routeGroup: String
    /// The LoRA adapter `model` names (nil: a plain group).
    var adapter: String?
    let stream: Bool
    /// `stream_options.include_usage`.
    let includeUsage: Bool
    /// The request's own `fallbacks` (they replace the group's generic list).
    let fallbacks: [String]?
    let disableFallbacks: Bool
    /// The session for sticky routing: the `x-session-id` header, else the body's `user`.
    let session: String?
    /// Batch API work: the local engine runs it below interactive requests.
    var background = false

    /// Longest `x-session-id` accepted (bytes); longer is a 400.
    static let maxSessionIDBytes = 256

    /// Parses the gateway's fields of `fields` (400 naming the field on a wrong type; `model` required
    /// unless the server has a default group); `sessionHeader` is the `x-session-id` header.
    init(_ fields: RequestFields, endpoint: Endpoint, defaultModel: String?, sessionHeader: String? = nil) throws {
        self.endpoint = endpoint
        self.fields = fields
        guard let model = try fields.string("model") ?? defaultModel else {
            throw OpenAIError.badParameter("model", "'model' is required.")
        }
        self.model = model
        routeGroup = model
        (stream, includeUsage) = try fields.streamOptions()
        fallbacks = try fields.stringList("fallbacks", expected: "an array of model names")
        disableFallbacks = try fields.bool("disable_fallbacks") ?? false
        if let header = sessionHeader {
            guard !header.isEmpty, header.utf8.count <= Self.maxSessionIDBytes else {
                throw OpenAIError.invalidRequest(
                    "The x-session-id header must hold 1 to \(Self.maxSessionIDBytes) bytes.", param: "x-session-id")
            }
            session = header
        } else {
            session = try fields.string("user")
        }
    }

    /// The response-cache kind of the endpoint.
    var cacheKind: CacheRequestKind { endpoint == .chat ? .chat : .completion }

    /// Gateway-only request fields, never sent upstream (OpenAI rejects unknown parameters).
    static let gatewayFields: Set<String> = ["cache", "fallbacks", "disable_fallbacks"]

    /// The request every deployment gets: the body without the gateway-only fields. A stream always asks
    /// for the usage chunk (its cost is its usage; `StreamUsageTap` hides it again from a client that did
    /// not ask).
    func providerRequest(tenant: String?, maxResponseBytes: Int) -> ProviderRequest {
        var body = fields.object
        if case .object(let pairs) = body { body = .object(pairs.filter { !Self.gatewayFields.contains($0.0) }) }
        if stream, !includeUsage {
            var options = JSONValue.object([])
            if let given = body["stream_options"], case .object = given { options = given }
            body = body.settingField("stream_options", options.settingField("include_usage", JSONValue.bool(true)))
        }
        var request = ProviderRequest(endpoint: endpoint, body: body, stream: stream, tenant: tenant)
        request.includeUsage = stream
        request.session = session
        request.maxResponseBytes = maxResponseBytes
        request.adapter = adapter
        request.background = background
        return request
    }
}
