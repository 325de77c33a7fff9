import Engine
import Gateway
import Hummingbird
import Logging
import NumericCore
import OpenAIRequest

/// The in-process engine as one more router deployment (`local/<model file>` in `model_list`, or the single
/// deployment of the no-config quick path). Runs the same request handling as the plain routes, on the
/// request body the router hands over, and reports failures as classified `ProviderError`s: a full queue
/// is `overloaded` and a prompt over the context is `contextWindowExceeded`, so the router falls back at
/// once (SPEC-gateway "Local engine specifics").
struct LocalProvider: ChatProvider {
    let server: OpenAIServer
    let local: LocalEngine
    let logger: Logger

    var apiBase: String? { nil }

    /// What the local chat template needs (`ChatTemplate.requiredMessageFixes`): e.g. Gemma's merged
    /// same-role turns, so such requests are answered instead of rendered out of the format.
    func requiredMessageFixes(_ body: JSONValue) -> MessageFixes? { local.template.requiredMessageFixes(body) }

    func send(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResult {
        do {
            // The router put the deployment's upstream id in `model`; the local engine serves exactly one
            // model, and the router reports the client's name in the response.
            var body = request.body
            if case .object(var pairs) = body {
                pairs.removeAll { $0.0 == "model" }
                body = .object(pairs)
            }
            // A typed view of the value the edge parsed (no second parse); stream and include_usage come
            // parsed with the request.
            let fields = try RequestFields(body)
            let reply: LocalReply
            switch request.endpoint {
            case .chat:
                reply = try await LocalChatCompletion(server: server, local: local).run(fields, request: request, logger: logger)
            case .completions:
                reply = try await LocalCompletion(server: server, local: local).run(fields, request: request, logger: logger)
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
