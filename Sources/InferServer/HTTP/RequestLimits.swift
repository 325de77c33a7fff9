import Gateway
import Hummingbird
import OpenAIRequest
import Synchronization

/// Per-request limits (issue 8): what one request may ask for, how many may run at once, how long one may
/// take. The body size limit is `ServerSettings.maxBodyBytes`; the engine's own queue bound is
/// `EngineOptions.maxQueued` (a full queue is a 429 too); per-key rpm/tpm are `RateLimiter`'s.
struct RequestLimits: Sendable {
    /// Largest prompt in tokens the local engine accepts (nil: the context length).
    var maxPromptTokens: Int?
    /// Largest `max_tokens` / `max_completion_tokens` a request may ask for (400 above it); also the cap
    /// of a local generation that asks for none (nil: until the context is full).
    var maxOutputTokens: Int?
    /// Most choices (`n`) per request; the local engine's own bound is `GenerationParameters.maxChoices`.
    var maxN = GenerationParameters.maxChoices
    /// Most API requests in flight on the server (429 with `Retry-After` above it).
    var maxConcurrentRequests = 1024
    /// Most API requests one virtual key may have in flight (nil: only the server-wide bound).
    var maxConcurrentPerKey: Int?
    /// Seconds a chat / completion request may take end to end, retries and fallbacks included; a
    /// non-streaming request past it gets a 408, a stream gets an error event, and generation stops.
    var requestDeadline = 600.0

    /// Checks the generation limits the gateway can see before routing (they hold for every deployment).
    func check(_ f: RequestFields) throws {
        for name in ["max_tokens", "max_completion_tokens"] {
            if let limit = maxOutputTokens, let asked = try f.int(name), asked > limit {
                throw OpenAIError.invalidRequest(
                    "'\(name)' is \(asked), above this server's limit of \(limit) tokens.", param: name,
                    code: "max_tokens_limit")
            }
        }
        if let n = try f.int("n"), n > maxN {
            throw OpenAIError.invalidRequest("'n' is \(n), above this server's limit of \(maxN) choices.",
                                             param: "n", code: "invalid_value")
        }
    }

    /// 400 when a tokenized prompt is over `maxPromptTokens`.
    func check(promptTokens: Int, param: String) throws {
        if let limit = maxPromptTokens, promptTokens > limit {
            throw OpenAIError.invalidRequest(
                "The prompt has \(promptTokens) tokens, above this server's limit of \(limit).", param: param,
                code: "prompt_too_long")
        }
    }
}
