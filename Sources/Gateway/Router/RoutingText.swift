/// The text of a request that `prefix-aware` routing matches against what each deployment was sent: the
/// chat messages in order (role, then content; text parts of multi-part content) or the completion prompt,
/// as UTF-8, cut at `maxBytes` (the start of a prompt is what a prefix cache reuses; the cut bounds the
/// routing work a large body can cause).
public enum RoutingText {
    /// Longest text taken from one request.
    public static let maxBytes = 32 * 1024

    /// The routing text of an OpenAI-shaped request body (empty when it has none).
    public static func of(_ body: JSONValue, endpoint: Endpoint, maxBytes: Int = RoutingText.maxBytes) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(maxBytes, 4096))
        func add(_ s: String) {
            guard out.count < maxBytes else { return }
            for b in s.utf8 {
                if out.count == maxBytes { return }
                out.append(b)
            }
        }
        switch endpoint {
        case .chat:
            guard case .array(let messages)? = body["messages"] else { return out }
            for message in messages {
                if case .string(let role)? = message["role"] { add(role) }
                add("\u{1}")
                switch message["content"] {
                case .string(let text)?: add(text)
                case .array(let parts)?:
                    for part in parts { if case .string(let text)? = part["text"] { add(text) } }
                default: break
                }
                add("\u{2}")
                if out.count >= maxBytes { break }
            }
        case .completions:
            switch body["prompt"] {
            case .string(let text)?: add(text)
            case .array(let items)?:
                // The first prompt of a batch (strings), or token ids as decimal text.
                if case .string(let text)? = items.first { add(text) } else {
                    for item in items {
                        if case .int(let id) = item { add(String(id)); add(" ") } else { break }
                        if out.count >= maxBytes { break }
                    }
                }
            default: break
            }
        }
        return out
    }
}
