/// Cost and savings totals of this instance, per caller (hashed key) and per model group, and the most
/// recent spend records (LiteLLM's spend logs, newest last).
///
/// NOTE: the totals are this process's since start: they feed `/metrics` counters and the dashboard. What a
/// key may still spend is not decided here but by `SpendTracker`, whose counters live in Redis when one is
/// configured. Memory is bounded: callers are the configured keys plus `master` / `anonymous`, groups come
/// from `model_list` (the router refuses others before anything is recorded), records are a ring.
public actor CostLedger {
    /// Running totals of one caller or group.
    public struct Totals: Sendable, Equatable {
        public var spend = USDAmount.zero
        public var requests = 0
        public var promptTokens = 0
        public var completionTokens = 0
        public var saved: [SavingsLayer: USDAmount] = [:]

        mutating func add(_ r: SpendRecord) {
            spend += r.attribution.cost
            requests = requests &+ 1
            promptTokens = promptTokens.addingReportingOverflow(r.usage.promptTokens).overflow
                ? .max : promptTokens + r.usage.promptTokens
            completionTokens = completionTokens.addingReportingOverflow(r.usage.completionTokens).overflow
                ? .max : completionTokens + r.usage.completionTokens
            for (layer, usd) in r.attribution.saved { saved[layer, default: .zero] += usd }
        }
    }

    private var byKey: [String: Totals] = [:]
    private var aliases: [String: String] = [:]
    private var byGroup: [String: Totals] = [:]
    private var recent: [SpendRecord] = []
    private var next = 0
    /// Most records kept for `/spend/logs`.
    public let capacity: Int

    public init(capacity: Int = 10_000) { self.capacity = max(1, capacity) }

    /// Adds one answered request.
    public func record(_ r: SpendRecord) {
        byKey[r.apiKey, default: Totals()].add(r)
        if let alias = r.keyAlias { aliases[r.apiKey] = alias }
        byGroup[r.modelGroup, default: Totals()].add(r)
        if recent.count < capacity {
            recent.append(r)
        } else {
            recent[next] = r
            next = (next + 1) % capacity
        }
    }

    /// Totals per caller: (spend id, alias, totals), sorted by spend id.
    public func keys() -> [(apiKey: String, alias: String?, totals: Totals)] {
        byKey.sorted { $0.key < $1.key }.map { ($0.key, aliases[$0.key], $0.value) }
    }

    /// Totals per model group, sorted by name.
    public func groups() -> [(group: String, totals: Totals)] {
        byGroup.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The kept records, oldest first, optionally only those of caller `apiKey`.
    public func records(apiKey: String? = nil) -> [SpendRecord] {
        let ordered = Array(recent[next...] + recent[..<next])
        guard let apiKey else { return ordered }
        return ordered.filter { $0.apiKey == apiKey }
    }
}
