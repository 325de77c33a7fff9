import Foundation
import Gateway
import Hummingbird
import Logging
import OpenAIRequest

/// Renders every error as OpenAI's envelope (Anthropic's on the Messages API routes,
/// `AnthropicErrorEnvelope`): `OpenAIError`s as they are, Hummingbird's own HTTP errors (unknown route, wrong
/// method, body too large) with their status, anything else as a logged 500 that leaks no internals.
struct ErrorEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as OpenAIError {
            return try render(error, request, context)
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
            return try render(e, request, context)
        } catch {
            context.logger.error("request failed: \(String(reflecting: error))")
            return try render(.internalError, request, context)
        }
    }

    private func render(_ error: OpenAIError, _ request: Request, _ context: Context) throws -> Response {
        if AnthropicErrorEnvelope.applies(to: request.uri.path) { return AnthropicErrorEnvelope.response(error) }
        return try error.response(from: request, context: context)
    }
}
