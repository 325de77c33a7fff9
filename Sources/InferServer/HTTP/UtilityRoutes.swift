import Engine
import Hummingbird
import Gateway

/// `/v1/models`, `/tokenize`, `/detokenize`, `/health`, `/health/readiness`, `/metrics`.
struct UtilityRoutes: Sendable {
    let server: OpenAIServer
    /// Model groups of the router (config order); the quick path has one, the served model.
    var groups: [String] = []
    /// Router and caches, for their metrics.
    var pipeline: GatewayPipeline?

    /// A model object; the local engine's group also reports its context length (vLLM's `max_model_len`).
    func modelObject(_ id: String) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("id", .string(id)), ("object", "model"), ("created", .int(server.created)),
                                            ("owned_by", "infer")]
        if id == server.settings.servedModelName { pairs.append(("max_model_len", .int(server.contextLength))) }
        return .object(pairs)
    }

    private var listed: [String] { groups.isEmpty ? [server.settings.servedModelName] : groups }

    func models(_ request: Request, _ context: some RequestContext) async throws -> Response {
        server.json(["object": "list", "data": .array(listed.map(modelObject))])
    }

    func model(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard listed.contains(id) else { throw OpenAIError.modelNotFound(id) }
        return server.json(modelObject(id))
    }

    /// vLLM's shape: `{"model", "prompt" | "messages", "add_special_tokens"}` ->
    /// `{"count", "max_model_len", "tokens"}`.
    func tokenize(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let f = try await server.readFields(request)
        try server.checkModel(try f.string("model"))
        let tokens: [Int]
        if f.value("messages") != nil {
            let messages = try ChatCompletionsRoute.messages(f)
            let addGenerationPrompt = try f.bool("add_generation_prompt") ?? true
            tokens = server.template.tokens(messages, tokenizer: server.tokenizer,
                                            addGenerationPrompt: addGenerationPrompt)
        } else if let prompt = try f.string("prompt") {
            let addSpecial = try f.bool("add_special_tokens") ?? true
            tokens = server.tokenizer.encode(prompt, addSpecial: addSpecial, parseSpecial: true)
        } else {
            throw OpenAIError.badParameter("prompt", "give 'prompt' (a string) or 'messages'.")
        }
        return server.json(["count": .int(tokens.count), "max_model_len": .int(server.contextLength),
                            "tokens": .array(tokens.map { .int($0) })])
    }

    /// `{"model", "tokens"}` -> `{"prompt"}`.
    func detokenize(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let f = try await server.readFields(request)
        try server.checkModel(try f.string("model"))
        guard let raw = f.value("tokens") else { throw OpenAIError.badParameter("tokens", "'tokens' is required.") }
        guard case .array(let items) = raw else { throw f.typeError("tokens", "an array of token ids", raw) }
        let vocab = server.model.config.vocabularySize
        let ids = try items.map { item -> Int in
            guard case .int(let id) = item, id >= 0, id < vocab else {
                throw OpenAIError.badParameter("tokens", "'tokens' must hold token ids in 0..<\(vocab).")
            }
            return id
        }
        return server.json(["prompt": .string(server.tokenizer.decode(ids, removeSpecial: false, special: true))])
    }

    func health(_ request: Request, _ context: some RequestContext) async throws -> Response {
        server.json(["status": "ok"])
    }

    /// Ready while the queue has room (a full queue means new requests get 429).
    func readiness(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let stats = server.engine.stats()
        let ready = stats.waiting < server.engine.options.maxQueued
        return server.json(["status": ready ? "ready" : "saturated", "running": .int(stats.running),
                            "waiting": .int(stats.waiting)], status: ready ? .ok : .serviceUnavailable)
    }

    func metrics(_ request: Request, _ context: some RequestContext) async throws -> Response {
        var text = await server.metrics.render(engine: server.engine.stats())
        if let pipeline { text += await GatewayMetricsText.render(pipeline) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
