import Foundation

/// Requests per model group over a sliding window: how many, how many failed, requests per second and the
/// latency percentiles (p50, p95). A pure value (observations and the time in, a summary out), owned by a
/// `TrafficMonitor` in the server and tested alone.
///
/// NOTE: samples are kept per group in time order and dropped once older than the window; at most
/// `maxSamplesPerGroup` are kept per group (the oldest tenth is dropped when full), and only groups the
/// caller records exist (the server records configured groups only, so a client cannot add names).
public struct TrafficWindow: Sendable {
    /// One group's traffic over the window.
    public struct GroupSummary: Sendable, Equatable {
        public var group: String
        public var requests: Int
        public var failures: Int
        /// `requests / windowSeconds`.
        public var requestsPerSecond: Double
        /// Nearest-rank percentiles of latency in seconds (nil: no request in the window).
        public var p50: Double?
        public var p95: Double?

        public init(group: String, requests: Int, failures: Int, requestsPerSecond: Double, p50: Double?, p95: Double?) {
            self.group = group
            self.requests = requests
            self.failures = failures
            self.requestsPerSecond = requestsPerSecond
            self.p50 = p50
            self.p95 = p95
        }
    }

    struct Sample: Sendable { var time: Double; var latency: Double; var failed: Bool }

    public let windowSeconds: Double
    public let maxSamplesPerGroup: Int
    private var samples: [String: [Sample]] = [:]

    public init(windowSeconds: Double = 60, maxSamplesPerGroup: Int = 10_000) {
        precondition(windowSeconds > 0 && maxSamplesPerGroup > 0)
        self.windowSeconds = windowSeconds
        self.maxSamplesPerGroup = maxSamplesPerGroup
    }

    /// Records one request of `group` that ended at `time` (Unix seconds) after `latency` seconds.
    public mutating func record(group: String, at time: Double, latency: Double, failed: Bool) {
        var list = samples[group, default: []]
        if list.count >= maxSamplesPerGroup { list.removeFirst(max(1, maxSamplesPerGroup / 10)) }
        list.append(Sample(time: time, latency: max(0, latency), failed: failed))
        samples[group] = list
    }

    /// The window ending at `now` for each of `groups` (in that order; a group without traffic has zero
    /// requests and nil percentiles). Drops samples older than the window.
    public mutating func summary(groups: [String], now: Double) -> [GroupSummary] {
        let from = now - windowSeconds
        for (group, list) in samples {
            let kept = list.drop { $0.time < from }
            samples[group] = kept.isEmpty ? nil : Array(kept)
        }
        return groups.map { group in
            let recent = samples[group]?.filter { $0.time <= now } ?? []
            let latencies = recent.map(\.latency).sorted()
            return GroupSummary(group: group, requests: recent.count, failures: recent.filter(\.failed).count,
                                requestsPerSecond: Double(recent.count) / windowSeconds,
                                p50: Self.percentile(latencies, 0.50), p95: Self.percentile(latencies, 0.95))
        }
    }

    /// The nearest-rank percentile `q` (0 < q <= 1) of ascending `sorted` values; nil when empty.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((Double(sorted.count) * q).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}
