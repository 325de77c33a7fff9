import Engine
import Gateway
import Hummingbird
import Logging

/// The in-process engine as one more router deployment (`local/<model file>` in `model_list`, or the single
/// deployment of the no-config quick path). Runs the same request handling as the plain routes, on the
/// request body the router hands over, and reports failures as classified `ProviderError`s: a full queue
/// is `overloaded` and a prompt over the context is `contextWindowExceeded`, so the router falls back at
/// once (SPEC-gateway "Local engine specifics").
struct LocalProvider: ChatProvider {
    let server: OpenAIServer
    let logger: Logger

    var apiBase: String? { nil }

    func send(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResult {
        do {
            // The router put the deployment's upstream id in `model`; the local engine serves exactly one
            // model, and the router reports the client's name in the response.
            var body = request.body
            if case .object(var pairs) = body {
                pairs.removeAll { $0.0 == "model" }
                body = .object(pairs)
            }
            let fields = try RequestFields(body)
            let reply: LocalReply
            switch request.endpoint {
            case .chat:
                reply = try await ChatCompletionsRoute(server: server).run(fields, tenant: request.tenant, logger: logger)
            case .completions:
                reply = try await CompletionsRoute(server: server).run(fields, tenant: request.tenant, logger: logger)
            }
            switch reply {
            case .json(let json): return .response(json)
            case .chunks(let chunks): return .stream(chunks)
            }
        } catch let error as OpenAIError {
            throw error.providerError
        } catch {
            logger.error("local provider failed: \(String(reflecting: error))")
            throw ProviderError(status: 500, message: "The server had an error while processing your request.",
                                type: "server_error", kind: .server)
        }
    }
}

extension OpenAIError {
    /// The same error, classified for the router.
    var providerError: ProviderError {
        let kind: ProviderError.Kind
        switch (status.code, code) {
        case (_, "context_length_exceeded"): kind = .contextWindowExceeded
        case (429, _): kind = .overloaded
        case (401, _), (403, _): kind = .authentication
        case (404, _): kind = .notFound
        case (400..<500, _): kind = .badRequest
        default: kind = .server
        }
        let retryAfter = headers[.retryAfter].flatMap(Double.init)
        return ProviderError(status: status.code, message: message, type: type, code: code, param: param,
                             retryAfter: retryAfter, kind: kind)
    }

    /// A router or provider failure as the HTTP error the client gets.
    init(_ error: ProviderError) {
        var headers: HTTPFields = [:]
        if let retry = error.retryAfter { headers[.retryAfter] = String(CheckedConversion.wholeSeconds(retry)) }
        self.init(status: HTTPResponse.Status(code: error.status), message: error.message, type: error.type,
                  param: error.param, code: error.code, headers: headers)
    }
}
