import Foundation

/// What a replayed cached response reports as `usage`.
public enum CachedUsagePolicy: String, Sendable {
    /// Zero tokens (the default, per the spec: a hit costs no new compute).
    case zero
    /// The usage stored with the response (LiteLLM's behaviour), with `cached_tokens` = `prompt_tokens`.
    case stored
}

/// Turning stored responses into replies, and streams into storable responses.
public enum CacheReplay {
    /// The stored response with a new `id` and `created`, the requested `model`, and usage per `usage`.
    public static func rewrite(_ response: JSONValue, model: String?, usage: CachedUsagePolicy, now: Double) -> JSONValue {
        guard case .object = response else { return response }
        var out = response
        let prefix = response["object"] == .string("text_completion") ? "cmpl-" : "chatcmpl-"
        if response["id"] != nil {
            out = out.cacheUpdating("id", .string(prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()))
        }
        if response["created"] != nil { out = out.cacheUpdating("created", .int(Int(now))) }
        if let model { out = out.cacheUpdating("model", .string(model)) }
        if let stored = response["usage"], case .object = stored {
            out = out.cacheUpdating("usage", replayUsage(stored, policy: usage))
        } else if response["choices"] != nil {
            // Stored from a stream that carried no usage chunk: OpenAI responses always have `usage`.
            out = out.cacheUpdating("usage", replayUsage(["prompt_tokens": 0, "completion_tokens": 0], policy: .zero))
        }
        return out
    }

    static func replayUsage(_ stored: JSONValue, policy: CachedUsagePolicy) -> JSONValue {
        switch policy {
        case .zero:
            if stored["completion_tokens"] == nil {   // embeddings usage
                return ["prompt_tokens": 0, "total_tokens": 0]
            }
            return ["prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                    "prompt_tokens_details": ["cached_tokens": 0]]
        case .stored:
            let prompt = stored["prompt_tokens"] ?? 0
            var details = stored["prompt_tokens_details"] ?? .object([])
            details = details.cacheUpdating("cached_tokens", prompt)
            return stored.cacheUpdating("prompt_tokens_details", details)
        }
    }

    /// A stored `chat.completion` or `text_completion` as the chunk objects of an OpenAI SSE stream
    /// (each becomes one `data: <json>` event; the caller adds `data: [DONE]`). Per choice: for chat a
    /// role chunk first, then the content (and tool calls) with `finish_reason` on that last chunk; then,
    /// when `includeUsage`, a final chunk with `choices: []` and the usage.
    public static func streamChunks(from response: JSONValue, includeUsage: Bool) -> [JSONValue] {
        let isText = response["object"] == .string("text_completion")
        let object: JSONValue = isText ? "text_completion" : "chat.completion.chunk"
        let base: [(String, JSONValue)] = [
            ("id", response["id"] ?? .null), ("object", object),
            ("created", response["created"] ?? .null), ("model", response["model"] ?? .null),
        ] + (response["system_fingerprint"].map { [("system_fingerprint", $0)] } ?? [])
        func chunk(_ choices: [JSONValue], usage: JSONValue? = nil) -> JSONValue {
            .object(base + [("choices", .array(choices))] + (usage.map { [("usage", $0)] } ?? []))
        }
        var chunks: [JSONValue] = []
        guard case .array(let choices)? = response["choices"] else { return chunks }
        for (position, choice) in choices.enumerated() {
            let index = choice["index"] ?? .int(position)
            let finish = choice["finish_reason"] ?? .null
            if isText {
                chunks.append(chunk([.object([
                    ("text", choice["text"] ?? ""), ("index", index),
                    ("logprobs", choice["logprobs"] ?? .null), ("finish_reason", finish),
                ])]))
                continue
            }
            let message = choice["message"] ?? .object([])
            chunks.append(chunk([.object([
                ("index", index), ("delta", ["role": "assistant", "content": ""]),
                ("logprobs", .null), ("finish_reason", .null),
            ])]))
            var delta: [(String, JSONValue)] = [("content", message["content"] ?? .null)]
            if case .array(let calls)? = message["tool_calls"] {
                delta.append(("tool_calls", .array(calls.enumerated().map { i, call in
                    call.cacheUpdating("index", .int(i))
                })))
            }
            if let refusal = message["refusal"], refusal != .null { delta.append(("refusal", refusal)) }
            chunks.append(chunk([.object([
                ("index", index), ("delta", .object(delta)),
                ("logprobs", choice["logprobs"] ?? .null), ("finish_reason", finish),
            ])]))
        }
        if includeUsage, let usage = response["usage"] { chunks.append(chunk([], usage: usage)) }
        return chunks
    }

    /// Assembles the non-streaming response from the chunks of a completed stream (for storing a
    /// streaming miss). nil when there are no chunks or no choices.
    public static func assemble(chunks: [JSONValue]) -> JSONValue? {
        guard let first = chunks.first else { return nil }
        let isText = first["object"] == .string("text_completion")
        struct Choice {
            var role: JSONValue = "assistant"
            var content = ""
            var sawContent = false
            var refusal: String?
            var toolCalls: [Int: [(String, JSONValue)]] = [:]
            var finish: JSONValue = .null
            var logprobs: JSONValue = .null
        }
        var choices: [Int: Choice] = [:]
        var usage: JSONValue?
        var fingerprint: JSONValue?
        for chunk in chunks {
            if let u = chunk["usage"], u != .null { usage = u }
            if let f = chunk["system_fingerprint"], f != .null { fingerprint = f }
            guard case .array(let parts)? = chunk["choices"] else { continue }
            for part in parts {
                guard case .int(let index)? = part["index"] else { continue }
                var choice = choices[index] ?? Choice()
                if let finish = part["finish_reason"], finish != .null { choice.finish = finish }
                if let lp = part["logprobs"], lp != .null { choice.logprobs = mergeLogprobs(choice.logprobs, lp) }
                if isText {
                    if case .string(let t)? = part["text"] { choice.content += t; choice.sawContent = true }
                } else if let delta = part["delta"] {
                    if let role = delta["role"], role != .null { choice.role = role }
                    if case .string(let t)? = delta["content"] { choice.content += t; choice.sawContent = true }
                    if case .string(let r)? = delta["refusal"] { choice.refusal = (choice.refusal ?? "") + r }
                    if case .array(let calls)? = delta["tool_calls"] {
                        for call in calls { mergeToolCall(call, into: &choice.toolCalls) }
                    }
                }
                choices[index] = choice
            }
        }
        guard !choices.isEmpty else { return nil }
        let built: [JSONValue] = choices.keys.sorted().map { index in
            let c = choices[index]!
            if isText {
                return .object([("text", .string(c.content)), ("index", .int(index)),
                                ("logprobs", c.logprobs), ("finish_reason", c.finish)])
            }
            var message: [(String, JSONValue)] = [
                ("role", c.role), ("content", c.sawContent || c.toolCalls.isEmpty ? .string(c.content) : .null),
            ]
            if let refusal = c.refusal { message.append(("refusal", .string(refusal))) }
            if !c.toolCalls.isEmpty {
                message.append(("tool_calls", .array(c.toolCalls.keys.sorted().map { .object(c.toolCalls[$0]!) })))
            }
            return .object([("index", .int(index)), ("message", .object(message)),
                            ("logprobs", c.logprobs), ("finish_reason", c.finish)])
        }
        var pairs: [(String, JSONValue)] = [
            ("id", first["id"] ?? .null), ("object", isText ? "text_completion" : "chat.completion"),
            ("created", first["created"] ?? .null), ("model", first["model"] ?? .null),
        ]
        if let fingerprint { pairs.append(("system_fingerprint", fingerprint)) }
        pairs.append(("choices", .array(built)))
        if let usage { pairs.append(("usage", usage)) }
        return .object(pairs)
    }

    private static func mergeToolCall(_ call: JSONValue, into calls: inout [Int: [(String, JSONValue)]]) {
        guard case .int(let i)? = call["index"] else { return }
        var current = JSONValue.object(calls[i] ?? [])
        for key in ["id", "type"] {
            if let v = call[key], v != .null { current = current.cacheUpdating(key, v) }
        }
        if let function = call["function"] {
            var f = current["function"] ?? .object([])
            if case .string(let name)? = function["name"] {
                f = f.cacheUpdating("name", .string(name))
            }
            if case .string(let args)? = function["arguments"] {
                let previous: String = { if case .string(let s)? = f["arguments"] { return s }; return "" }()
                f = f.cacheUpdating("arguments", .string(previous + args))
            }
            current = current.cacheUpdating("function", f)
        }
        if case .object(let pairs) = current { calls[i] = pairs }
    }

    /// Concatenates the `content` arrays of chat logprobs (or the token lists of text logprobs).
    private static func mergeLogprobs(_ a: JSONValue, _ b: JSONValue) -> JSONValue {
        guard case .object = a else { return b }
        var out = a
        for key in ["content", "tokens", "token_logprobs", "top_logprobs", "text_offset"] {
            if case .array(let x)? = a[key], case .array(let y)? = b[key] { out = out.cacheUpdating(key, .array(x + y)) }
        }
        return out
    }
}

extension JSONValue {
    /// The object with `key` set to `value` (replaced in place, or appended); other values unchanged.
    func cacheUpdating(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var pairs) = self else { return self }
        if let i = pairs.firstIndex(where: { $0.0 == key }) {
            pairs[i].1 = value
        } else {
            pairs.append((key, value))
        }
        return .object(pairs)
    }
}
