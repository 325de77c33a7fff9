import Foundation
import Gateway
import Logging
import OpenAIRequest

/// What running one Batch API request gave.
enum BatchAnswer: Sendable, Equatable {
    /// The answer (any status): it goes to the batch's output file (2xx) or error file.
    case done(status: Int, body: JSONValue)
    /// No answer yet: the server is overloaded or the key's rate limit is reached (429 / 503). The request
    /// runs again after `after` seconds; it is never recorded as failed for that.
    case retry(after: Double, reason: String)
}

/// Runs one line of a batch through the same gateway stages as an HTTP request from the batch's owner
/// (`GatewayRoute` for chat and completions, `EmbeddingsRoute` for embeddings): authorization, budget and
/// rate limits, the response caches, the router with its fallbacks, pricing and spend. Local work runs at
/// background priority, below every interactive request.
struct BatchExecutor: Sendable {
    let routes: GatewayRoute
    let embeddings: EmbeddingsRoute
    let logger: Logger

    func run(_ line: BatchRequestLine, caller: Caller) async -> BatchAnswer {
        let start = Date().timeIntervalSince1970
        var group: String?
        do {
            let fields = try RequestFields(line.body)
            if try fields.bool("stream") == true {
                throw OpenAIError.badParameter("stream", "Batch requests cannot stream; leave 'stream' out.")
            }
            let body: JSONValue
            switch line.url {
            case .embeddings:
                body = try await embeddings.embed(fields, caller: caller, cacheControl: nil, logger: logger).0
            case .chatCompletions, .completions:
                body = try await generate(fields, endpoint: line.url == .chatCompletions ? .chat : .completions,
                                          caller: caller, start: start, group: &group)
            }
            await routes.observe(group: group, failed: false, start: start)
            return .done(status: 200, body: body)
        } catch let error as OpenAIError {
            await routes.observe(group: group, failed: error.status.code >= 500, start: start)
            if error.status == .tooManyRequests || error.status == .serviceUnavailable {
                let wait = error.headers[.retryAfter].flatMap(Double.init) ?? 1
                return .retry(after: min(max(wait, 0.2), 60), reason: error.message)
            }
            return .done(status: error.status.code, body: error.body)
        } catch {
            await routes.observe(group: group, failed: true, start: start)
            logger.error("batch request failed: \(error)")
            return .done(status: 500, body: OpenAIError(status: .internalServerError, message: "Internal server error.",
                                                        type: "server_error").body)
        }
    }

    private func generate(_ fields: RequestFields, endpoint: Endpoint, caller: Caller, start: Double,
                          group: inout String?) async throws -> JSONValue {
        var parsed = try routes.parse(fields, endpoint: endpoint, sessionHeader: nil)
        parsed.background = true
        let admission = try await routes.admit(parsed, caller)
        group = parsed.model
        let lookup = try await routes.lookUp(parsed, admission, cacheControl: nil)
        if let lookup, let cached = lookup.response {
            _ = await routes.gateway.recordHit(parsed, caller: caller, lookup: lookup, start: start, logger: logger)
            return cached
        }
        let routed = try await routes.route(parsed, admission, channel: nil, logger: logger)
        guard case .response(let json) = routed.result else {
            throw OpenAIError(status: .internalServerError, message: "The deployment streamed an answer to a batch request.",
                              type: "server_error")
        }
        _ = await routes.settle(json, routed, parsed, admission, lookup: lookup, start: start, logger: logger)
        return json
    }
}
