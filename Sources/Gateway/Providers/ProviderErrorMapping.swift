import CurlHTTP
import Foundation
import NumericCore

/// Turns an upstream error response into a classified `ProviderError`, following LiteLLM's
/// exception mapping (`litellm/litellm_core_utils/exception_mapping_utils.py`): the status code decides
/// the class, and message/code text detects context-window and content-policy errors, which upstreams
/// report as plain 400s.
enum ProviderErrorMapping {
    /// Substrings (lowercased) that mark a context-window error in OpenAI, vLLM, llama.cpp, Ollama,
    /// TGI and Anthropic messages or codes.
    static let contextWindowMarkers = [
        "context_length_exceeded", "maximum context length", "context length", "context window",
        "context size", "exceed_context_size", "prompt is too long", "input is too long",
        "maximum model length", "`inputs` tokens + `max_new_tokens`", "too many tokens",
        "string too long. expected a string with maximum length",
    ]
    /// Substrings (lowercased) that mark a content-policy refusal.
    static let contentPolicyMarkers = [
        "content_policy_violation", "content management policy", "content_filter", "safety system",
        "content filtering",
    ]

    /// Maps a non-2xx response. `body` is the raw upstream body (JSON or text).
    static func map(status: Int, body: [UInt8], head: HTTPResponseHead?) -> ProviderError {
        var message = String(decoding: body.prefix(4096), as: UTF8.self)
        var type: String?
        var code: String?
        var param: String?
        if let json = try? JSONValue.parse(Data(body)) {
            let error = json["error"]
            if case .object = error ?? .null {
                message = Self.text(error?["message"]) ?? message
                type = Self.text(error?["type"])
                code = Self.text(error?["code"])
                param = Self.text(error?["param"])
            } else if case .string(let text)? = error {
                message = text
            } else {
                message = Self.text(json["message"]) ?? Self.text(json["detail"]) ?? message
                type = Self.text(json["type"])
                code = Self.text(json["code"])
            }
        }
        if message.isEmpty { message = "Upstream returned HTTP \(status)" }
        let retryAfter = head.flatMap(Self.retryAfter)
        let haystack = [message, type ?? "", code ?? ""].joined(separator: " ").lowercased()
        let kind: ProviderError.Kind
        switch status {
        case 401, 403: kind = .authentication
        case 404: kind = .notFound
        case 408: kind = .timeout
        case 429: kind = .rateLimited
        case 529: kind = .overloaded
        case 400..<500:
            if contextWindowMarkers.contains(where: haystack.contains) {
                kind = .contextWindowExceeded
            } else if contentPolicyMarkers.contains(where: haystack.contains) {
                kind = .contentPolicy
            } else {
                kind = .badRequest
            }
        case 500..<600: kind = .server
        default: kind = .other
        }
        var reported = status
        if kind == .contextWindowExceeded || kind == .contentPolicy { reported = 400 }
        if kind == .overloaded { reported = 503 }
        // OpenAI's codes, whatever the upstream called them (vLLM sends `"code": 400`).
        if kind == .contextWindowExceeded { code = "context_length_exceeded" }
        if kind == .contentPolicy { code = "content_policy_violation" }
        let openAIType = kind == .badRequest || kind == .contextWindowExceeded || kind == .contentPolicy
            ? "invalid_request_error" : nil
        return ProviderError(status: reported, message: message,
                             type: openAIType ?? type.flatMap { $0.isEmpty ? nil : $0 },
                             code: code, param: param, retryAfter: retryAfter, kind: kind)
    }

    /// `retry-after-ms` (milliseconds) or `retry-after` (seconds, or an HTTP date); a value that is not a
    /// finite number of at most a year is ignored.
    static func retryAfter(_ head: HTTPResponseHead) -> Double? {
        let bound = CheckedConversion.maxSeconds
        if let ms = head.value(of: "retry-after-ms").flatMap(Double.init), ms >= 0, ms / 1000 <= bound { return ms / 1000 }
        guard let value = head.value(of: "retry-after") else { return nil }
        if let seconds = Double(value.trimmingCharacters(in: .whitespaces)) {
            return seconds >= 0 && seconds <= bound ? seconds : nil
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let date = formatter.date(from: value) { return min(max(0, date.timeIntervalSinceNow), bound) }
        return nil
    }

    private static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s)?: s
        case .int(let i)?: String(i)
        case .double(let d)?: String(d)
        default: nil
        }
    }
}

extension HTTPClient {
    /// POSTs `body` as JSON for a provider request (streaming: SSE accepted, first-byte deadline); transport
    /// failures and non-2xx answers come back as classified `ProviderError`s.
    func postJSON(url: String, headers: [(String, String)], body: JSONValue, for request: ProviderRequest,
                  apiBase: String?) async throws(ProviderError) -> HTTPClientResponse {
        let httpRequest = HTTPClientRequest(
            url: url,
            headers: [("Content-Type", "application/json"),
                      ("Accept", request.stream ? "text/event-stream" : "application/json")] + headers,
            body: Array(body.serialized().utf8), timeout: request.timeout,
            firstByteTimeout: request.stream ? request.streamTimeout : nil,
            // LiteLLM's stream_timeout is httpx's read timeout: it bounds the wait for the first chunk and
            // the gap between chunks. Unset, the first chunk may take as long as `timeout` (a long prefill)
            // but a stream that stalls mid-way ends after `defaultStreamIdleTimeout`.
            idleTimeout: request.stream ? (request.streamTimeout ?? HTTPClientRequest.defaultStreamIdleTimeout) : nil,
            maxResponseBytes: request.maxResponseBytes)
        let response: HTTPClientResponse
        do {
            response = try await execute(httpRequest)
        } catch {
            throw .transport(error, apiBase: apiBase)
        }
        if !(200..<300).contains(response.head.status) {
            let bytes = (try? await response.collect(limit: 1 << 20)) ?? []
            throw ProviderErrorMapping.map(status: response.head.status, body: bytes, head: response.head)
        }
        return response
    }
}

extension HTTPClientResponse {
    /// The whole body as a JSON object (with its bytes, for error mapping); a 502 when it is not one.
    func jsonObject(apiBase: String?, upstream: String) async throws(ProviderError) -> (json: JSONValue, bytes: [UInt8]) {
        let bytes: [UInt8]
        do {
            bytes = try await collect(limit: .max)   // the transfer enforces max_response_size_mb
        } catch {
            throw .transport(error, apiBase: apiBase)
        }
        guard let json = try? JSONValue.parseOrdered(bytes), case .object = json else {
            throw ProviderError(status: 502, message: "\(upstream) returned a body that is not a JSON object",
                                type: "api_error", kind: .server)
        }
        return (json, bytes)
    }
}
