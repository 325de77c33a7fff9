import Foundation

/// The alert rules over sliding windows, with de-duplication: a pure state machine (observations and the
/// time in, notifications out), owned by one actor in the server and tested alone.
///
/// Each rule instance (a rule plus a subject: a deployment, a key) is `firing` or not. `evaluate(now:)`
/// returns a `.firing` notification when an instance starts firing or has fired for `repeatInterval` since
/// its last notification, and one `.resolved` when it clears. Memory is bounded: samples older than an
/// hour are dropped and at most `maxSamples` are kept.
public struct AlertEvaluator: Sendable {
    public enum Status: String, Sendable { case firing, resolved }

    /// One message to send.
    public struct Notification: Sendable, Equatable {
        public var rule: AlertRule
        /// What the rule is about (a deployment id, a key alias; "" for server-wide rules).
        public var subject: String
        public var status: Status
        public var message: String
        /// Unix seconds.
        public var time: Double

        public init(rule: AlertRule, subject: String, status: Status, message: String, time: Double) {
            self.rule = rule
            self.subject = subject
            self.status = status
            self.message = message
            self.time = time
        }
    }

    struct Sample { var time: Double; var failed: Bool; var latency: Double }

    public let thresholds: AlertThresholds
    public static let maxSamples = 100_000
    private var requests: [Sample] = []
    private var lookups: [(time: Double, hit: Bool)] = []
    private var costs: [(time: Double, pico: Int64)] = []
    /// External conditions: rule + subject -> message while it holds.
    private var conditions: [Key: String] = [:]
    private var active: [Key: (since: Double, lastSent: Double, message: String)] = [:]

    struct Key: Hashable { var rule: AlertRule; var subject: String }

    public init(thresholds: AlertThresholds = AlertThresholds()) { self.thresholds = thresholds }

    /// A finished request: failed or not, its latency in seconds.
    public mutating func request(at time: Double, failed: Bool, latency: Double) {
        Self.append(&requests, Sample(time: time, failed: failed, latency: latency.isFinite ? latency : 0))
    }

    /// The price of an answered request (streams: once they end).
    public mutating func cost(at time: Double, _ amount: USDAmount) {
        Self.append(&costs, (time, amount.pico))
    }

    /// A response-cache lookup (hit: exact or semantic).
    public mutating func cacheLookup(at time: Double, hit: Bool) {
        Self.append(&lookups, (time, hit))
    }

    /// Sets or clears an external condition (a cooled-down deployment, Redis down, a crossed budget).
    public mutating func set(_ rule: AlertRule, subject: String = "", holds message: String?) {
        conditions[Key(rule: rule, subject: subject)] = message
    }

    /// The notifications due at `now`.
    public mutating func evaluate(now: Double) -> [Notification] {
        requests.removeAll { $0.time < now - 3_600 }
        lookups.removeAll { $0.time < now - 3_600 }
        costs.removeAll { $0.time < now - 3_600 }
        var holding = conditions
        for (rule, message) in windowRules(now: now) { holding[Key(rule: rule, subject: "")] = message }
        var out: [Notification] = []
        for (key, message) in holding.sorted(by: { ($0.key.rule.rawValue, $0.key.subject) < ($1.key.rule.rawValue, $1.key.subject) }) {
            if let a = active[key] {
                if now - a.lastSent >= thresholds.repeatIntervalSeconds {
                    active[key] = (a.since, now, message)
                    out.append(Notification(rule: key.rule, subject: key.subject, status: .firing, message: message, time: now))
                }
            } else {
                active[key] = (now, now, message)
                out.append(Notification(rule: key.rule, subject: key.subject, status: .firing, message: message, time: now))
            }
        }
        for (key, a) in active.sorted(by: { ($0.key.rule.rawValue, $0.key.subject) < ($1.key.rule.rawValue, $1.key.subject) })
            where holding[key] == nil {
            active[key] = nil
            out.append(Notification(rule: key.rule, subject: key.subject, status: .resolved,
                                    message: "Resolved: \(a.message)", time: now))
        }
        return out
    }

    /// The window rules that hold now, with their messages.
    func windowRules(now: Double) -> [(AlertRule, String)] {
        let t = thresholds, from = now - t.windowSeconds
        let recent = requests.filter { $0.time >= from }
        var out: [(AlertRule, String)] = []
        if recent.count >= t.minSamples {
            let failed = recent.filter(\.failed).count
            let rate = Double(failed) / Double(recent.count)
            if rate > t.errorRate {
                out.append((.errorRate, "Error rate \(Self.percent(rate)) over the last \(Int(t.windowSeconds)) s "
                    + "(\(failed) of \(recent.count) requests failed; threshold \(Self.percent(t.errorRate)))"))
            }
            let latencies = recent.map(\.latency).sorted()
            let p95 = latencies[min(latencies.count - 1, Int((Double(latencies.count) * 0.95).rounded(.up)) - 1)]
            if p95 > t.p95LatencySeconds {
                out.append((.p95Latency, "p95 latency \(Self.seconds(p95)) over the last \(Int(t.windowSeconds)) s "
                    + "(threshold \(Self.seconds(t.p95LatencySeconds)))"))
            }
        }
        let looked = lookups.filter { $0.time >= from }
        if looked.count >= t.minSamples {
            let rate = Double(looked.filter(\.hit).count) / Double(looked.count)
            if rate < t.cacheHitRate {
                out.append((.cacheHitRate, "Cache hit rate \(Self.percent(rate)) over the last \(Int(t.windowSeconds)) s "
                    + "(\(looked.count) lookups; threshold \(Self.percent(t.cacheHitRate)))"))
            }
        }
        // Spend per second in the window against the trailing hour before it.
        let recentCosts = costs.filter { $0.time >= from }
        let windowCost = recentCosts.reduce(0.0) { $0 + Double($1.pico) }
        let before = costs.filter { $0.time < from }
        if recentCosts.count >= t.minSamples, !before.isEmpty, windowCost > 0 {
            let hourSeconds = max(1, 3_600 - t.windowSeconds)
            let baseline = before.reduce(0.0) { $0 + Double($1.pico) } / hourSeconds
            let rate = windowCost / t.windowSeconds
            if rate > t.costSpikeFactor * baseline {
                out.append((.costSpike, "Spend \(Self.dollars(rate * 3_600)) USD/h over the last \(Int(t.windowSeconds)) s, "
                    + "\(baseline > 0 ? String(format: "%.1f", rate / baseline) + "x" : "up from nothing in") the trailing hour"))
            }
        }
        return out
    }

    private static func append<T>(_ array: inout [T], _ value: T) {
        if array.count >= Self.maxSamples { array.removeFirst(array.count / 10) }
        array.append(value)
    }

    static func percent(_ x: Double) -> String { String(format: "%.1f %%", x * 100) }
    static func seconds(_ x: Double) -> String { String(format: "%.2f s", x) }
    static func dollars(_ picoPerHour: Double) -> String { String(format: "%.6f", picoPerHour / 1e12) }
}
