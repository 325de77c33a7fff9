import Gateway
import HTTPTypes
import Hummingbird
import OpenAIRequest

/// `POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API on every model group.
/// The body is validated and translated (`AnthropicInboundRequest`) into the internal chat request, which
/// takes the gateway's stages exactly as `/v1/chat/completions` does (same authentication, key rules, rate
/// limits, budgets, caches, router, local engine or remote deployments, fallbacks, spend); the answer is
/// written back as a `message` or as Anthropic's event stream (`AnswerWire.anthropic`), errors in
/// Anthropic's envelope (`AnthropicErrorEnvelope`).
///
/// Headers: the key as `x-api-key` or `Authorization: Bearer` (`APIKeyMiddleware`); `anthropic-version` is
/// optional (the SDKs always send it; curl users need not), and when sent must be a dated version
/// `YYYY-MM-DD` from 2023-01-01 on (the SDK of the e2e tests sends 2026-10-21, older ones 2023-06-01; the
/// fields of every version are accepted, so the version changes nothing); `anthropic-beta` is ignored (no
/// beta feature is implemented, and a beta field in the body is refused by name).
struct AnthropicMessagesRoute: Sendable {
    let routes: GatewayRoute

    static let versionHeader = HTTPField.Name("anthropic-version")!

    func messages(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try Self.checkVersion(request.headers)
        let body = try await routes.server.readFields(request)
        let inbound = try AnthropicInboundRequest(body.object, kind: .messages)
        return try await routes.handle(request, context, endpoint: .chat, fields: try RequestFields(inbound.chatBody),
                                       wire: .anthropic(model: inbound.model, stopSequences: inbound.stopSequences))
    }

    /// `{"input_tokens": N}`: the prompt the model would see (system, tools, messages in the chat template),
    /// counted with the tokenizer of the group's local deployment; a group without one asks its first remote
    /// deployment that can count (`MessagesTokenCounter`: the upstream's own count_tokens, with the
    /// deployment's model id); a group with neither is a 400.
    func countTokens(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try Self.checkVersion(request.headers)
        let server = routes.server
        let body = try await server.readFields(request)
        let inbound = try AnthropicInboundRequest(body.object, kind: .countTokens)
        try routes.authorize(model: inbound.model, caller: context.caller)
        let deployments = routes.gateway.router.groups[inbound.model] ?? []
        if let local = server.local, deployments.contains(where: { $0.provider is LocalProvider }) {
            let f = try RequestFields(inbound.chatBody)
            let messages = try ChatMessages.parse(f, tools: try ToolRequest.parse(f))
            let template = local.template, tokenizer = local.tokenizer
            let count = try await CPUWork.run(bytes: ChatMessages.contentBytes(messages)) {
                template.tokens(messages, tokenizer: tokenizer).count
            }
            return server.json(["input_tokens": .int(count)])
        }
        for d in deployments {
            guard let counter = d.provider as? any MessagesTokenCounter else { continue }
            do {
                let n = try await counter.countMessageTokens(body.object.settingField("model", .string(d.upstreamModel)),
                                                             timeout: d.timeout ?? Self.countTimeout)
                return server.json(["input_tokens": .int(n)])
            } catch {
                throw OpenAIError(error)
            }
        }
        throw OpenAIError.badParameter("model",
            "Model group '\(inbound.model)' has no deployment that can count tokens (a local model or an upstream with /v1/messages/count_tokens).")
    }

    /// Seconds for an upstream count when the deployment sets no timeout.
    static let countTimeout = 30.0

    static func checkVersion(_ headers: HTTPFields) throws {
        guard let version = headers[versionHeader] else { return }
        let digits = version.utf8.enumerated().allSatisfy { i, c in (i == 4 || i == 7) ? c == 0x2D : (0x30...0x39).contains(c) }
        guard version.utf8.count == 10, digits, version >= "2023-01-01" else {
            throw OpenAIError.badParameter("anthropic-version",
                "anthropic-version '\(version)' is not a version (YYYY-MM-DD, 2023-01-01 or later).")
        }
    }
}
