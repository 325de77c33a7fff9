import Foundation

/// The order a batch's requests run in: requests that share a prompt prefix run back to back, so the local
/// engine computes each shared prefix once and every later request hits it in the prefix cache (with many
/// prefixes interleaved in the input, a bounded cache would evict one prefix while computing the next).
///
/// The sort key is the request's model followed by its prompt as text (chat: each message's role and text in
/// order; completions: the prompt). Sorting those keys byte-wise puts every request next to the ones it shares
/// the longest prefix with; ties keep the file's order.
public enum BatchOrdering {
    public static func ordered(_ lines: [BatchRequestLine]) -> [BatchRequestLine] {
        let keyed = lines.enumerated().map { (key: Array(sortKey($0.element.body).utf8), index: $0.offset, line: $0.element) }
        return keyed.sorted { a, b in
            a.key != b.key ? a.key.lexicographicallyPrecedes(b.key) : a.index < b.index
        }.map(\.line)
    }

    /// Model, then the prompt text. Separators are control characters that JSON text cannot hold unescaped,
    /// so two different prompts never make the same key.
    static func sortKey(_ body: JSONValue) -> String {
        var key = (body["model"]?.stringField ?? "") + "\u{1}"
        if case .array(let messages)? = body["messages"] {
            for message in messages {
                key += (message["role"]?.stringField ?? "") + "\u{2}" + text(message["content"]) + "\u{3}"
            }
        } else if let prompt = body["prompt"] {
            key += text(prompt)
        } else if let input = body["input"] {
            key += text(input)
        }
        return key
    }

    private static func text(_ value: JSONValue?) -> String {
        switch value {
        case .string(let s)?: return s
        case .array(let parts)?:
            return parts.map { part -> String in
                if case .string(let s) = part { return s }
                return part["text"]?.stringField ?? part.serialized()
            }.joined(separator: "\u{4}")
        case nil, .null?: return ""
        case let other?: return other.serialized()
        }
    }
}
