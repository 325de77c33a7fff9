import Engine
import Hummingbird
import Gateway
import OpenAIRequest

/// `/v1/models`, `/tokenize`, `/detokenize`, `/health`, `/health/readiness`, `/metrics`.
struct UtilityRoutes: Sendable {
    let server: OpenAIServer
    /// Model groups of the router (config order), then the cascades' names; the quick path has one, the served model.
    var groups: [String] = []
    /// Router and caches, for their metrics.
    var pipeline: GatewayPipeline?

    /// A model object; the local engine's group also reports its context length (vLLM's `max_model_len`).
    func modelObject(_ id: String) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("id", .string(id)), ("object", "model"), ("created", .int(server.created)),
                                            ("owned_by", "infer")]
        if let local = server.local, id == server.settings.servedModelName {
            pairs.append(("max_model_len", .int(local.contextLength)))
        } else if let local = server.local, !groups.contains(id), local.loras.adapter(named: id) != nil {
            // A LoRA adapter of the local model, as vLLM lists it.
            pairs.append(("parent", .string(server.settings.servedModelName)))
            pairs.append(("max_model_len", .int(local.contextLength)))
        }
        return .object(pairs)
    }

    /// The groups, then the local model's LoRA adapters (those not shadowed by a group of the same name).
    private var listed: [String] {
        let base = groups.isEmpty ? [server.settings.servedModelName] : groups
        return base + (server.local?.loras.names.filter { !base.contains($0) } ?? [])
    }

    /// The groups the caller may use (`Caller.mayUse(model:)`), in config order.
    func models(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let visible = listed.filter(context.caller.mayUse(model:))
        return server.json(["object": "list", "data": .array(visible.map(modelObject))])
    }

    func model(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard listed.contains(id) else { throw OpenAIError.modelNotFound(id) }
        guard context.caller.mayUse(model: id) else { throw OpenAIError.modelNotAllowed(id) }
        return server.json(modelObject(id))
    }

    /// The served model's tokenizer routes: the model must be the served one (404 in gateway-only mode) and
    /// one the caller may use.
    private func tokenizerModel(_ f: RequestFields, _ context: InferRequestContext) throws -> LocalEngine {
        let local = try server.localModel(try f.string("model"))
        let name = server.settings.servedModelName
        guard context.caller.mayUse(model: name) else { throw OpenAIError.modelNotAllowed(name) }
        return local
    }

    /// vLLM's shape: `{"model", "prompt" | "messages", "add_special_tokens"}` ->
    /// `{"count", "max_model_len", "tokens"}`.
    func tokenize(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let f = try await server.readFields(request)
        let local = try tokenizerModel(f, context)
        let tokens: [Int]
        let template = local.template, tokenizer = local.tokenizer
        if f.value("messages") != nil {
            let messages = try ChatMessages.parse(f)
            let addGenerationPrompt = try f.bool("add_generation_prompt") ?? true
            tokens = try await CPUWork.run(bytes: ChatMessages.contentBytes(messages)) {
                template.tokens(messages, tokenizer: tokenizer, addGenerationPrompt: addGenerationPrompt)
            }
        } else if let prompt = try f.string("prompt") {
            let addSpecial = try f.bool("add_special_tokens") ?? true
            tokens = try await CPUWork.run(bytes: prompt.utf8.count) {
                tokenizer.encode(prompt, addSpecial: addSpecial, parseSpecial: true)
            }
        } else {
            throw OpenAIError.badParameter("prompt", "give 'prompt' (a string) or 'messages'.")
        }
        return server.json(["count": .int(tokens.count), "max_model_len": .int(local.contextLength),
                            "tokens": .array(tokens.map { .int($0) })])
    }

    /// `{"model", "tokens"}` -> `{"prompt"}`.
    func detokenize(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let f = try await server.readFields(request)
        let local = try tokenizerModel(f, context)
        guard let raw = f.value("tokens") else { throw OpenAIError.badParameter("tokens", "'tokens' is required.") }
        guard case .array(let items) = raw else { throw f.typeError("tokens", "an array of token ids", raw) }
        let vocab = local.model.config.vocabularySize
        let ids = try items.map { item -> Int in
            guard case .int(let id) = item, id >= 0, id < vocab else {
                throw OpenAIError.badParameter("tokens", "'tokens' must hold token ids in 0..<\(vocab).")
            }
            return id
        }
        return server.json(["prompt": .string(local.tokenizer.decode(ids, removeSpecial: false, special: true))])
    }

    func health(_ request: Request, _ context: some RequestContext) async throws -> Response {
        server.json(["status": "ok"])
    }

    /// Ready while the local engine's queue has room (a full queue means new requests get 429); a gateway-only
    /// server is ready once it listens.
    func readiness(_ request: Request, _ context: some RequestContext) async throws -> Response {
        guard let engine = server.local?.engine else { return server.json(["status": "ready"]) }
        let stats = engine.stats()
        let ready = stats.waiting < engine.options.maxQueued
        return server.json(["status": ready ? "ready" : "saturated", "running": .int(stats.running),
                            "waiting": .int(stats.waiting)], status: ready ? .ok : .serviceUnavailable)
    }

    func metrics(_ request: Request, _ context: some RequestContext) async throws -> Response {
        var text = await server.metrics.render(engine: server.local?.engine.stats(), openConnections: server.connections.value)
        if let pipeline { text += await GatewayMetricsText.render(pipeline, virtualKeys: server.keys.virtualKeys) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
