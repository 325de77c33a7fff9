import Gateway
import Hummingbird
import Synchronization

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
