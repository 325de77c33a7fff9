/// What the semantic cache compares: the text of the last user message, within a scope.
public struct SemanticQuery: Sendable, Equatable {
    /// sha256 hex of (namespace, tenant, model + sampling params, hash of every other message).
    public var scope: String
    /// The last user message's text (text parts joined with newlines).
    public var text: String
}

/// Builds the semantic scope of a chat request.
///
/// NOTE: LiteLLM embeds all messages concatenated, so multi-turn and agent traffic replays stale
/// answers. We embed only the last user message and put everything else that shapes the answer into
/// the scope: the model and sampling params (the exact key's fields minus `messages`), the namespace,
/// the tenant (API key identity) and a hash of all other messages (system prompt, earlier turns, and
/// anything after the last user message). A semantic hit therefore needs a request identical except for
/// the wording of the final question.
public enum SemanticScope {
    /// nil when the request has no last user message with plain text content (e.g. images), in which
    /// case the semantic layer is skipped.
    public static func make(body: JSONValue, namespace: String?, tenant: String?) -> SemanticQuery? {
        guard case .array(let messages)? = body["messages"],
              let last = messages.lastIndex(where: { $0["role"] == .string("user") }),
              let text = plainText(messages[last]["content"]), !text.isEmpty else { return nil }
        var context = messages
        context.remove(at: last)
        var params = CacheKey.keyPayload(kind: .chat, body: body)
        if case .object(let pairs) = params { params = .object(pairs.filter { $0.0 != "messages" }) }
        let scope: JSONValue = .object([
            ("namespace", .optional(namespace)),
            ("tenant", .optional(tenant)),
            ("params", params),
            ("context", .string(CacheKey.sha256Hex(CacheKey.canonicalJSON(.array(context))))),
        ])
        return SemanticQuery(scope: CacheKey.sha256Hex(CacheKey.canonicalJSON(scope)), text: text)
    }

    /// A string content, or the text parts of an array content; nil if any part is not text.
    static func plainText(_ content: JSONValue?) -> String? {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?:
            var texts: [String] = []
            for part in parts {
                guard part["type"] == .string("text"), case .string(let t)? = part["text"] else { return nil }
                texts.append(t)
            }
            return texts.joined(separator: "\n")
        default: return nil
        }
    }
}
