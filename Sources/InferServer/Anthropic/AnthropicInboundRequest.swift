import Gateway
import OpenAIRequest

/// A `POST /v1/messages` (or `/v1/messages/count_tokens`) body, validated and translated into the internal
/// chat request (an OpenAI chat completions body), which then takes the same way as `/v1/chat/completions`:
/// router, auth, caches, local engine or remote deployments. The reverse of `AnthropicTranslation` (the
/// outbound side, Gateway), whose shared vocabulary is `AnthropicVocabulary`.
///
/// Every field of the Messages API request (API version 2026-10-21, and the sampling fields of 2023-06-01) is
/// honoured or refused with a 400 naming it:
/// - translated: `model`, `messages`, `max_tokens` (required for messages), `system`, `stop_sequences`,
///   `temperature`, `top_p`, `top_k`, `stream`, `tools`, `tool_choice`, `metadata.user_id` (-> `user`: the
///   sticky session and the spend log's user), `cache_control` (a breakpoint on the last message),
///   `output_config.format` (`json_schema` -> `response_format`: constrained decoding on the local model);
/// - accepted, no effect (one tier, one region, one speed, no thinking here): `service_tier`, `inference_geo`,
///   `speed`, `user_profile_id`, `workspace_id`, `output_config.effort`, `thinking: {"type": "disabled"}`;
/// - the gateway's own `cache`, `fallbacks`, `disable_fallbacks` pass through as on chat completions;
/// - anything else (`thinking` enabled, `container`, `diagnostics`, `mcp_servers`, server tools, unknown block
///   types...) is a 400.
struct AnthropicInboundRequest: Sendable {
    enum Kind: Sendable { case messages, countTokens }

    /// The chat completions body the gateway routes.
    let chatBody: JSONValue
    /// The requested model group.
    let model: String
    let stream: Bool
    /// The request's `stop_sequences` (a `stop` finish whose matched string is one of them is `stop_sequence`).
    let stopSequences: [String]

    /// Most entries in `messages` (the Messages API's own limit).
    static let maxMessages = 100_000
    /// Most content blocks in one message or in `system`.
    static let maxBlocks = 10_000

    static let messagesFields: Set<String> = [
        "model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p", "top_k",
        "stream", "tools", "tool_choice", "metadata", "service_tier", "cache_control", "output_config",
        "inference_geo", "speed", "user_profile_id", "workspace_id", "thinking",
        "cache", "fallbacks", "disable_fallbacks",
    ]
    static let countTokensFields: Set<String> = [
        "model", "messages", "system", "tools", "tool_choice", "cache_control", "output_config", "speed",
        "user_profile_id", "workspace_id", "thinking",
    ]

    init(_ body: JSONValue, kind: Kind) throws {
        guard case .object(let pairs) = body else {
            throw OpenAIError.invalidRequest("The request body must be a JSON object, got \(body.typeName).")
        }
        let allowed = kind == .messages ? Self.messagesFields : Self.countTokensFields
        let unknown = pairs.map { $0.0 }.filter { !allowed.contains($0) }
        if !unknown.isEmpty {
            throw OpenAIError.badParameter(unknown[0],
                "Unsupported request field(s): \(unknown.map { "'\($0)'" }.joined(separator: ", ")). Accepted: \(allowed.sorted().joined(separator: ", ")).")
        }
        let f = try RequestFields(body)
        guard let model = try f.string("model") else { throw OpenAIError.badParameter("model", "'model' is required.") }
        self.model = model
        var out: [(String, JSONValue)] = [("model", .string(model))]

        var messages: [JSONValue] = []
        if let system = f.value("system") { messages += try Self.system(system) }
        messages += try Self.messages(f, allowPrefill: kind == .countTokens)
        if let control = f.value("cache_control"), let last = messages.indices.last {
            // Top-level cache_control marks the last cacheable block: the whole prompt is the prefix.
            messages[last] = messages[last].settingField("cache_control", control)
        }
        out.append(("messages", .array(messages)))
        try Self.noOpFields(f)

        stream = try kind == .messages ? (f.bool("stream") ?? false) : false
        stopSequences = try f.stringList("stop_sequences") ?? []
        if kind == .messages {
            guard let maxTokens = try f.int("max_tokens", in: 1...Int(Int32.max)) else {
                throw OpenAIError.badParameter("max_tokens", "'max_tokens' is required.")
            }
            out.append(("max_tokens", .int(maxTokens)))
            if !stopSequences.isEmpty { out.append(("stop", .array(stopSequences.map { .string($0) }))) }
            if let t = try f.double("temperature", in: 0...1) { out.append(("temperature", .double(t))) }
            if let p = try f.double("top_p", in: 0...1) { out.append(("top_p", .double(p))) }
            if let k = try f.int("top_k", in: 0...Int(Int32.max)) { out.append(("top_k", .int(k))) }
            if stream {
                out.append(("stream", true))
                out.append(("stream_options", ["include_usage": true]))
            }
            if let user = try Self.metadataUser(f) { out.append(("user", .string(user))) }
            if let tier = try f.string("service_tier"), !["auto", "standard_only"].contains(tier) {
                throw OpenAIError.badParameter("service_tier", "'service_tier' must be 'auto' or 'standard_only'.")
            }
            for key in ["cache", "fallbacks", "disable_fallbacks"] {
                if let v = f.value(key) { out.append((key, v)) }
            }
        }
        if let format = try Self.outputFormat(f) { out.append(("response_format", format)) }
        if let tools = f.value("tools") { out.append(("tools", try Self.tools(tools))) }
        if let choice = f.value("tool_choice") {
            let (openAI, parallel) = try Self.toolChoice(choice)
            out.append(("tool_choice", openAI))
            if let parallel { out.append(("parallel_tool_calls", .bool(parallel))) }
        }
        chatBody = .object(out)
    }

    // MARK: system and messages

    private static func system(_ value: JSONValue) throws -> [JSONValue] {
        switch value {
        case .string(let s): return s.isEmpty ? [] : [["role": "system", "content": .string(s)]]
        case .array(let blocks):
            guard blocks.count <= maxBlocks else { throw tooMany("system", maxBlocks) }
            let parts = try blocks.enumerated().map { j, block in
                try textPart(block, path: "system[\(j)]")
            }
            return parts.isEmpty ? [] : [["role": "system", "content": .array(parts)]]
        default:
            throw OpenAIError.badParameter("system", "'system' must be a string or an array of text blocks, got \(value.typeName).")
        }
    }

    private static func messages(_ f: RequestFields, allowPrefill: Bool) throws -> [JSONValue] {
        guard let raw = f.value("messages") else {
            throw OpenAIError.badParameter("messages", "'messages' is required.")
        }
        guard case .array(let items) = raw else { throw f.typeError("messages", "an array", raw) }
        guard !items.isEmpty else { throw OpenAIError.badParameter("messages", "'messages' must not be empty.") }
        guard items.count <= maxMessages else { throw tooMany("messages", maxMessages) }
        var out: [JSONValue] = []
        var openToolUses: Set<String> = []   // tool_use ids of the previous assistant turn
        for (i, item) in items.enumerated() {
            let path = "messages[\(i)]"
            guard case .object(let keys) = item else { throw f.typeError(path, "an object", item) }
            if let extra = keys.map({ $0.0 }).first(where: { $0 != "role" && $0 != "content" }) {
                throw OpenAIError.badParameter("\(path).\(extra)", "'\(path).\(extra)' is not a message field (role, content).")
            }
            let blocks = try contentBlocks(item["content"], path: "\(path).content")
            switch item["role"] {
            case .string("user")?:
                out += try userTurn(blocks, path: path, toolUses: openToolUses)
                openToolUses = []
            case .string("assistant")?:
                if i == items.count - 1, !allowPrefill {
                    throw OpenAIError.badParameter(path,
                        "A final assistant message (prefill) is not supported; end 'messages' with a user turn.")
                }
                let (message, ids) = try assistantTurn(blocks, path: path)
                out.append(message)
                openToolUses = ids
            default:
                throw OpenAIError.badParameter("\(path).role", "'\(path).role' must be 'user' or 'assistant'.")
            }
        }
        return out
    }

    /// A message's content as blocks (a string is one text block).
    private static func contentBlocks(_ value: JSONValue?, path: String) throws -> [(JSONValue, String)] {
        switch value {
        case .string(let s)?: return [(["type": "text", "text": .string(s)], path)]
        case .array(let blocks)?:
            guard !blocks.isEmpty else { throw OpenAIError.badParameter(path, "'\(path)' must not be empty.") }
            guard blocks.count <= maxBlocks else { throw tooMany(path, maxBlocks) }
            return blocks.enumerated().map { ($1, "\(path)[\($0)]") }
        case nil, .null?: throw OpenAIError.badParameter(path, "'\(path)' is required.")
        case let other?:
            throw OpenAIError.badParameter(path, "'\(path)' must be a string or an array of content blocks, got \(other.typeName).")
        }
    }

    /// A user turn: its tool results become `tool` messages (in order), its text and images a user message.
    private static func userTurn(_ blocks: [(JSONValue, String)], path: String, toolUses: Set<String>) throws -> [JSONValue] {
        var out: [JSONValue] = []
        var parts: [JSONValue] = []
        func flush() {
            if !parts.isEmpty { out.append(["role": "user", "content": .array(parts)]) }
            parts = []
        }
        for (block, p) in blocks {
            switch try blockType(block, path: p) {
            case "text": parts.append(try textPart(block, path: p))
            case "image": parts.append(try imagePart(block, path: p))
            case "tool_result":
                flush()
                out.append(try toolResult(block, path: p, toolUses: toolUses))
            case let other:
                throw OpenAIError.badParameter("\(p).type", "'\(p).type' '\(other)' is not supported in a user message (text, image, tool_result).")
            }
        }
        flush()
        return out
    }

    /// An assistant turn: text blocks as content parts, tool_use blocks as `tool_calls`; returns the ids.
    private static func assistantTurn(_ blocks: [(JSONValue, String)], path: String) throws -> (JSONValue, Set<String>) {
        var parts: [JSONValue] = []
        var calls: [JSONValue] = []
        var ids: Set<String> = []
        for (block, p) in blocks {
            switch try blockType(block, path: p) {
            case "text":
                let part = try textPart(block, path: p)
                if part["text"]?.stringField != "" || part["cache_control"] != nil { parts.append(part) }
            case "tool_use":
                try checkKeys(block, ["type", "id", "name", "input", "cache_control"], path: p)
                guard case .string(let id)? = block["id"], !id.isEmpty else { throw required("\(p).id", "a non-empty string") }
                guard case .string(let name)? = block["name"] else { throw required("\(p).name", "a string") }
                guard let input = block["input"], case .object = input else { throw required("\(p).input", "an object") }
                guard ids.insert(id).inserted else {
                    throw OpenAIError.badParameter("\(p).id", "Two tool_use blocks of one turn have the id '\(id)'.")
                }
                calls.append(["id": .string(id), "type": "function",
                              "function": ["name": .string(name), "arguments": .string(input.serialized())]])
            case let other:
                throw OpenAIError.badParameter("\(p).type", "'\(p).type' '\(other)' is not supported in an assistant message (text, tool_use).")
            }
        }
        var message: [(String, JSONValue)] = [("role", "assistant"), ("content", parts.isEmpty ? .null : .array(parts))]
        if !calls.isEmpty { message.append(("tool_calls", .array(calls))) }
        return (.object(message), ids)
    }

    private static func blockType(_ block: JSONValue, path: String) throws -> String {
        guard case .object = block else {
            throw OpenAIError.badParameter(path, "'\(path)' must be a content block object, got \(block.typeName).")
        }
        guard case .string(let type)? = block["type"] else { throw required("\(path).type", "a string") }
        return type
    }

    /// `{"type": "text", "text", "cache_control"?}` -> an OpenAI text part (cache_control kept).
    private static func textPart(_ block: JSONValue, path: String) throws -> JSONValue {
        guard try blockType(block, path: path) == "text" else {
            throw OpenAIError.badParameter("\(path).type", "'\(path).type' must be 'text' here.")
        }
        try checkKeys(block, ["type", "text", "cache_control", "citations"], path: path)
        guard case .string(let text)? = block["text"] else { throw required("\(path).text", "a string") }
        if let citations = block["citations"], citations != .null, citations != .array([]) {
            throw OpenAIError.badParameter("\(path).citations", "'\(path).citations' is not supported.")
        }
        var part: [(String, JSONValue)] = [("type", "text"), ("text", .string(text))]
        if let c = block["cache_control"], c != .null { part.append(("cache_control", c)) }
        return .object(part)
    }

    /// `{"type": "image", "source": {base64 | url}}` -> an OpenAI `image_url` part (a text-only model
    /// refuses it with a 400; a remote vision model gets it).
    private static func imagePart(_ block: JSONValue, path: String) throws -> JSONValue {
        try checkKeys(block, ["type", "source", "cache_control"], path: path)
        let source = block["source"]
        switch source?["type"] {
        case .string("base64")?:
            guard case .string(let media)? = source?["media_type"], case .string(let data)? = source?["data"],
                  ["image/jpeg", "image/png", "image/gif", "image/webp"].contains(media) else {
                throw OpenAIError.badParameter("\(path).source",
                    "'\(path).source' must be {\"type\": \"base64\", \"media_type\": image/jpeg|png|gif|webp, \"data\"}.")
            }
            return ["type": "image_url", "image_url": ["url": .string("data:\(media);base64,\(data)")]]
        case .string("url")?:
            guard case .string(let url)? = source?["url"] else { throw required("\(path).source.url", "a string") }
            return ["type": "image_url", "image_url": ["url": .string(url)]]
        default:
            throw OpenAIError.badParameter("\(path).source", "'\(path).source.type' must be 'base64' or 'url'.")
        }
    }

    /// `{"type": "tool_result", "tool_use_id", "content"?, "is_error"?}` -> a `tool` message. The id must name
    /// a tool_use of the previous assistant turn; an error result's text is prefixed with "Error: ".
    private static func toolResult(_ block: JSONValue, path: String, toolUses: Set<String>) throws -> JSONValue {
        try checkKeys(block, ["type", "tool_use_id", "content", "is_error", "cache_control"], path: path)
        guard case .string(let id)? = block["tool_use_id"] else { throw required("\(path).tool_use_id", "a string") }
        guard toolUses.contains(id) else {
            throw OpenAIError.badParameter("\(path).tool_use_id",
                "'\(path).tool_use_id' '\(id)' does not match a tool_use block of the previous assistant message.")
        }
        var text: String
        switch block["content"] {
        case nil, .null?: text = ""
        case .string(let s)?: text = s
        case .array(let blocks)?:
            guard blocks.count <= maxBlocks else { throw tooMany("\(path).content", maxBlocks) }
            text = try blocks.enumerated().map { j, b in
                try textPart(b, path: "\(path).content[\(j)]")["text"]?.stringField ?? ""
            }.joined(separator: "\n")
        case let other?:
            throw OpenAIError.badParameter("\(path).content", "'\(path).content' must be a string or an array of text blocks, got \(other.typeName).")
        }
        switch block["is_error"] {
        case nil, .null?, .bool(false)?: break
        case .bool(true)?: text = "Error: " + text
        case let other?: throw OpenAIError.badParameter("\(path).is_error", "'\(path).is_error' must be a boolean, got \(other.typeName).")
        }
        return ["role": "tool", "tool_call_id": .string(id), "content": .string(text)]
    }

    // MARK: tools

    private static func tools(_ value: JSONValue) throws -> JSONValue {
        guard case .array(let items) = value else {
            throw OpenAIError.badParameter("tools", "'tools' must be an array, got \(value.typeName).")
        }
        guard items.count <= ToolRequest.maxTools else {
            throw OpenAIError.badParameter("tools", "'tools' has \(items.count) entries; at most \(ToolRequest.maxTools) are accepted.")
        }
        return .array(try items.enumerated().map { i, tool -> JSONValue in
            let p = "tools[\(i)]"
            guard case .object = tool else { throw OpenAIError.badParameter(p, "'\(p)' must be an object.") }
            try checkKeys(tool, ["type", "name", "description", "input_schema", "cache_control"], path: p)
            switch tool["type"] {
            case nil, .null?, .string("custom")?: break
            default:
                throw OpenAIError.badParameter("\(p).type", "'\(p).type': only client tools (type 'custom' or absent) are supported; server tools are not.")
            }
            guard case .string(let name)? = tool["name"] else { throw required("\(p).name", "a string") }
            guard let schema = tool["input_schema"], case .object = schema else { throw required("\(p).input_schema", "an object") }
            var function: [(String, JSONValue)] = [("name", .string(name))]
            switch tool["description"] {
            case nil, .null?: break
            case .string(let d)?: function.append(("description", .string(d)))
            default: throw required("\(p).description", "a string")
            }
            function.append(("parameters", schema))
            return ["type": "function", "function": .object(function)]
        })
    }

    /// Anthropic's tool_choice -> OpenAI's, and `parallel_tool_calls` from `disable_parallel_tool_use`.
    private static func toolChoice(_ value: JSONValue) throws -> (JSONValue, Bool?) {
        guard case .object = value else {
            throw OpenAIError.badParameter("tool_choice", "'tool_choice' must be an object {\"type\": auto|any|tool|none}.")
        }
        try checkKeys(value, ["type", "name", "disable_parallel_tool_use"], path: "tool_choice")
        var parallel: Bool?
        switch value["disable_parallel_tool_use"] {
        case nil, .null?: break
        case .bool(let b)?: parallel = !b
        case let other?: throw OpenAIError.badParameter("tool_choice.disable_parallel_tool_use",
            "'tool_choice.disable_parallel_tool_use' must be a boolean, got \(other.typeName).")
        }
        switch value["type"] {
        case .string("auto")?: return ("auto", parallel)
        case .string("any")?: return ("required", parallel)
        case .string("none")?: return ("none", parallel)
        case .string("tool")?:
            guard case .string(let name)? = value["name"] else { throw required("tool_choice.name", "a string") }
            return (["type": "function", "function": ["name": .string(name)]], parallel)
        default:
            throw OpenAIError.badParameter("tool_choice.type", "'tool_choice.type' must be 'auto', 'any', 'tool' or 'none'.")
        }
    }

    /// The fields accepted without effect, type-checked.
    private static func noOpFields(_ f: RequestFields) throws {
        for key in ["inference_geo", "user_profile_id", "workspace_id"] { _ = try f.string(key) }
        if let speed = try f.string("speed"), !["standard", "fast"].contains(speed) {
            throw OpenAIError.badParameter("speed", "'speed' must be 'standard' or 'fast'.")
        }
        if let thinking = f.value("thinking") {
            guard case .string("disabled")? = thinking["type"] else {
                throw OpenAIError.badParameter("thinking", "'thinking' is not supported (only {\"type\": \"disabled\"}).")
            }
        }
    }

    /// `output_config`: `format` {"type": "json_schema", "schema"} -> OpenAI's `response_format` (a strict
    /// schema); `effort` accepted without effect.
    private static func outputFormat(_ f: RequestFields) throws -> JSONValue? {
        guard let config = f.value("output_config") else { return nil }
        guard case .object = config else { throw f.typeError("output_config", "an object", config) }
        try checkKeys(config, ["format", "effort"], path: "output_config")
        switch config["effort"] {
        case nil, .null?: break
        case .string(let e)? where ["low", "medium", "high", "xhigh", "max"].contains(e): break
        default: throw OpenAIError.badParameter("output_config.effort", "'output_config.effort' must be low, medium, high, xhigh or max.")
        }
        guard let format = config["format"], format != .null else { return nil }
        try checkKeys(format, ["type", "schema"], path: "output_config.format")
        guard case .string("json_schema")? = format["type"], let schema = format["schema"], case .object = schema else {
            throw OpenAIError.badParameter("output_config.format",
                "'output_config.format' must be {\"type\": \"json_schema\", \"schema\": {...}}.")
        }
        return ["type": "json_schema", "json_schema": ["name": "output", "schema": schema, "strict": true]]
    }

    private static func metadataUser(_ f: RequestFields) throws -> String? {
        guard let metadata = f.value("metadata") else { return nil }
        guard case .object = metadata else { throw f.typeError("metadata", "an object", metadata) }
        try checkKeys(metadata, ["user_id"], path: "metadata")
        switch metadata["user_id"] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw f.typeError("metadata.user_id", "a string", other)
        }
    }

    // MARK: helpers

    private static func checkKeys(_ object: JSONValue, _ allowed: Set<String>, path: String) throws {
        guard case .object(let pairs) = object else { return }
        if let extra = pairs.map({ $0.0 }).first(where: { !allowed.contains($0) }) {
            throw OpenAIError.badParameter("\(path).\(extra)",
                "'\(path).\(extra)' is not supported (accepted: \(allowed.sorted().joined(separator: ", "))).")
        }
    }

    private static func required(_ path: String, _ expected: String) -> OpenAIError {
        OpenAIError.badParameter(path, "'\(path)' is required and must be \(expected).")
    }

    private static func tooMany(_ path: String, _ limit: Int) -> OpenAIError {
        OpenAIError.badParameter(path, "'\(path)' has more than \(limit) entries.")
    }
}
