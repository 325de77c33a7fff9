import Foundation
import Gateway

/// The internal chat answer (an OpenAI chat completion) as a Messages API `message`: text and `tool_use`
/// content blocks, `stop_reason` / `stop_sequence`, and Anthropic's usage.
enum AnthropicInboundResponse {
    /// `msg_` + the completion id's random part (a cached answer keeps its id, as on chat completions).
    static func messageID(_ openAIID: String?) -> String {
        guard let id = openAIID, !id.isEmpty else {
            return "msg_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        }
        if let dash = id.lastIndex(of: "-") { return "msg_" + id[id.index(after: dash)...] }
        return id.hasPrefix("msg_") ? id : "msg_" + id
    }

    /// OpenAI usage -> Anthropic usage. `input_tokens` excludes the cache reads and writes (Anthropic counts
    /// the three apart); cache reads are `cache_read_input_tokens` (else `prompt_tokens_details.cached_tokens`:
    /// the prefix cache's hit), writes `cache_creation_input_tokens` (a `cache_control` pin, else 0).
    static func usage(_ u: JSONValue?) -> JSONValue {
        func count(_ v: JSONValue?) -> Int {
            switch v {
            case .int(let i)?: max(i, 0)
            case .double(let d)? where d.isFinite && d >= 0 && d < 1e15: Int(d)
            default: 0
            }
        }
        let prompt = count(u?["prompt_tokens"])
        let cacheRead = u?["cache_read_input_tokens"] != nil ? count(u?["cache_read_input_tokens"])
                                                            : count(u?["prompt_tokens_details"]?["cached_tokens"])
        let cacheCreation = count(u?["cache_creation_input_tokens"])
        let input = max(0, prompt - min(prompt, cacheRead) - min(prompt, cacheCreation))
        return .object([
            ("input_tokens", .int(input)), ("cache_creation_input_tokens", .int(cacheCreation)),
            ("cache_read_input_tokens", .int(cacheRead)), ("output_tokens", .int(count(u?["completion_tokens"]))),
        ])
    }

    /// `stop_reason` and `stop_sequence` of a choice: the matched stop string rides on vLLM's
    /// `choices[].stop_reason` (the local engine and vLLM send it); it is reported when it is one of the
    /// request's `stop_sequences`.
    static func stop(finishReason: String?, matched: JSONValue?, stopSequences: [String]) -> (JSONValue, JSONValue) {
        var sequence: String?
        if finishReason == "stop", case .string(let s)? = matched, stopSequences.contains(s) { sequence = s }
        let reason = AnthropicVocabulary.stopReason(finishReason: finishReason, matchedStopSequence: sequence != nil)
        return (.optional(reason), .optional(sequence))
    }

    /// A chat completion -> a `message` (the first choice; `n` is not a Messages API field).
    static func message(from completion: JSONValue, model: String, stopSequences: [String]) -> JSONValue {
        let choice = completion["choices"]?.arrayFirst
        let message = choice?["message"]
        var content: [JSONValue] = []
        switch message?["content"] {
        case .string(let text)? where !text.isEmpty: content.append(["type": "text", "text": .string(text)])
        case .array(let parts)?:
            for part in parts {
                if case .string(let text)? = part["text"], !text.isEmpty { content.append(["type": "text", "text": .string(text)]) }
            }
        default: break
        }
        if case .array(let calls)? = message?["tool_calls"] {
            for call in calls {
                content.append(.object([
                    ("type", "tool_use"), ("id", call["id"] ?? .string("toolu_" + UUID().uuidString)),
                    ("name", call["function"]?["name"] ?? ""), ("input", toolInput(call["function"]?["arguments"])),
                ]))
            }
        }
        let (reason, sequence) = stop(finishReason: choice?["finish_reason"]?.stringField, matched: choice?["stop_reason"],
                                      stopSequences: stopSequences)
        return .object([
            ("id", .string(messageID(completion["id"]?.stringField))), ("type", "message"), ("role", "assistant"),
            ("model", .string(model)), ("content", .array(content)), ("stop_reason", reason),
            ("stop_sequence", sequence), ("usage", usage(completion["usage"])),
        ])
    }

    /// A call's `arguments` text as the `input` object (an empty object when it is not a JSON object:
    /// `input` must be one).
    static func toolInput(_ arguments: JSONValue?) -> JSONValue {
        guard case .string(let text)? = arguments, let parsed = try? JSONValue.parse(Data(text.utf8)),
              case .object = parsed else { return .object([]) }
        return parsed
    }
}

extension JSONValue {
    /// The first element, if this is a non-empty array.
    var arrayFirst: JSONValue? {
        if case .array(let items) = self { return items.first }
        return nil
    }
}
