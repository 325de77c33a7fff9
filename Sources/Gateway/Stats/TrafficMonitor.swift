import Foundation
import Synchronization

/// The server's `TrafficWindow`, shared by the request path (which records) and the dashboard (which reads):
/// a lock around the pure window, held only for the append or the summary.
public final class TrafficMonitor: Sendable {
    private let window: Mutex<TrafficWindow>
    /// The window length in seconds.
    public let windowSeconds: Double

    public init(windowSeconds: Double = 60, maxSamplesPerGroup: Int = 10_000) {
        window = Mutex(TrafficWindow(windowSeconds: windowSeconds, maxSamplesPerGroup: maxSamplesPerGroup))
        self.windowSeconds = windowSeconds
    }

    /// Records one request of `group` that ended now.
    public func record(group: String, latency: Double, failed: Bool) {
        let now = Date().timeIntervalSince1970
        window.withLock { $0.record(group: group, at: now, latency: latency, failed: failed) }
    }

    /// The window ending now for each of `groups`.
    public func summary(groups: [String]) -> [TrafficWindow.GroupSummary] {
        let now = Date().timeIntervalSince1970
        return window.withLock { $0.summary(groups: groups, now: now) }
    }
}
