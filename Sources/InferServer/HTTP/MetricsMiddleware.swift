import Foundation
import Gateway
import Hummingbird
import Logging

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
