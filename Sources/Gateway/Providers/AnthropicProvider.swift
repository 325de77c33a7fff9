import CurlHTTP
import Foundation

/// Anthropic's Messages API (`anthropic/<model>`): OpenAI chat requests are translated to
/// `POST {api_base}/v1/messages` and the answers (and stream events) back to OpenAI shapes.
public struct AnthropicProvider: ChatProvider {
    public static let defaultAPIBase = "https://api.anthropic.com"
    public static let apiVersion = "2023-06-01"

    public let apiBase: String?
    let apiKey: String?
    let extraHeaders: [(String, String)]
    let client: HTTPClient

    /// - Parameters:
    ///   - apiBase: `https://api.anthropic.com` by default; `/v1/messages` is appended unless present.
    ///   - apiKey: sent as `x-api-key`.
    public init(apiBase: String?, apiKey: String?, extraHeaders: [(String, String)] = [],
                client: HTTPClient = .shared) {
        self.apiBase = apiBase ?? Self.defaultAPIBase
        self.apiKey = apiKey
        self.extraHeaders = extraHeaders
        self.client = client
    }

    var messagesURL: String {
        var base = apiBase ?? Self.defaultAPIBase
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1/messages") { return base }
        if base.hasSuffix("/v1") { return base + "/messages" }
        return base + "/v1/messages"
    }

    public func send(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResult {
        let body = try AnthropicTranslation.messagesRequest(from: request.body, endpoint: request.endpoint,
                                                            stream: request.stream)
        var headers: [(String, String)] = [("anthropic-version", Self.apiVersion)]
        if let apiKey, !apiKey.isEmpty { headers.append(("x-api-key", apiKey)) }
        let response = try await client.postJSON(url: messagesURL, headers: headers + extraHeaders, body: body,
                                                 for: request, apiBase: apiBase)
        let created = Int(Date().timeIntervalSince1970)
        if request.stream {
            let translator = AnthropicStreamTranslator(endpoint: request.endpoint, created: created)
            return .stream(try await SSEStreamPump.start(response, translator: translator, apiBase: apiBase))
        }
        let json = try await response.jsonObject(apiBase: apiBase, upstream: "Anthropic").json
        if json["type"]?.stringField == "error" { throw AnthropicTranslation.streamError(json["error"]) }
        return .response(AnthropicTranslation.openAIResponse(from: json, endpoint: request.endpoint, created: created))
    }
}

/// Messages stream events -> OpenAI chunks: `message_start` gives the role chunk, `content_block_delta`
/// text and tool-argument deltas, `message_delta` the finish chunk with usage, `message_stop` ends,
/// `error` fails, `ping` and block start/stop markers are dropped (except a tool_use start, which
/// carries the call id and name).
struct AnthropicStreamTranslator: SSEChunkTranslator {
    let endpoint: Endpoint
    let created: Int
    private var id = ""
    private var model = ""
    private var inputTokens = 0
    private var cacheRead = 0
    private var cacheCreation = 0
    private var outputTokens = 0
    /// Content block index -> OpenAI tool call index.
    private var toolIndex: [Int: Int] = [:]

    init(endpoint: Endpoint, created: Int) {
        self.endpoint = endpoint
        self.created = created
    }

    mutating func translate(_ event: SSEEvent) throws(ProviderError) -> SSEStep {
        guard let json = try? JSONValue.parse(Data(event.data.utf8)) else {
            throw ProviderError(status: 502, message: "Anthropic sent a stream event that is not JSON",
                                type: "api_error", kind: .server)
        }
        switch json["type"]?.stringField ?? event.event {
        case "message_start"?:
            let message = json["message"]
            id = message?["id"]?.stringField ?? id
            model = message?["model"]?.stringField ?? model
            let usage = message?["usage"]
            inputTokens = usage?["input_tokens"]?.intField ?? 0
            cacheRead = usage?["cache_read_input_tokens"]?.intField ?? 0
            cacheCreation = usage?["cache_creation_input_tokens"]?.intField ?? 0
            outputTokens = usage?["output_tokens"]?.intField ?? 0
            return .chunks([chunk(delta: ["role": "assistant", "content": ""], text: "")])
        case "content_block_start"?:
            let block = json["content_block"]
            let index = json["index"]?.intField ?? 0
            if block?["type"]?.stringField == "tool_use", endpoint == .chat {
                let callIndex = toolIndex.count
                toolIndex[index] = callIndex
                let call: JSONValue = .object([
                    ("index", .int(callIndex)), ("id", block?["id"] ?? ""), ("type", "function"),
                    ("function", .object([("name", block?["name"] ?? ""), ("arguments", "")])),
                ])
                return .chunks([chunk(delta: ["tool_calls": [call]], text: "")])
            }
            if let text = block?["text"]?.stringField, !text.isEmpty {
                return .chunks([chunk(delta: ["content": .string(text)], text: text)])
            }
            return .chunks([])
        case "content_block_delta"?:
            let delta = json["delta"]
            switch delta?["type"]?.stringField {
            case "text_delta"?:
                let text = delta?["text"]?.stringField ?? ""
                return .chunks([chunk(delta: ["content": .string(text)], text: text)])
            case "input_json_delta"?:
                guard let callIndex = toolIndex[json["index"]?.intField ?? -1] else { return .chunks([]) }
                let call: JSONValue = ["index": .int(callIndex),
                                       "function": ["arguments": delta?["partial_json"] ?? ""]]
                return .chunks([chunk(delta: ["tool_calls": [call]], text: "")])
            default:
                return .chunks([])
            }
        case "message_delta"?:
            if let output = json["usage"]?["output_tokens"]?.intField { outputTokens = output }
            let finish = AnthropicTranslation.finishReason(json["delta"]?["stop_reason"]?.stringField)
            var last = chunk(delta: .object([]), text: "", finishReason: finish)
            last = last.settingField("usage", AnthropicTranslation.usage(
                input: inputTokens, cacheRead: cacheRead, cacheCreation: cacheCreation, output: outputTokens))
            return .chunks([last])
        case "message_stop"?:
            return .done
        case "error"?:
            throw AnthropicTranslation.streamError(json["error"])
        default:   // ping, content_block_stop, unknown future events
            return .chunks([])
        }
    }

    private func chunk(delta: JSONValue, text: String, finishReason: JSONValue = .null) -> JSONValue {
        let choice: JSONValue = endpoint == .chat
            ? .object([("index", 0), ("delta", delta), ("logprobs", .null), ("finish_reason", finishReason)])
            : .object([("text", .string(text)), ("index", 0), ("logprobs", .null), ("finish_reason", finishReason)])
        return .object([
            ("id", .string(id)), ("object", endpoint == .chat ? "chat.completion.chunk" : "text_completion"),
            ("created", .int(created)), ("model", .string(model)), ("choices", [choice]),
        ])
    }
}
