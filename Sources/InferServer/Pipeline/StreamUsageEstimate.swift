import Engine
import Foundation
import Gateway

/// The usage of a stream that ended before its usage chunk (the client hung up or stalled, or the upstream
/// failed mid-answer): the work done is still charged, so a client cannot spend past its budget by closing
/// every stream just before the end. Counted with the local model's tokenizer when the server has one (exact
/// for the local engine's output text, an approximation for a remote model's), else at 4 bytes per token
/// (rounded up). Prompt: the text of every message plus the chat template's framing, counted as OpenAI's
/// cookbook does (`num_tokens_from_messages`: 3 tokens per message, 3 more for the reply's start), or the
/// prompt; completion: the text and tool-call arguments the client was sent.
enum StreamUsageEstimate {
    static func usage(body: JSONValue, sent: [JSONValue], tokenizer: (any Tokenizer)?) -> JSONValue {
        var prompt = "", framing = 0
        if case .array(let messages)? = body["messages"] {
            for m in messages { prompt += text(m["content"]) + "\n" }
            framing = 3 * messages.count + 3
        } else {
            prompt = text(body["prompt"])
        }
        var completion = ""
        for chunk in sent {
            guard case .array(let choices)? = chunk["choices"] else { continue }
            for choice in choices {
                completion += choice["text"]?.stringField ?? ""
                let delta = choice["delta"]
                completion += delta?["content"]?.stringField ?? ""
                if case .array(let calls)? = delta?["tool_calls"] {
                    for call in calls { completion += call["function"]?["arguments"]?.stringField ?? "" }
                }
            }
        }
        let p = count(prompt, tokenizer) + framing, c = count(completion, tokenizer)
        return .object([("prompt_tokens", .int(p)), ("completion_tokens", .int(c)), ("total_tokens", .int(p + c))])
    }

    private static func count(_ text: String, _ tokenizer: (any Tokenizer)?) -> Int {
        guard !text.isEmpty else { return 0 }
        if let tokenizer { return tokenizer.encode(text, addSpecial: false, parseSpecial: false).count }
        return (text.utf8.count + 3) / 4
    }

    private static func text(_ value: JSONValue?) -> String {
        switch value {
        case .string(let s)?: return s
        case .array(let parts)?: return parts.compactMap { $0["text"]?.stringField }.joined(separator: "\n")
        default: return ""
        }
    }
}
