import Engine
import Foundation
import Hummingbird
import Logging
import Gateway
import OpenAIRequest

/// `POST /v1/completions` (legacy text completions) on the local engine (through `LocalProvider`).
struct LocalCompletion: Sendable {
    let server: OpenAIServer
    let local: LocalEngine

    /// One prompt of the request: its tokens and the text `echo` prepends.
    struct Prompt: Sendable {
        var tokens: [Int]
        var text: String
    }

    /// Runs the request on the local engine. Errors before the first token are thrown (`OpenAIError`).
    func run(_ f: RequestFields, request: ProviderRequest, logger: Logger) async throws -> LocalReply {
        let started = Date()
        let params = try local.generationParameters(f, request, servedModelName: server.settings.servedModelName)
        let route = self
        let prompts = try await CPUWork.run(bytes: Self.textBytes(f.value("prompt"))) { try route.prompts(f) }
        let logprobs = try f.int("logprobs", in: 0...20)
        let echo = try f.bool("echo") ?? false
        if echo && logprobs != nil {
            throw OpenAIError.badParameter("echo",
                "'echo' with 'logprobs' needs prompt log-probabilities, which this server does not compute.")
        }
        if try f.string("suffix") != nil {
            throw OpenAIError.badParameter("suffix", "'suffix' (insertion) is not supported.")
        }
        let grammar = try await local.grammarMatcher(params.constraint)
        for p in prompts {
            try server.settings.limits.check(promptTokens: p.tokens.count, param: "prompt")
            try params.checkContext(promptTokens: p.tokens.count, contextLength: local.contextLength, param: "prompt")
        }

        let n = params.n
        var streams: [ChoiceStream] = []
        var promptOf: [Int] = []
        if params.maxTokens != 0 {
            for (pi, p) in prompts.enumerated() {
                for i in 0..<n {
                    streams.append(ChoiceStream(engine: local.engine, request: params.engineRequest(
                        prompt: p.tokens, contextLength: local.contextLength, index: i, logprobs: logprobs != nil,
                        topLogprobs: logprobs ?? 0,
                        publicPrefixTokens: local.publicPrefixes.publicTokens(of: p.tokens),
                        outputLimit: server.settings.limits.maxOutputTokens, grammar: grammar), stops: params.stop))
                    promptOf.append(pi)
                }
            }
            try await server.start(streams, param: "prompt")
        }

        let id = OpenAIServer.responseID("cmpl")
        let created = Int(Date().timeIntervalSince1970)
        let modelName = server.settings.servedModelName
        let format = LogprobsFormat(tokenizer: local.tokenizer)
        let log: @Sendable ([[ChoiceUsage]]) -> Void = { usages in
            let u = UsageTotals(perPrompt: usages)
            logger.info("completions model=\(modelName) prompts=\(prompts.count) n=\(n) prompt=\(u.promptTokens) cached=\(u.cachedTokens) completion=\(u.completionTokens) seconds=\(String(format: "%.3f", Date().timeIntervalSince(started)))")
        }

        if params.maxTokens == 0 {
            // Nothing to generate (the engine always samples at least one token): answer directly.
            let usages = prompts.map { p in
                Array(repeating: ChoiceUsage(promptTokens: p.tokens.count, completionTokens: 0, cachedTokens: 0,
                                             timeToFirstToken: nil), count: n)
            }
            let choices: [JSONValue] = prompts.enumerated().flatMap { pi, p in
                (0..<n).map { i -> JSONValue in
                    ["index": .int(pi * n + i), "text": .string(echo ? p.text : ""), "logprobs": nil,
                     "finish_reason": "length"]
                }
            }
            return .json(["id": .string(id), "object": "text_completion", "created": .int(created),
                          "model": .string(modelName), "choices": .array(choices),
                          "usage": UsageTotals(perPrompt: usages).json])
        }

        if params.stream {
            let includeUsage = params.includeUsage
            @Sendable func chunk(_ choices: [JSONValue], usage: JSONValue? = nil) -> JSONValue {
                var pairs: [(String, JSONValue)] = [
                    ("id", .string(id)), ("object", "text_completion"), ("created", .int(created)),
                    ("model", .string(modelName)), ("system_fingerprint", nil), ("choices", .array(choices)),
                ]
                if includeUsage { pairs.append(("usage", usage ?? .null)) }
                return .object(pairs)
            }
            let promptOfCopy = promptOf
            let offsets = OffsetBox(count: promptOf.count)
            let chunkFormat = ChunkFormat(
                opening: {
                    guard echo else { return [] }
                    return promptOfCopy.enumerated().map { i, pi in
                        chunk([["index": .int(i), "text": .string(prompts[pi].text), "logprobs": nil,
                                "finish_reason": nil]])
                    }
                },
                chunk: { i, text, tokens, finish in
                    var lp: JSONValue = nil
                    if logprobs != nil {
                        let (json, end) = format.completion(tokens, startOffset: offsets.get(i))
                        offsets.set(i, end)
                        lp = json
                    }
                    return [chunk([["index": .int(i), "text": .string(text), "logprobs": lp,
                                    "finish_reason": .optional(finish)]])]
                },
                usage: { totals in chunk([], usage: totals.json) })
            return .chunks(ChoiceDriver.chunks(streams, promptOf: promptOf, promptCount: prompts.count, includeUsage: includeUsage,
                                    format: chunkFormat, server: server, logger: logger, onFinish: log))
        }

        let collected = try await ChoiceDriver.collect(streams, server: server)
        var usages = Array(repeating: [ChoiceUsage](), count: prompts.count)
        var choices: [JSONValue] = []
        for (i, c) in collected.enumerated() {
            let p = prompts[promptOf[i]]
            usages[promptOf[i]].append(c.usage)
            let prefix = echo ? p.text : ""
            let choice: JSONValue = ["index": .int(i), "text": .string(prefix + c.text),
                                     "logprobs": logprobs != nil ? format.completion(c.tokens, startOffset: 0).json : nil,
                                     "finish_reason": .string(c.finishReason)]
            choices.append(c.stopString.map { choice.settingField("stop_reason", .string($0)) } ?? choice)
        }
        log(usages)
        return .json(["id": .string(id), "object": "text_completion", "created": .int(created),
                      "model": .string(modelName), "system_fingerprint": nil, "choices": .array(choices),
                      "usage": UsageTotals(perPrompt: usages).json])
    }

    /// UTF-8 bytes of the text in a `prompt` value (a string or an array of strings), to decide where to
    /// tokenize it.
    static func textBytes(_ value: JSONValue?) -> Int {
        switch value {
        case .string(let s)?: s.utf8.count
        case .array(let items)?: items.reduce(0) { $0 + textBytes($1) }
        default: 0
        }
    }

    /// `prompt`: a string, an array of strings, an array of token ids, or an array of token-id arrays.
    func prompts(_ f: RequestFields) throws -> [Prompt] {
        guard let raw = f.value("prompt") else { throw OpenAIError.badParameter("prompt", "'prompt' is required.") }
        let tokenizer = local.tokenizer
        let vocab = local.model.config.vocabularySize
        func ids(_ items: [JSONValue]) throws -> [Int] {
            guard !items.isEmpty else { throw OpenAIError.badParameter("prompt", "'prompt' must not be empty.") }
            return try items.map { item in
                guard case .int(let id) = item else { throw f.typeError("prompt", "a string, an array of strings or token ids", raw) }
                guard id >= 0, id < vocab else {
                    throw OpenAIError.badParameter("prompt", "'prompt' has token id \(id) outside the vocabulary (0..<\(vocab)).")
                }
                return id
            }
        }
        func text(_ s: String) -> Prompt {
            Prompt(tokens: tokenizer.encode(s, addSpecial: true, parseSpecial: true), text: s)
        }
        func tokens(_ t: [Int]) -> Prompt {
            Prompt(tokens: t, text: tokenizer.decode(t, removeSpecial: true, special: false))
        }
        switch raw {
        case .string(let s): return [text(s)]
        case .array(let items):
            guard let first = items.first else { throw OpenAIError.badParameter("prompt", "'prompt' must not be empty.") }
            switch first {
            case .string:
                return try items.map { item in
                    guard case .string(let s) = item else { throw f.typeError("prompt", "an array of strings", raw) }
                    return text(s)
                }
            case .int: return [tokens(try ids(items))]
            case .array:
                return try items.map { item in
                    guard case .array(let inner) = item else { throw f.typeError("prompt", "an array of token-id arrays", raw) }
                    return tokens(try ids(inner))
                }
            default: throw f.typeError("prompt", "a string, an array of strings or token ids", raw)
            }
        default: throw f.typeError("prompt", "a string, an array of strings or token ids", raw)
        }
    }
}
