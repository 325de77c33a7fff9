import Engine
import Gateway

/// Renders token log-probabilities in OpenAI's two shapes.
struct LogprobsFormat: Sendable {
    let tokenizer: any Tokenizer

    /// A token's text and raw bytes (control tokens are rendered as their text).
    func piece(_ id: Int) -> (text: String, bytes: [UInt8]) {
        let bytes = tokenizer.pieceBytes(id, special: true)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }

    /// Chat shape: `{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal": null}`.
    func chat(_ tokens: [TokenInfo]) -> JSONValue {
        let content: [JSONValue] = tokens.map { t in
            let (text, bytes) = piece(t.id)
            let top: [JSONValue] = t.top.map { alt in
                let (altText, altBytes) = piece(alt.id)
                return ["token": .string(altText), "logprob": .float(alt.logprob),
                        "bytes": .array(altBytes.map { .int(Int($0)) })]
            }
            return ["token": .string(text), "logprob": .float(t.logprob ?? 0),
                    "bytes": .array(bytes.map { .int(Int($0)) }), "top_logprobs": .array(top)]
        }
        return ["content": .array(content), "refusal": nil]
    }

    /// Legacy completions shape: `{"tokens", "token_logprobs", "top_logprobs", "text_offset"}`; offsets
    /// count Unicode scalars (Python characters) from `startOffset`.
    func completion(_ tokens: [TokenInfo], startOffset: Int) -> (json: JSONValue, endOffset: Int) {
        var texts: [JSONValue] = [], lps: [JSONValue] = [], tops: [JSONValue] = [], offsets: [JSONValue] = []
        var offset = startOffset
        for t in tokens {
            let text = piece(t.id).text
            texts.append(.string(text))
            lps.append(.float(t.logprob ?? 0))
            var seen = Set<String>()
            var pairs: [(String, JSONValue)] = []
            for alt in t.top {
                let altText = piece(alt.id).text
                if seen.insert(altText).inserted { pairs.append((altText, .float(alt.logprob))) }
            }
            tops.append(.object(pairs))
            offsets.append(.int(offset))
            offset += text.unicodeScalars.count
        }
        return (["tokens": .array(texts), "token_logprobs": .array(lps), "top_logprobs": .array(tops),
                 "text_offset": .array(offsets)], offset)
    }
}
