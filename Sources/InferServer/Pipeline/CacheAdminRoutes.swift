import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Logging
import OpenAIRequest

/// `/cache/ping`, `/cache/delete`, `/cache/flushall`, `/cache/stats` (SPEC-gateway "Admin and health").
struct CacheAdminRoutes: Sendable {
    let server: OpenAIServer
    let cache: CacheLayer?

    /// Admin routes need the master key when keys are configured (a virtual key gets a 403).
    private func requireAdmin(_ context: InferRequestContext) throws {
        guard context.caller.isAdmin else { throw OpenAIError.forbidden("The cache admin routes need the master key.") }
    }

    private var layer: CacheLayer {
        get throws {
            guard let cache else {
                throw OpenAIError(status: .serviceUnavailable, message: "No response cache is configured.",
                                  type: "invalid_request_error", code: "cache_not_configured")
            }
            return cache
        }
    }

    func ping(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let body = try await layer.ping()
        return server.json(body, status: body["status"] == "healthy" ? .ok : .serviceUnavailable)
    }

    func delete(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let f = try await server.readFields(request)
        guard case .array(let items)? = f.value("keys") else {
            throw OpenAIError.badParameter("keys", "'keys' must be an array of cache keys.")
        }
        let keys = try items.map { item -> String in
            guard case .string(let k) = item else { throw OpenAIError.badParameter("keys", "'keys' must be an array of strings.") }
            return k
        }
        do {
            try await layer.delete(keys: keys)
        } catch let error as CacheError {
            throw Self.unavailable(error)
        }
        return server.json(["status": "success"])
    }

    func flushAll(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        do {
            let removed = try await layer.flushNamespace()
            return server.json(["status": "success", "deleted": .int(removed)])
        } catch let error as CacheError {
            throw Self.unavailable(error)
        }
    }

    func stats(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        return server.json(try await layer.stats())
    }

    static func unavailable(_ error: CacheError) -> OpenAIError {
        OpenAIError(status: .serviceUnavailable, message: "Cache backend unavailable: \(error.message)",
                    type: "api_error", code: "cache_unavailable")
    }
}
