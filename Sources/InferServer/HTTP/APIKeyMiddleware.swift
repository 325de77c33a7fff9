import Foundation
import Gateway
import Hummingbird
import Logging
import OpenAIRequest

/// Requires `Authorization: Bearer <key>` (the master key or a virtual key) on every route but health and
/// metrics (open for probes and scrapers) and the dashboard page `/ui` (static, no data: its script sends the
/// key to `/ui/api/summary`, which is not open) when any key is configured. Keys are compared in constant time
/// (digests, every key compared) and never logged.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = InferRequestContext
    let keys: APIKeyStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard keys.isEnabled, !Self.isOpen(request.uri.path) else { return try await next(request, context) }
        guard let caller = keys.authenticate(authorization: request.headers[.authorization]) else {
            throw OpenAIError.unauthorized
        }
        var context = context
        context.caller = caller
        return try await next(request, context)
    }

    static func isOpen(_ path: String) -> Bool {
        path == "/health" || path.hasPrefix("/health/") || path == "/metrics" || path == "/ui"
    }
}
