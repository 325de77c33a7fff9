import Foundation
import Gateway
import Hummingbird
import Logging
import OpenAIRequest

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
