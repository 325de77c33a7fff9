import Engine
import Foundation
import Hummingbird
import Logging
import Gateway

/// `POST /v1/chat/completions` on the local engine (reached through the gateway's `LocalProvider`).
struct ChatCompletionsRoute: Sendable {
    let server: OpenAIServer

    /// Runs the request on the local engine. Errors before the first token are thrown (`OpenAIError`).
    func run(_ f: RequestFields, tenant: String? = nil, logger: Logger) async throws -> LocalReply {
        let started = Date()
        let params = try GenerationParameters(f, vocabularySize: server.model.config.vocabularySize, tenant: tenant)
        try server.checkModel(params.model)
        let messages = try Self.messages(f)
        let logprobs = try f.bool("logprobs") ?? false
        let topLogprobs = try f.int("top_logprobs", in: 0...20) ?? 0
        if topLogprobs > 0 && !logprobs {
            throw OpenAIError.badParameter("top_logprobs", "'top_logprobs' requires 'logprobs' to be true.")
        }
        let prompt = server.template.tokens(messages, tokenizer: server.tokenizer)
        try server.settings.limits.check(promptTokens: prompt.count, param: "messages")
        try params.checkContext(promptTokens: prompt.count, contextLength: server.contextLength, param: "messages")

        let streams = (0..<params.n).map { i in
            ChoiceStream(engine: server.engine, request: params.engineRequest(
                prompt: prompt, contextLength: server.contextLength, index: i, logprobs: logprobs,
                topLogprobs: topLogprobs, publicPrefixTokens: server.publicPrefixes.publicTokens(of: prompt),
                outputLimit: server.settings.limits.maxOutputTokens),
                stops: params.stop)
        }
        try await server.start(streams, param: "messages")

        let id = OpenAIServer.responseID("chatcmpl")
        let created = Int(Date().timeIntervalSince1970)
        let modelName = server.settings.servedModelName
        let format = LogprobsFormat(tokenizer: server.tokenizer)
        let log: @Sendable ([[ChoiceUsage]]) -> Void = { usages in
            let u = UsageTotals(perPrompt: usages)
            logger.info("chat.completions model=\(modelName) n=\(params.n) prompt=\(u.promptTokens) cached=\(u.cachedTokens) completion=\(u.completionTokens) seconds=\(String(format: "%.3f", Date().timeIntervalSince(started)))")
        }

        if params.stream {
            let includeUsage = params.includeUsage
            @Sendable func chunk(_ choices: [JSONValue], usage: JSONValue? = nil) -> JSONValue {
                var pairs: [(String, JSONValue)] = [
                    ("id", .string(id)), ("object", "chat.completion.chunk"), ("created", .int(created)),
                    ("model", .string(modelName)), ("system_fingerprint", nil), ("choices", .array(choices)),
                ]
                if includeUsage { pairs.append(("usage", usage ?? .null)) }
                return .object(pairs)
            }
            let n = params.n
            let chunkFormat = ChunkFormat(
                opening: {
                    (0..<n).map { i in
                        chunk([["index": .int(i), "delta": ["role": "assistant", "content": ""],
                                "logprobs": nil, "finish_reason": nil]])
                    }
                },
                chunk: { i, text, tokens, finish in
                    let delta: JSONValue = text.isEmpty && finish != nil ? [:] : ["content": .string(text)]
                    return chunk([["index": .int(i), "delta": delta,
                                   "logprobs": logprobs && !tokens.isEmpty ? format.chat(tokens) : nil,
                                   "finish_reason": .optional(finish)]])
                },
                usage: { totals in chunk([], usage: totals.json) })
            return .chunks(ChoiceDriver.chunks(streams, promptOf: Array(repeating: 0, count: n), promptCount: 1,
                                    includeUsage: includeUsage, format: chunkFormat, server: server,
                                    logger: logger, onFinish: log))
        }

        let choices = try await ChoiceDriver.collect(streams, server: server)
        let usages = [choices.map(\.usage)]
        log(usages)
        let body: JSONValue = [
            "id": .string(id), "object": "chat.completion", "created": .int(created), "model": .string(modelName),
            "system_fingerprint": nil,
            "choices": .array(choices.enumerated().map { i, c in
                ["index": .int(i), "message": ["role": "assistant", "content": .string(c.text), "refusal": nil],
                 "logprobs": logprobs ? format.chat(c.tokens) : nil, "finish_reason": .string(c.finishReason)]
            }),
            "usage": UsageTotals(perPrompt: usages).json,
        ]
        return .json(body)
    }

    /// Parses `messages`: roles system / user / assistant (and `developer` as system); content a string,
    /// null (assistant) or an array of `{"type": "text", "text": ...}` parts.
    static func messages(_ f: RequestFields) throws -> [ChatMessage] {
        guard let raw = f.value("messages") else {
            throw OpenAIError.badParameter("messages", "'messages' is required.")
        }
        guard case .array(let items) = raw else { throw f.typeError("messages", "an array", raw) }
        guard !items.isEmpty else { throw OpenAIError.badParameter("messages", "'messages' must not be empty.") }
        return try items.enumerated().map { i, item in
            let path = "messages[\(i)]"
            guard case .object = item else { throw f.typeError(path, "an object", item) }
            let m = try RequestFields(item)
            guard let roleText = try Self.field(m, "role", path) else {
                throw OpenAIError.badParameter("\(path).role", "'\(path).role' is required.")
            }
            let role: ChatRole
            switch roleText {
            case "developer": role = .system
            default:
                guard let r = ChatRole(rawValue: roleText) else {
                    throw OpenAIError.badParameter("\(path).role",
                        "'\(path).role' must be one of system, user, assistant; got '\(roleText)'.")
                }
                role = r
            }
            return ChatMessage(role: role, content: try Self.content(m.value("content"), path: "\(path).content",
                                                                      optional: role == .assistant))
        }
    }

    private static func field(_ m: RequestFields, _ key: String, _ path: String) throws -> String? {
        guard let v = m.value(key) else { return nil }
        guard case .string(let s) = v else { throw m.typeError("\(path).\(key)", "a string", v) }
        return s
    }

    private static func content(_ value: JSONValue?, path: String, optional: Bool) throws -> String {
        guard let value else {
            if optional { return "" }
            throw OpenAIError.badParameter(path, "'\(path)' is required.")
        }
        switch value {
        case .string(let s): return s
        case .array(let parts):
            guard !parts.isEmpty else {
                throw OpenAIError.badParameter(path, "'\(path)' must not be an empty array.")
            }
            return try parts.enumerated().map { j, part in
                guard case .string(let type)? = part["type"], type == "text", case .string(let text)? = part["text"] else {
                    throw OpenAIError.badParameter("\(path)[\(j)]",
                        "'\(path)[\(j)]' must be a text part {\"type\": \"text\", \"text\": ...}; only text is supported.")
                }
                return text
            }.joined(separator: "\n")
        default:
            throw OpenAIError.badParameter(path, "'\(path)' must be a string or an array of text parts, got \(value.typeName).")
        }
    }
}
