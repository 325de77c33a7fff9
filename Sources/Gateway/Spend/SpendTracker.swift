import Foundation

/// Per-key spend against LiteLLM's `max_budget` / `soft_budget` / `budget_duration`: a key whose spend in
/// the current window has reached `max_budget` is refused (`budget_exceeded`); crossing `soft_budget` is
/// reported (alerts) but refuses nothing.
///
/// NOTE: LiteLLM checks spend before a request and adds the cost after it, so concurrent requests of one key
/// can overshoot `max_budget` by what they cost together; so does this (a request's price is unknown until
/// it is answered). Counters are `<prefix>:spend:<hashed key>:<window start>` in pico-dollars.
public struct SpendTracker: Sendable {
    let store: any SpendStore
    let prefix: String
    let now: @Sendable () -> Double

    public init(store: any SpendStore, prefix: String = "infer",
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.store = store
        self.prefix = prefix
        self.now = now
    }

    /// Where `key`'s spend is counted now and when that window ends (nil: never, no `budget_duration`).
    public func window(_ key: VirtualKeyConfig) -> (name: String, resetAt: Int64?, ttl: Int64?) {
        let hashed = APIKeyStore.hashedToken(key.key)
        guard let duration = key.budgetDuration else { return ("\(prefix):spend:\(hashed)", nil, nil) }
        let start = duration.windowStart(at: now())
        return ("\(prefix):spend:\(hashed):\(start)", start + duration.seconds, duration.seconds + 60)
    }

    /// The key's spend in the current window.
    public func spend(_ key: VirtualKeyConfig) async -> USDAmount {
        USDAmount(pico: await store.total(window(key).name))
    }

    /// nil when `key` may spend, else the error LiteLLM returns (spend >= max_budget).
    public func check(_ key: VirtualKeyConfig) async -> BudgetExceeded? {
        guard let max = key.maxBudget else { return nil }
        let spent = await spend(key)
        return spent >= max ? BudgetExceeded(alias: key.alias, spend: spent, maxBudget: max) : nil
    }

    /// Most spend-log lines kept in a shared store (LiteLLM keeps its SpendLogs in Postgres; we keep the
    /// newest lines in Redis).
    public static let sharedLogLimit = 5000

    private var logName: String { "\(prefix):spend:logs" }

    /// Adds one record to the spend log every instance shares (nothing without a shared store).
    public func log(_ record: SpendRecord) async {
        await store.appendLog(logName, line: record.json.serialized(), limit: Self.sharedLogLimit)
    }

    /// The shared spend log, oldest first (nil: no shared store, or it cannot be read now). A line that does
    /// not parse as a JSON object is skipped.
    public func sharedLog() async -> [JSONValue]? {
        guard let lines = await store.logLines(logName) else { return nil }
        return lines.compactMap { line in
            guard let v = try? JSONValue.parse(Data(line.utf8)), case .object = v else { return nil }
            return v
        }
    }

    /// Adds `cost` to the key's spend; returns the spend before and after (for soft-budget crossings).
    @discardableResult
    public func charge(_ key: VirtualKeyConfig, _ cost: USDAmount) async -> (before: USDAmount, after: USDAmount) {
        let w = window(key)
        let after = USDAmount(pico: await store.add(w.name, pico: cost.pico, ttl: w.ttl))
        return (USDAmount(pico: after.pico - min(after.pico, cost.pico)), after)
    }
}

/// A key whose spend has reached its `max_budget` (LiteLLM's `BudgetExceededError`).
public struct BudgetExceeded: Error, Sendable, Equatable {
    public var alias: String?
    public var spend: USDAmount
    public var maxBudget: USDAmount

    /// LiteLLM's message: `Budget has been exceeded! Key=<alias> Current cost: <spend>, Max budget: <max>`.
    public var message: String {
        "Budget has been exceeded! Key=\(alias ?? "key") Current cost: \(spend), Max budget: \(maxBudget)"
    }
}
