import Foundation

/// OpenAI chat <-> Anthropic Messages translation (https://docs.anthropic.com/en/api/messages), as
/// LiteLLM does it (`litellm/llms/anthropic/chat/transformation.py`).
enum AnthropicTranslation {
    /// LiteLLM's default when the client sets no `max_tokens` (the Messages API requires one).
    static let defaultMaxTokens = 4096

    // MARK: request

    /// Builds the Messages request from an OpenAI chat (or completions: `prompt` becomes one user turn)
    /// body. Throws a 400 for shapes the Messages API cannot express.
    static func messagesRequest(from body: JSONValue, endpoint: Endpoint, stream: Bool) throws(ProviderError) -> JSONValue {
        var openAIMessages: [JSONValue]
        if endpoint == .completions {
            guard let prompt = body["prompt"]?.stringField else {
                throw badRequest("`prompt` must be a string for an anthropic/ deployment", param: "prompt")
            }
            openAIMessages = [["role": "user", "content": .string(prompt)]]
        } else {
            guard let messages = body["messages"]?.arrayField else {
                throw badRequest("`messages` must be an array", param: "messages")
            }
            openAIMessages = messages
        }
        var system: [JSONValue] = []
        var messages: [JSONValue] = []
        for (index, message) in openAIMessages.enumerated() {
            let role = message["role"]?.stringField ?? ""
            switch role {
            case "system", "developer":
                system += try blocks(message, index: index)
            case "user":
                append(role: "user", blocks: try blocks(message, index: index), to: &messages)
            case "assistant":
                var content = try blocks(message, index: index)
                for call in message["tool_calls"]?.arrayField ?? [] {
                    let arguments = call["function"]?["arguments"]?.stringField ?? "{}"
                    let input = (try? JSONValue.parse(Data(arguments.utf8))) ?? .object([])
                    content.append(.object([
                        ("type", "tool_use"), ("id", call["id"] ?? .string("call_\(index)")),
                        ("name", call["function"]?["name"] ?? ""), ("input", input),
                    ]))
                }
                append(role: "assistant", blocks: content, to: &messages)
            case "tool", "function":
                let text = try blocks(message, index: index).compactMap { $0["text"]?.stringField }.joined()
                let result: JSONValue = .object([
                    ("type", "tool_result"), ("tool_use_id", message["tool_call_id"] ?? ""), ("content", .string(text)),
                ])
                append(role: "user", blocks: [result], to: &messages)
            default:
                throw badRequest("messages[\(index)].role `\(role)` is not supported by anthropic/",
                                 param: "messages[\(index)].role")
            }
        }

        var out: [(String, JSONValue)] = [("model", body["model"] ?? "")]
        if !system.isEmpty {
            let plain = system.allSatisfy { $0["cache_control"] == nil }
            out.append(("system", plain
                ? .string(system.compactMap { $0["text"]?.stringField }.joined(separator: "\n"))
                : .array(system)))
        }
        out.append(("messages", .array(messages)))
        let maxTokens = body["max_tokens"]?.intField ?? body["max_completion_tokens"]?.intField ?? defaultMaxTokens
        out.append(("max_tokens", .int(maxTokens)))
        switch body["stop"] {
        case .string(let stop)?: out.append(("stop_sequences", [.string(stop)]))
        case .array(let stops)?: out.append(("stop_sequences", .array(stops)))
        default: break
        }
        for key in ["temperature", "top_p", "top_k"] {
            if let value = body[key], value != .null { out.append((key, value)) }
        }
        if let user = body["user"]?.stringField { out.append(("metadata", ["user_id": .string(user)])) }
        if let tools = body["tools"]?.arrayField {
            out.append(("tools", .array(tools.map { tool in
                var pairs: [(String, JSONValue)] = [("name", tool["function"]?["name"] ?? "")]
                if let description = tool["function"]?["description"] { pairs.append(("description", description)) }
                pairs.append(("input_schema", tool["function"]?["parameters"] ?? ["type": "object"]))
                if let cache = tool["cache_control"] { pairs.append(("cache_control", cache)) }
                return .object(pairs)
            })))
        }
        switch body["tool_choice"] {
        case .string("auto")?: out.append(("tool_choice", ["type": "auto"]))
        case .string("required")?: out.append(("tool_choice", ["type": "any"]))
        case .string("none")?: out.append(("tool_choice", ["type": "none"]))
        case .object?:
            if let name = body["tool_choice"]?["function"]?["name"] {
                out.append(("tool_choice", ["type": "tool", "name": name]))
            }
        default: break
        }
        if stream { out.append(("stream", true)) }
        return .object(out)
    }

    /// The content of one OpenAI message as Anthropic content blocks (`cache_control` passes through,
    /// on parts and on the message, where it applies to the last block).
    private static func blocks(_ message: JSONValue, index: Int) throws(ProviderError) -> [JSONValue] {
        var result: [JSONValue] = []
        switch message["content"] {
        case .string(let text)?:
            if !text.isEmpty { result.append(["type": "text", "text": .string(text)]) }
        case .array(let parts)?:
            for (p, part) in parts.enumerated() {
                switch part["type"]?.stringField {
                case "text"?:
                    var block: [(String, JSONValue)] = [("type", "text"), ("text", part["text"] ?? "")]
                    if let cache = part["cache_control"] { block.append(("cache_control", cache)) }
                    result.append(.object(block))
                case "image_url"?:
                    let url = part["image_url"]?["url"]?.stringField ?? part["image_url"]?.stringField ?? ""
                    result.append(["type": "image", "source": imageSource(url)])
                default:
                    throw badRequest("messages[\(index)].content[\(p)]: unsupported content part type",
                                     param: "messages[\(index)].content[\(p)].type")
                }
            }
        case nil, .null?: break
        default:
            throw badRequest("messages[\(index)].content must be a string or an array",
                             param: "messages[\(index)].content")
        }
        if let cache = message["cache_control"], let last = result.indices.last {
            result[last] = result[last].settingField("cache_control", cache)
        }
        return result
    }

    private static func imageSource(_ url: String) -> JSONValue {
        // data:<media type>;base64,<data>
        if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), let semi = url.firstIndex(of: ";") {
            let mediaType = String(url[url.index(url.startIndex, offsetBy: 5)..<semi])
            return ["type": "base64", "media_type": .string(mediaType),
                    "data": .string(String(url[url.index(after: comma)...]))]
        }
        return ["type": "url", "url": .string(url)]
    }

    /// Appends blocks as a turn, merging with the previous turn of the same role (the API alternates).
    private static func append(role: String, blocks: [JSONValue], to messages: inout [JSONValue]) {
        if let last = messages.last, last["role"]?.stringField == role,
           case .array(let previous)? = last["content"] {
            messages[messages.count - 1] = ["role": .string(role), "content": .array(previous + blocks)]
        } else {
            messages.append(["role": .string(role), "content": .array(blocks)])
        }
    }

    static func badRequest(_ message: String, param: String? = nil) -> ProviderError {
        ProviderError(status: 400, message: message, type: "invalid_request_error", param: param, kind: .badRequest)
    }

    // MARK: response

    /// `stop_reason` -> OpenAI `finish_reason`.
    static func finishReason(_ stopReason: String?) -> JSONValue { AnthropicVocabulary.finishReason(stopReason) }

    /// Anthropic usage -> OpenAI usage: prompt tokens include cache reads and writes; cache reads are
    /// reported as `prompt_tokens_details.cached_tokens`.
    ///
    /// NOTE: the counts are the upstream's JSON numbers: negative ones count as 0 and the sums saturate at
    /// `Int.max`, so a broken or hostile upstream can neither trap the gateway on overflow nor make it report
    /// negative usage (bench/fuzz `json` regression).
    static func usage(input: Int, cacheRead: Int, cacheCreation: Int, output: Int) -> JSONValue {
        let input = max(input, 0), cacheRead = max(cacheRead, 0), cacheCreation = max(cacheCreation, 0)
        let output = max(output, 0)
        func sum(_ a: Int, _ b: Int) -> Int {
            let (s, overflow) = a.addingReportingOverflow(b)
            return overflow ? .max : s
        }
        let prompt = sum(sum(input, cacheRead), cacheCreation)
        return .object([
            ("prompt_tokens", .int(prompt)), ("completion_tokens", .int(output)),
            ("total_tokens", .int(sum(prompt, output))),
            ("prompt_tokens_details", ["cached_tokens": .int(cacheRead)]),
            ("cache_read_input_tokens", .int(cacheRead)), ("cache_creation_input_tokens", .int(cacheCreation)),
        ])
    }

    /// A Messages response -> an OpenAI chat completion (or text completion).
    static func openAIResponse(from message: JSONValue, endpoint: Endpoint, created: Int) -> JSONValue {
        var text = ""
        var toolCalls: [JSONValue] = []
        for block in message["content"]?.arrayField ?? [] {
            switch block["type"]?.stringField {
            case "text"?: text += block["text"]?.stringField ?? ""
            case "tool_use"?:
                toolCalls.append(.object([
                    ("id", block["id"] ?? ""), ("type", "function"),
                    ("function", .object([("name", block["name"] ?? ""),
                                          ("arguments", .string((block["input"] ?? .object([])).serialized()))])),
                ]))
            default: break
            }
        }
        let u = message["usage"]
        let usage = Self.usage(input: u?["input_tokens"]?.intField ?? 0,
                               cacheRead: u?["cache_read_input_tokens"]?.intField ?? 0,
                               cacheCreation: u?["cache_creation_input_tokens"]?.intField ?? 0,
                               output: u?["output_tokens"]?.intField ?? 0)
        let finish = finishReason(message["stop_reason"]?.stringField)
        let choice: JSONValue
        if endpoint == .completions {
            choice = .object([("text", .string(text)), ("index", 0), ("logprobs", .null), ("finish_reason", finish)])
        } else {
            var assistant: [(String, JSONValue)] = [("role", "assistant"),
                                                    ("content", text.isEmpty && !toolCalls.isEmpty ? .null : .string(text))]
            if !toolCalls.isEmpty { assistant.append(("tool_calls", .array(toolCalls))) }
            choice = .object([("index", 0), ("message", .object(assistant)), ("logprobs", .null),
                              ("finish_reason", finish)])
        }
        return .object([
            ("id", message["id"] ?? ""), ("object", endpoint == .chat ? "chat.completion" : "text_completion"),
            ("created", .int(created)), ("model", message["model"] ?? ""),
            ("choices", [choice]), ("usage", usage),
        ])
    }

    /// An Anthropic `error` object (`{"type": "overloaded_error", "message": ...}`) -> ProviderError.
    static func streamError(_ error: JSONValue?) -> ProviderError {
        let status = AnthropicVocabulary.errorStatus(type: error?["type"]?.stringField)
        let body: JSONValue = ["error": error ?? ["message": "unknown upstream stream error"]]
        return ProviderErrorMapping.map(status: status, body: Array(body.serialized().utf8), head: nil)
    }
}
