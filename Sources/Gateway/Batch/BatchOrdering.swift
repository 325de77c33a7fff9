import Foundation

/// The order a batch's requests run in: requests that share a prompt prefix run back to back, so the local
/// engine computes each shared prefix once and every later request hits it in the prefix cache (with many
/// prefixes interleaved in the input, a bounded cache would evict one prefix while computing the next).
///
/// The sort key is the request's model, then its prompt as `RoutingText` (the same text `prefix-aware`
/// routing matches: chat messages in order, or the completion prompt; an embeddings `input` as its JSON).
/// Sorting those keys byte-wise puts every request next to the ones it shares the longest prefix with; ties
/// keep the file's order.
public enum BatchOrdering {
    public static func ordered(_ lines: [BatchRequestLine]) -> [BatchRequestLine] {
        let keyed = lines.enumerated().map { (key: sortKey($0.element), index: $0.offset, line: $0.element) }
        return keyed.sorted { a, b in
            a.key != b.key ? a.key.lexicographicallyPrecedes(b.key) : a.index < b.index
        }.map(\.line)
    }

    /// Model, a 0 byte (JSON text holds no raw NUL, so models never run into prompts), then the prompt text.
    static func sortKey(_ line: BatchRequestLine) -> [UInt8] {
        var key = Array((line.body["model"]?.stringField ?? "").utf8) + [0]
        switch line.url {
        case .chatCompletions: key += RoutingText.of(line.body, endpoint: .chat)
        case .completions: key += RoutingText.of(line.body, endpoint: .completions)
        case .embeddings: key += Array((line.body["input"]?.serialized() ?? "").utf8)
        }
        return key
    }
}
