import Engine

/// The request fields shared by `/v1/chat/completions` and `/v1/completions`, validated.
///
/// Defaults follow llama-server (SPEC-model.md section 5) for whatever the client leaves out; `max_tokens`
/// defaults to "until an end-of-generation token or the context is full".
public struct GenerationParameters: Sendable {
    public var model: String?
    public var maxTokens: Int?
    public var sampling: SamplingParameters
    public var stop: [String]
    public var n: Int
    public var stream: Bool
    public var includeUsage: Bool
    public var ignoreEOS: Bool
    public var cacheSalt: String?
    /// Prefix-cache tenant salt derived by the server from the API key (not a request field).
    public var tenant: String?
    public var user: String?
    /// The output grammar the request asks for (`response_format`, `grammar`, `json_schema`), not compiled yet.
    public var constraint: OutputConstraint?
    /// The LoRA adapter the request's `model` selected (set by the server, never parsed from the body).
    public var lora: LoRAAdapter?
    /// Batch API work runs below interactive requests (set by the server, never parsed from the body).
    public var priority: GenerationPriority = .interactive

    /// Most choices one request may ask for.
    public static let maxChoices = 16

    /// Validates the generation fields of `f`. `stream` and `includeUsage` come parsed from the edge
    /// (`GatewayRequest`, carried by the `ProviderRequest`).
    public init(_ f: RequestFields, vocabularySize: Int, tenant: String? = nil, stream: Bool = false,
         includeUsage: Bool = false) throws {
        self.tenant = tenant
        self.stream = stream
        self.includeUsage = includeUsage
        model = try f.string("model")
        let maxCompletion = try f.int("max_completion_tokens", in: 0...Int(Int32.max))
        let maxTokens = try f.int("max_tokens", in: 0...Int(Int32.max))
        self.maxTokens = maxCompletion ?? maxTokens
        var s = SamplingParameters()
        if let t = try f.double("temperature", in: 0...2) { s.temperature = Float(t) }
        // NOTE: the positivity checks look at the Float the sampler gets: a positive double below Float's
        // range (1e-50) rounds to 0, which would pass a check on the double.
        if let p = try f.double("top_p", in: 0...1) {
            guard Float(p) > 0 else { throw OpenAIError.badParameter("top_p", "'top_p' must be in (0, 1], got \(p).") }
            s.topP = Float(p)
        }
        if let k = try f.int("top_k", in: -1...Int(Int32.max)) { s.topK = max(k, 0) }
        if let m = try f.double("min_p", in: 0...1) { s.minP = Float(m) }
        if let p = try f.double("presence_penalty", in: -2...2) { s.presencePenalty = Float(p) }
        if let p = try f.double("frequency_penalty", in: -2...2) { s.frequencyPenalty = Float(p) }
        if let p = try f.double("repetition_penalty", in: 0...10) {
            guard Float(p) > 0 else {
                throw OpenAIError.badParameter("repetition_penalty", "'repetition_penalty' must be > 0, got \(p).")
            }
            s.repetitionPenalty = Float(p)
        }
        s.logitBias = try f.logitBias(vocabularySize: vocabularySize)
        if let seed = try f.int("seed") { s.seed = UInt64(bitPattern: Int64(seed)) }
        if s.temperature <= 0 {
            // Greedy: the truncation stages cannot change the argmax; keep bias and penalties.
            s.topK = 0; s.topP = 1; s.minP = 0
        }
        sampling = s
        stop = try f.stopStrings()
        n = try f.int("n", in: 1...Self.maxChoices) ?? 1
        ignoreEOS = try f.bool("ignore_eos") ?? false
        cacheSalt = try f.string("cache_salt")
        user = try f.string("user")
        constraint = try OutputConstraint.parse(f)
    }

    /// The engine request for choice `index` (seeds `seed + index` so choices differ but stay reproducible).
    /// `outputLimit` caps a request that names no `max_tokens` (the server's `maxOutputTokens`).
    public func engineRequest(prompt: [Int], contextLength: Int, index: Int, logprobs: Bool, topLogprobs: Int,
                       publicPrefixTokens: Int = 0, outputLimit: Int? = nil,
                       grammar: GrammarMatcher? = nil) -> GenerationRequest {
        var sampling = self.sampling
        if let seed = sampling.seed { sampling.seed = seed &+ UInt64(index) }
        let budget = min(max(contextLength - prompt.count, 1), outputLimit ?? Int.max)
        var request = GenerationRequest(promptTokens: prompt, maxTokens: min(maxTokens ?? budget, budget),
                                 sampling: sampling, stopAtEndOfGeneration: !ignoreEOS, tenant: tenant, cacheSalt: cacheSalt,
                                 publicPrefixTokens: tenant == nil ? 0 : publicPrefixTokens,
                                 logprobs: logprobs, topLogprobs: topLogprobs)
        request.grammar = grammar
        request.lora = lora
        request.priority = priority
        return request
    }

    /// Throws `context_length_exceeded` when the prompt (plus an explicit `max_tokens`) does not fit.
    public func checkContext(promptTokens: Int, contextLength: Int, param: String) throws {
        if promptTokens >= contextLength {
            throw OpenAIError.contextLengthExceeded(
                "This model's maximum context length is \(contextLength) tokens. However, your prompt has "
                    + "\(promptTokens) tokens. Please reduce the length of the prompt.", param: param)
        }
        if let maxTokens, promptTokens + maxTokens > contextLength {
            throw OpenAIError.contextLengthExceeded(
                "This model's maximum context length is \(contextLength) tokens. However, you requested "
                    + "\(promptTokens + maxTokens) tokens (\(promptTokens) in the prompt, \(maxTokens) for the "
                    + "completion). Please reduce the prompt or max_tokens.", param: param)
        }
    }
}
