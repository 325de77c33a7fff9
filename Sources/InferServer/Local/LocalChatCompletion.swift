import Engine
import Foundation
import Hummingbird
import Logging
import Gateway
import OpenAIRequest

/// `POST /v1/chat/completions` on the local engine (reached through the gateway's `LocalProvider`).
struct LocalChatCompletion: Sendable {
    let server: OpenAIServer
    let local: LocalEngine

    /// Runs the request on the local engine. Errors before the first token are thrown (`OpenAIError`).
    func run(_ f: RequestFields, request: ProviderRequest, logger: Logger) async throws -> LocalReply {
        let started = Date()
        var parsed = try local.generationParameters(f, request, servedModelName: server.settings.servedModelName)
        let tools = try ToolRequest.parse(f)
        let toolMode = tools.map { $0.choice != .none } ?? false
        if let tools, toolMode {
            if let other = parsed.constraint {
                throw OpenAIError.badParameter(other.param,
                    "'\(other.param)' cannot be combined with 'tools' (unless 'tool_choice' is 'none').")
            }
            parsed.constraint = OutputConstraint.tools(tools)
        }
        let params = parsed
        let messages = try ChatMessages.parse(f, tools: tools)
        let logprobs = try f.bool("logprobs") ?? false
        let topLogprobs = try f.int("top_logprobs", in: 0...20) ?? 0
        if topLogprobs > 0 && !logprobs {
            throw OpenAIError.badParameter("top_logprobs", "'top_logprobs' requires 'logprobs' to be true.")
        }
        let template = local.template, tokenizer = local.tokenizer
        let breakpoint = try ChatMessages.cacheBreakpoint(f)
        let (prompt, pinTokens) = try await CPUWork.run(bytes: ChatMessages.contentBytes(messages)) {
            let prompt = template.tokens(messages, tokenizer: tokenizer)
            // The breakpoint's prefix ends where the next message's content starts: render the messages up to
            // that one again with its content changed and keep what both renderings share (templates may
            // merge a system message into the next turn, so no per-message offset is assumed).
            let pinTokens = breakpoint.map { b -> Int in
                guard b.message + 1 < messages.count else { return prompt.count }
                var altered = Array(messages[...(b.message + 1)])
                altered[b.message + 1].content = "\u{1}" + altered[b.message + 1].content
                let other = template.tokens(altered, tokenizer: tokenizer)
                return zip(other, prompt).prefix { $0 == $1 }.count
            }
            return (prompt, pinTokens)
        }
        let grammar = try await local.grammarMatcher(params.constraint)
        try server.settings.limits.check(promptTokens: prompt.count, param: "messages")
        try params.checkContext(promptTokens: prompt.count, contextLength: local.contextLength, param: "messages")

        let streams = (0..<params.n).map { i in
            var request = params.engineRequest(
                prompt: prompt, contextLength: local.contextLength, index: i, logprobs: logprobs,
                topLogprobs: topLogprobs, publicPrefixTokens: local.publicPrefixes.publicTokens(of: prompt),
                outputLimit: server.settings.limits.maxOutputTokens, grammar: grammar)
            if i == 0, let breakpoint, let pinTokens, pinTokens > 0 {
                request.pin = PrefixPin(prefixTokens: pinTokens, ttl: breakpoint.ttl)
            }
            return ChoiceStream(engine: local.engine, request: request, stops: params.stop)
        }
        try await server.start(streams, param: "messages")

        let id = OpenAIServer.responseID("chatcmpl")
        let created = Int(Date().timeIntervalSince1970)
        let modelName = server.settings.servedModelName
        let format = LogprobsFormat(tokenizer: local.tokenizer)
        let forced = tools.map { $0.choice != .auto } ?? false
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
            let toolStream = toolMode ? ToolCallStream(choices: n, forced: forced) : nil
            let chunkFormat = ChunkFormat(
                opening: {
                    (0..<n).map { i in
                        chunk([["index": .int(i), "delta": ["role": "assistant", "content": ""],
                                "logprobs": nil, "finish_reason": nil]])
                    }
                },
                chunk: { i, text, tokens, finish in
                    if let toolStream {
                        let (deltas, reason) = toolStream.deltas(i, text, finish: finish)
                        var out = deltas.map { d in
                            chunk([["index": .int(i), "delta": d, "logprobs": nil, "finish_reason": nil]])
                        }
                        if let reason {
                            out.append(chunk([["index": .int(i), "delta": [:], "logprobs": nil, "finish_reason": .string(reason)]]))
                        }
                        return out
                    }
                    let delta: JSONValue = text.isEmpty && finish != nil ? [:] : ["content": .string(text)]
                    return [chunk([["index": .int(i), "delta": delta,
                                    "logprobs": logprobs && !tokens.isEmpty ? format.chat(tokens) : nil,
                                    "finish_reason": .optional(finish)]])]
                },
                usage: { totals in chunk([], usage: totals.json(cacheBreakpoint: pinTokens)) })
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
                if toolMode, c.finishReason == "stop", let calls = ToolCallFormat.parse(c.text) {
                    let toolCalls: [JSONValue] = calls.map { call in
                        ["id": .string(ToolCallStream.callID()), "type": "function",
                         "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
                    }
                    return ["index": .int(i), "message": ["role": "assistant", "content": nil, "refusal": nil,
                                                         "tool_calls": .array(toolCalls)],
                            "logprobs": nil, "finish_reason": "tool_calls"]
                }
                let choice: JSONValue = ["index": .int(i), "message": ["role": "assistant", "content": .string(c.text), "refusal": nil],
                                         "logprobs": logprobs ? format.chat(c.tokens) : nil, "finish_reason": .string(c.finishReason)]
                return c.stopString.map { choice.settingField("stop_reason", .string($0)) } ?? choice
            }),
            "usage": UsageTotals(perPrompt: usages).json(cacheBreakpoint: pinTokens),
        ]
        return .json(body)
    }
}
