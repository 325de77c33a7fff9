import Crypto
import Foundation

/// Which OpenAI endpoint a request came from.
public enum CacheRequestKind: String, Sendable {
    case chat, completion, embedding
}

/// Exact-cache keys: `"<namespace>:" + sha256hex(canonical JSON)`, or the bare hex digest when no
/// namespace is configured (LiteLLM's default has no namespace either).
///
/// NOTE: the canonical JSON has recursively sorted keys, integral doubles written as integers and `null`
/// fields dropped, so the same request with reordered fields (or `1.0` vs `1`) gets the same key; LiteLLM
/// hashes fields in client order and misses there. `stream` and `stream_options` are not part of the
/// key: streaming and non-streaming requests share entries.
public enum CacheKey {
    /// Request fields that change the output of a chat or text completion.
    public static let generationFields: [String] = [
        "messages", "prompt", "temperature", "top_p", "top_k", "min_p", "n", "best_of", "seed", "stop",
        "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "repetition_penalty",
        "logit_bias", "tools", "tool_choice", "functions", "function_call", "parallel_tool_calls",
        "response_format", "logprobs", "top_logprobs", "echo", "suffix", "user", "reasoning_effort",
    ]
    /// Request fields that change the output of an embedding call.
    public static let embeddingFields: [String] = ["input", "encoding_format", "dimensions", "user"]

    /// The fields of `body` that go into the key, plus `model`, in canonical form.
    public static func keyPayload(kind: CacheRequestKind, body: JSONValue) -> JSONValue {
        let fields = kind == .embedding ? embeddingFields : generationFields
        var pairs: [(String, JSONValue)] = []
        if let model = body["model"], model != .null { pairs.append(("model", model)) }
        for field in fields {
            guard var value = body[field], value != .null else { continue }
            if field == "stop", case .string = value { value = .array([value]) }   // "x" == ["x"]
            pairs.append((field, value))
        }
        return .object(pairs)
    }

    /// The full cache key of a request.
    /// With a `tenant` (isolated API keys) the digest also covers it, so tenants never share an entry; keys
    /// keep the `<namespace>:<64 hex>` shape (namespace flushes still find them).
    public static func make(kind: CacheRequestKind, body: JSONValue, namespace: String?, tenant: String? = nil) -> String {
        let digest = sha256Hex(canonicalJSON(keyPayload(kind: kind, body: body)) + (tenant.map { "\ntenant:" + $0 } ?? ""))
        return prefixed(digest, namespace: namespace)
    }

    /// `namespace + ":" + suffix`, or `suffix` alone when the namespace is nil or empty.
    public static func prefixed(_ suffix: String, namespace: String?) -> String {
        guard let namespace, !namespace.isEmpty else { return suffix }
        return namespace + ":" + suffix
    }

    /// Whether `key` is an exact-cache key of `namespace` (nil: a bare 64-hex-digit key).
    public static func belongs(_ key: String, to namespace: String?) -> Bool {
        guard let namespace, !namespace.isEmpty else { return isDigest(Substring(key)) }
        let prefix = namespace + ":"
        return key.hasPrefix(prefix) && isDigest(key.dropFirst(prefix.count))
    }

    /// A Redis `SCAN MATCH` pattern for the exact-cache keys of `namespace`.
    public static func scanPattern(namespace: String?) -> String {
        let hex = String(repeating: "[0-9a-f]", count: 64)
        guard let namespace, !namespace.isEmpty else { return hex }
        return globEscape(namespace) + ":" + hex
    }

    /// Escapes Redis glob metacharacters (`*?[]\`).
    public static func globEscape(_ s: String) -> String {
        var out = ""
        for c in s {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    private static func isDigest(_ s: Substring) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Lowercase hex SHA-256 of the UTF-8 bytes of `text`.
    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compact JSON with object keys sorted (by UTF-8 bytes) at every level, `null` members dropped and
    /// integral doubles written as integers.
    public static func canonicalJSON(_ value: JSONValue) -> String {
        canonicalize(value).serialized()
    }

    static func canonicalize(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let pairs):
            let kept = pairs.filter { $0.1 != .null }.map { ($0.0, canonicalize($0.1)) }
            return .object(kept.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) })
        case .array(let items):
            return .array(items.map(canonicalize))
        case .double(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 9.0e15 { return .int(Int(d)) }
            return value
        default:
            return value
        }
    }
}
