import CurlHTTP
import Foundation

/// Any OpenAI-compatible server (`openai/`, `hosted_vllm/`: OpenAI, vLLM, llama.cpp, Ollama's `/v1`,
/// another instance of this server): POST `{api_base}/chat/completions` or `{api_base}/completions`
/// with a Bearer key; bodies pass through unchanged apart from `model` (set by the router) and `stream`.
public struct OpenAICompatibleProvider: ChatProvider {
    public let apiBase: String?
    let apiKey: String?
    let extraHeaders: [(String, String)]
    let client: HTTPClient

    /// - Parameters:
    ///   - apiBase: the base URL including the version path (e.g. `https://api.openai.com/v1`).
    ///   - apiKey: sent as `Authorization: Bearer <key>` when present.
    ///   - extraHeaders: added to every request (after the defaults).
    public init(apiBase: String, apiKey: String?, extraHeaders: [(String, String)] = [],
                client: HTTPClient = .shared) {
        self.apiBase = apiBase
        self.apiKey = apiKey
        self.extraHeaders = extraHeaders
        self.client = client
    }

    public func send(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResult {
        var base = apiBase ?? "https://api.openai.com/v1"
        while base.hasSuffix("/") { base.removeLast() }
        let url = base + (request.endpoint == .chat ? "/chat/completions" : "/completions")
        let body = request.body.settingField("stream", .bool(request.stream))
        var headers: [(String, String)] = []
        if let apiKey, !apiKey.isEmpty { headers.append(("Authorization", "Bearer \(apiKey)")) }
        let response = try await client.postJSON(url: url, headers: headers + extraHeaders, body: body,
                                                 for: request, apiBase: apiBase)
        if request.stream {
            return .stream(try await SSEStreamPump.start(response, translator: OpenAISSETranslator(),
                                                         apiBase: apiBase))
        }
        let (json, bytes) = try await response.jsonObject(apiBase: apiBase, upstream: "Upstream")
        if json["error"] != nil, json["choices"] == nil {
            throw ProviderErrorMapping.map(status: 500, body: bytes, head: response.head)
        }
        return .response(json)
    }
}

/// OpenAI SSE: each `data:` is a chunk object, `[DONE]` ends the stream, `{"error": ...}` is a failure.
struct OpenAISSETranslator: SSEChunkTranslator {
    mutating func translate(_ event: SSEEvent) throws(ProviderError) -> SSEStep {
        let data = event.data.trimmingCharacters(in: .whitespaces)
        if data == "[DONE]" { return .done }
        guard let json = try? JSONValue.parse(Data(data.utf8)), case .object = json else {
            throw ProviderError(status: 502, message: "Upstream sent a stream event that is not JSON: \(data.prefix(200))",
                                type: "api_error", kind: .server)
        }
        if let error = json["error"], json["choices"] == nil {
            let status = error["code"]?.intField.flatMap { (400..<600).contains($0) ? $0 : nil } ?? 500
            throw ProviderErrorMapping.map(status: status, body: Array(data.utf8), head: nil)
        }
        return .chunks([json])
    }
}
