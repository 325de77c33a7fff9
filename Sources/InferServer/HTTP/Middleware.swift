import Foundation
import Gateway
import Hummingbird
import Logging

/// Renders every error as OpenAI's envelope: `OpenAIError`s as they are, Hummingbird's own HTTP errors
/// (unknown route, wrong method, body too large) with their status, anything else as a logged 500 that
/// leaks no internals.
struct ErrorEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as OpenAIError {
            return try error.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            let e: OpenAIError
            switch error.status {
            case .contentTooLarge: e = .bodyTooLarge(limit: maxBodyBytes)
            case .notFound:
                e = OpenAIError(status: .notFound, message: "Unknown route \(request.method) \(request.uri.path).",
                                type: "invalid_request_error", code: "not_found")
            case .methodNotAllowed:
                e = OpenAIError(status: .methodNotAllowed, message: "Method \(request.method) is not allowed here.",
                                type: "invalid_request_error", code: "method_not_allowed")
            case let status where status.code < 500:
                e = OpenAIError(status: status, message: status.reasonPhrase, type: "invalid_request_error")
            default:
                context.logger.error("request failed: \(error)")
                e = .internalError
            }
            return try e.response(from: request, context: context)
        } catch {
            context.logger.error("request failed: \(String(reflecting: error))")
            return try OpenAIError.internalError.response(from: request, context: context)
        }
    }
}

/// Requires `Authorization: Bearer <key>` (the master key or a virtual key) on every route but health and
/// metrics (open for probes and scrapers) when any key is configured. Keys are compared in constant time
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
        path == "/health" || path.hasPrefix("/health/") || path == "/metrics"
    }
}

/// Counts requests and their latency by route and final status.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let route = Self.route(request.uri.path), status = response.status.code, metrics = metrics
        // Latency runs to the end of the body (a streamed response's headers go out at its first event).
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            let record = {
                let elapsed = ContinuousClock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                await metrics.request(route: route, status: status, seconds: seconds)
            }
            do {
                try await body.write(writer)
            } catch {
                await record()
                throw error
            }
            await record()
        }
        return response
    }

    /// A bounded route label (ids and unknown paths collapsed).
    static func route(_ path: String) -> String {
        switch path {
        case "/v1/chat/completions", "/v1/completions", "/v1/models", "/tokenize", "/detokenize", "/health",
             "/health/readiness", "/metrics":
            return path
        default:
            return path.hasPrefix("/v1/models/") ? "/v1/models/{id}" : "other"
        }
    }
}
