import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Logging
import OpenAIRequest

/// Requires `Authorization: Bearer <key>` or `x-api-key: <key>` (Anthropic's header; both: the same caller)
/// with the master key or a virtual key on every route but health and metrics (open for probes and
/// scrapers) and the dashboard page `/ui` (static, no data: its script sends the key to `/ui/api/summary`,
/// which is not open) when any key is configured. This is the one place a request's caller is decided.
/// Keys are compared in constant time
/// (digests, every key compared) and never logged.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = InferRequestContext
    let keys: APIKeyStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard keys.isEnabled, !Self.isOpen(request.uri.path) else { return try await next(request, context) }
        guard let caller = keys.authenticate(authorization: request.headers[.authorization],
                                                  apiKey: request.headers[Self.apiKeyHeader]) else {
            throw OpenAIError.unauthorized
        }
        var context = context
        context.caller = caller
        return try await next(request, context)
    }

    /// Anthropic's API key header.
    static let apiKeyHeader = HTTPField.Name("x-api-key")!

    static func isOpen(_ path: String) -> Bool {
        path == "/health" || path.hasPrefix("/health/") || path == "/metrics" || path == "/ui"
    }
}
