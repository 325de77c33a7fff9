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

    init(engine: InferenceEngine, publicPrefixes texts: [String]) {
        self.engine = engine
        template = ChatTemplate.forModel(engine.model)
        publicPrefixes = PublicPrefixes(texts, template: template, tokenizer: engine.model.tokenizer)
    }

    var model: LanguageModel { engine.model }
    var tokenizer: any Tokenizer { engine.model.tokenizer }
    var contextLength: Int { engine.model.config.contextLength }

    /// The validated generation fields of a request routed to the local engine (stream and include_usage
    /// as the edge parsed them); 404 unless its `model` is absent or `servedModelName`.
    func generationParameters(_ f: RequestFields, _ request: ProviderRequest,
                              servedModelName: String) throws -> GenerationParameters {
        let params = try GenerationParameters(f, vocabularySize: model.config.vocabularySize, tenant: request.tenant,
                                              stream: request.stream, includeUsage: request.includeUsage)
        if let model = params.model, model != servedModelName { throw OpenAIError.modelNotFound(model) }
        return params
    }
}
