import Foundation
import Gateway
import Hummingbird
import OpenAIRequest

/// LiteLLM's spend reports (master key): `GET /global/spend/keys`, `GET /global/spend/models` (this
/// instance's totals since start, with tokens and the savings per layer added) and `GET /spend/logs`.
struct SpendRoutes: Sendable {
    let server: OpenAIServer
    let ledger: CostLedger
    /// The shared spend log (Redis), when there is one.
    let spend: SpendTracker

    /// Spend reports show every key's spend: the master key only (a virtual key gets a 403).
    private func requireAdmin(_ context: InferRequestContext) throws {
        guard context.caller.isAdmin else { throw OpenAIError.forbidden("The spend reports need the master key.") }
    }

    /// `[{"api_key", "key_alias", "total_spend", "requests", "prompt_tokens", "completion_tokens", "saved"}]`,
    /// highest spend first; `?limit=N` keeps the first N (1...1000, default all).
    func keys(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let limit = try Self.limit(request)
        let rows = await ledger.keys().sorted { $0.totals.spend > $1.totals.spend || ($0.totals.spend == $1.totals.spend
            && $0.apiKey < $1.apiKey) }
        return server.json(.array(rows.prefix(limit).map { row in
            .object([("api_key", .string(row.apiKey)), ("key_alias", row.alias.map(JSONValue.string) ?? .null)]
                    + Self.totals(row.totals, spendField: "total_spend"))
        }))
    }

    /// `[{"model", "total_spend", ...}]` per model group, highest spend first.
    func models(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let limit = try Self.limit(request)
        let rows = await ledger.groups().sorted { $0.totals.spend > $1.totals.spend || ($0.totals.spend == $1.totals.spend
            && $0.group < $1.group) }
        return server.json(.array(rows.prefix(limit).map { row in
            .object([("model", .string(row.group))] + Self.totals(row.totals, spendField: "total_spend"))
        }))
    }

    /// The kept spend records (LiteLLM's `SpendLogs` rows), oldest first: every instance's when spend is
    /// kept in Redis (the newest `SpendTracker.sharedLogLimit`), else this instance's; `?api_key=<hashed
    /// token>` and `?request_id=` filter them.
    func logs(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let query = request.uri.queryParameters
        let apiKey = query["api_key"].map(String.init), requestID = query["request_id"].map(String.init)
        var rows: [JSONValue]
        if let shared = await spend.sharedLog() {
            rows = shared
            if let apiKey { rows = rows.filter { $0["api_key"]?.stringField == apiKey } }
        } else {
            rows = await ledger.records(apiKey: apiKey).map(\.json)
        }
        if let requestID { rows = rows.filter { $0["request_id"]?.stringField == requestID } }
        return server.json(.array(rows))
    }

    static func totals(_ t: CostLedger.Totals, spendField: String) -> [(String, JSONValue)] {
        var saved: [(String, JSONValue)] = []
        for layer in SavingsLayer.allCases { saved.append((layer.rawValue, .double(t.saved[layer]?.dollars ?? 0))) }
        return [(spendField, .double(t.spend.dollars)), ("requests", .int(t.requests)),
                ("prompt_tokens", .int(t.promptTokens)), ("completion_tokens", .int(t.completionTokens)),
                ("saved", .object(saved))]
    }

    /// `?limit=` as 1...1000 (400 otherwise); absent: everything.
    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters["limit"] else { return .max }
        guard let n = Int(String(text)), (1...1000).contains(n) else {
            throw OpenAIError.badParameter("limit", "'limit' must be an integer from 1 to 1000.")
        }
        return n
    }
}
