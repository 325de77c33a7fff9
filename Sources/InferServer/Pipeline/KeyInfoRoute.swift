import Foundation
import Gateway
import Hummingbird
import OpenAIRequest

/// LiteLLM's `GET /key/info`: a virtual key reads its own info (no `key` parameter, or its own key); the
/// master key reads any key's (`?key=` the key or its hashed token). The decision is `Caller.mayReadSpend`.
struct KeyInfoRoute: Sendable {
    let server: OpenAIServer
    let spend: SpendTracker

    func handle(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let caller = context.caller
        let key: VirtualKeyConfig
        if let asked = request.uri.queryParameters["key"].map(String.init) {
            guard asked.utf8.count <= 256 else { throw OpenAIError.badParameter("key", "'key' is too long.") }
            guard let found = server.keys.key(presented: asked) else {
                // A virtual key learns nothing about other keys, not even whether they exist.
                guard caller.isAdmin else { throw OpenAIError.forbidden("This API key may only read its own info.") }
                throw OpenAIError(status: .notFound, message: "No such key.", type: "invalid_request_error",
                                  param: "key", code: "key_not_found")
            }
            key = found
        } else if case .key(let own) = caller {
            key = own
        } else {
            throw OpenAIError.badParameter("key", "Name the key: GET /key/info?key=<key or hashed token>.")
        }
        guard caller.mayReadSpend(of: key) else {
            throw OpenAIError.forbidden("This API key may only read its own info.")
        }
        let spent = await spend.spend(key)
        let window = spend.window(key)
        func usd(_ a: USDAmount?) -> JSONValue { a.map { .double($0.dollars) } ?? .null }
        let info: JSONValue = .object([
            ("key_name", .string(Self.masked(key.key))),
            ("key_alias", key.alias.map(JSONValue.string) ?? .null),
            ("spend", .double(spent.dollars)),
            ("max_budget", usd(key.maxBudget)),
            ("soft_budget", usd(key.softBudget)),
            ("budget_duration", key.budgetDuration.map { .string($0.description) } ?? .null),
            ("budget_reset_at", window.resetAt.map { .string(SpendRecord.iso8601(Double($0))) } ?? .null),
            ("models", .array(key.models.map(JSONValue.string))),
            ("tpm_limit", key.tpm.map(JSONValue.int) ?? .null),
            ("rpm_limit", key.rpm.map(JSONValue.int) ?? .null),
        ])
        return server.json(.object([("key", .string(APIKeyStore.hashedToken(key.key))), ("info", info)]))
    }

    /// LiteLLM's `key_name`: `sk-...` and the last four characters.
    static func masked(_ key: String) -> String { "sk-...\(key.suffix(4))" }
}
