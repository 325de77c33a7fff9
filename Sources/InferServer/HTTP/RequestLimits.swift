import Gateway
import Hummingbird
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

/// Counts API requests in flight, server-wide and per tenant, and turns away those over the limits.
///
/// A permit is released when the response it guards is released (its body written or dropped), so a
/// request that throws anywhere, or a client that goes away, can never leak a slot.
final class ConcurrencyLimiter: Sendable {
    private struct State {
        var total = 0
        var perTenant: [String: Int] = [:]
    }
    private let state = Mutex(State())
    let limit: Int
    let perTenantLimit: Int?

    init(limit: Int, perTenantLimit: Int?) {
        self.limit = limit
        self.perTenantLimit = perTenantLimit
    }

    /// Requests in flight now.
    var inFlight: Int { state.withLock { $0.total } }

    /// A permit, or a 429 when the server (or `tenant`) is at its limit.
    func acquire(tenant: String?) throws -> Permit {
        let tenantKey = perTenantLimit == nil ? nil : tenant
        try state.withLock { s in
            guard s.total < limit else { throw OpenAIError.tooManyConcurrent("on this server", limit: limit) }
            if let tenantKey, let perTenantLimit {
                guard s.perTenant[tenantKey, default: 0] < perTenantLimit else {
                    throw OpenAIError.tooManyConcurrent("for this API key", limit: perTenantLimit)
                }
                s.perTenant[tenantKey, default: 0] += 1
            }
            s.total += 1
        }
        return Permit(limiter: self, tenant: tenantKey)
    }

    fileprivate func release(tenant: String?) {
        state.withLock { s in
            s.total -= 1
            if let tenant {
                let left = s.perTenant[tenant, default: 1] - 1
                s.perTenant[tenant] = left > 0 ? left : nil
            }
        }
    }

    /// One admitted request; gives its slot back when released.
    final class Permit: Sendable {
        private let limiter: ConcurrencyLimiter
        private let tenant: String?

        fileprivate init(limiter: ConcurrencyLimiter, tenant: String?) {
            self.limiter = limiter
            self.tenant = tenant
        }

        deinit { limiter.release(tenant: tenant) }
    }
}

/// Admits the generation and embedding routes through a `ConcurrencyLimiter`. The permit rides on the
/// response body, so a streamed response holds its slot until the last byte is written.
struct ConcurrencyLimitMiddleware: RouterMiddleware {
    typealias Context = InferRequestContext
    let limiter: ConcurrencyLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post, Self.isLimited(request.uri.path) else { return try await next(request, context) }
        let permit = try limiter.acquire(tenant: limiter.perTenantLimit == nil ? nil : context.caller.tenant)
        var response = try await next(request, context)
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            try await body.write(writer)
            withExtendedLifetime(permit) {}   // held to the last byte, then released with the closure
        }
        return response
    }

    static func isLimited(_ path: String) -> Bool {
        path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/embeddings"
    }
}

/// The end-to-end deadline of one request.
enum RequestDeadline {
    /// Runs `body`; past `deadline` it is cancelled and a 408 `deadlineExceeded` (naming the limit,
    /// `seconds`) is thrown.
    static func run<T: Sendable>(until deadline: ContinuousClock.Instant, seconds: Double,
                                 _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw OpenAIError.deadlineExceeded(seconds: seconds)
            }
            return value
        }
    }

    /// `chunks` cut off at `deadline`: past it the stream ends with a `deadlineExceeded` error (an error
    /// event for the client) and the source is cancelled, which stops its generation.
    static func stream(_ chunks: AsyncThrowingStream<JSONValue, any Error>, until deadline: ContinuousClock.Instant,
                       seconds: Double) -> AsyncThrowingStream<JSONValue, any Error> {
        let (output, out) = AsyncThrowingStream.makeStream(of: JSONValue.self)
        let forward = Task {
            do {
                for try await chunk in chunks { out.yield(chunk) }
                out.finish()
            } catch {
                out.finish(throwing: error)
            }
        }
        let timer = Task {
            try await Task.sleep(until: deadline)
            out.finish(throwing: OpenAIError.deadlineExceeded(seconds: seconds))
            forward.cancel()
        }
        out.onTermination = { _ in
            forward.cancel()
            timer.cancel()
        }
        return output
    }
}
