import Engine
import Gateway
import OpenAIRequest

/// The in-process model as the routes see it: the engine (one thread owning model, KV pool and prefix cache),
/// the model's chat template and the token forms of the declared public prefixes. Absent in gateway-only
/// mode (`infer serve --config` with no `local/` GGUF), where no engine thread or KV pool exists.
struct LocalEngine: Sendable {
    let engine: InferenceEngine
    let template: ChatTemplate
    /// Token forms of the declared public prefixes.
    let publicPrefixes: PublicPrefixes
    /// Compiled output grammars (`response_format`, `grammar`, `json_schema`, tools) by schema.
    let grammars = GrammarCache()
    /// The LoRA adapters served as variants of the model (`--lora-modules`, `/v1/load_lora_adapter`).
    let loras: LoRARegistry

    init(engine: InferenceEngine, publicPrefixes texts: [String], servedModelName: String) {
        self.engine = engine
        loras = LoRARegistry(config: engine.model.config, baseName: servedModelName)
        template = ChatTemplate.forModel(engine.model)
        publicPrefixes = PublicPrefixes(texts, template: template, tokenizer: engine.model.tokenizer)
    }

    /// The grammar state a constrained request starts from (compiled off the event loop on a cache miss).
    func grammarMatcher(_ constraint: OutputConstraint?) async throws -> GrammarMatcher? {
        guard let constraint else { return nil }
        let grammars = self.grammars
        let grammar = try await CPUWork.run(bytes: constraint.cacheKey.utf8.count, threshold: 4096) {
            try grammars.grammar(for: constraint)
        }
        do {
            return try GrammarMatcher(grammar)
        } catch let e as GrammarError {
            throw OpenAIError.badParameter(constraint.param, "Invalid grammar: \(e.message).")
        }
    }

    var model: LanguageModel { engine.model }
    var tokenizer: any Tokenizer { engine.model.tokenizer }
    var contextLength: Int { engine.model.config.contextLength }

    /// The validated generation fields of a request routed to the local engine (stream and include_usage
    /// as the edge parsed them); 404 unless its `model` is absent or `servedModelName`. The request's LoRA
    /// adapter (`ProviderRequest.adapter`) is looked up here: 404 when it was unloaded meanwhile.
    func generationParameters(_ f: RequestFields, _ request: ProviderRequest,
                              servedModelName: String) throws -> GenerationParameters {
        var params = try GenerationParameters(f, vocabularySize: model.config.vocabularySize, tenant: request.tenant,
                                              stream: request.stream, includeUsage: request.includeUsage)
        if let model = params.model, model != servedModelName { throw OpenAIError.modelNotFound(model) }
        if request.background { params.priority = .background }
        if let name = request.adapter {
            guard let adapter = loras.adapter(named: name) else { throw OpenAIError.modelNotFound(name) }
            params.lora = adapter
        }
        return params
    }
}
