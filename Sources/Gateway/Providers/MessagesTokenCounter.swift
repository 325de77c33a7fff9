import CurlHTTP
import Foundation

/// A remote deployment that counts a Messages API request's input tokens itself:
/// `POST .../v1/messages/count_tokens` (Anthropic's API, and any upstream that implements it: another instance
/// of this server, LiteLLM's proxy). The gateway's `/v1/messages/count_tokens` asks it when the model group has
/// no local deployment whose tokenizer could count.
public protocol MessagesTokenCounter: Sendable {
    /// `body`: the count_tokens request in Anthropic's shape, `model` already the upstream model id.
    func countMessageTokens(_ body: JSONValue, timeout: Double) async throws(ProviderError) -> Int
}

extension MessagesTokenCounter {
    /// POSTs `body` and reads `input_tokens` (a non-negative integer) from the answer.
    func count(url: String, headers: [(String, String)], body: JSONValue, timeout: Double, apiBase: String?,
               client: HTTPClient) async throws(ProviderError) -> Int {
        let request = ProviderRequest(endpoint: .chat, body: body, stream: false, timeout: timeout)
        let response = try await client.postJSON(url: url, headers: headers, body: body, for: request, apiBase: apiBase)
        let json = try await response.jsonObject(apiBase: apiBase, upstream: "Upstream").json
        if json["type"]?.stringField == "error" { throw AnthropicTranslation.streamError(json["error"]) }
        guard let n = json["input_tokens"]?.intField, n >= 0 else {
            throw ProviderError(status: 502, message: "Upstream count_tokens answer has no 'input_tokens' count.",
                                type: "api_error", kind: .server)
        }
        return n
    }
}

extension OpenAICompatibleProvider: MessagesTokenCounter {
    /// `{api_base}/messages/count_tokens` (the base includes `/v1`) with the Bearer key.
    public func countMessageTokens(_ body: JSONValue, timeout: Double) async throws(ProviderError) -> Int {
        var base = apiBase ?? "https://api.openai.com/v1"
        while base.hasSuffix("/") { base.removeLast() }
        var headers: [(String, String)] = [("anthropic-version", AnthropicProvider.apiVersion)]
        if let apiKey, !apiKey.isEmpty { headers.append(("Authorization", "Bearer \(apiKey)")) }
        return try await count(url: base + "/messages/count_tokens", headers: headers + extraHeaders, body: body,
                               timeout: timeout, apiBase: apiBase, client: client)
    }
}

extension AnthropicProvider: MessagesTokenCounter {
    /// `{api_base}/v1/messages/count_tokens` with `x-api-key`.
    public func countMessageTokens(_ body: JSONValue, timeout: Double) async throws(ProviderError) -> Int {
        var headers: [(String, String)] = [("anthropic-version", Self.apiVersion)]
        if let apiKey, !apiKey.isEmpty { headers.append(("x-api-key", apiKey)) }
        return try await count(url: messagesURL + "/count_tokens", headers: headers + extraHeaders, body: body,
                               timeout: timeout, apiBase: apiBase, client: client)
    }
}
