import Foundation
import Gateway
import Testing

@Suite("Traffic window")
struct TrafficWindowTests {
    @Test("nearest-rank percentiles: 1...100 gives p50 = 50, p95 = 95; one value is every percentile; none is nil")
    func percentiles() {
        let values = (1...100).map(Double.init)
        #expect(TrafficWindow.percentile(values, 0.50) == 50)
        #expect(TrafficWindow.percentile(values, 0.95) == 95)
        #expect(TrafficWindow.percentile(values, 1.0) == 100)
        #expect(TrafficWindow.percentile([7], 0.5) == 7)
        #expect(TrafficWindow.percentile([7], 0.95) == 7)
        #expect(TrafficWindow.percentile([], 0.5) == nil)
    }

    @Test("per group, only the last window counts: requests, failures, requests/s and percentiles")
    func window() {
        var w = TrafficWindow(windowSeconds: 60)
        // Outside the window (t < 40 at now = 100): never counted.
        for t in stride(from: 0.0, to: 40, by: 1) { w.record(group: "a", at: t, latency: 100, failed: true) }
        // Inside: latencies 1...20 s for a (every 4th failed), one request for b.
        for i in 1...20 { w.record(group: "a", at: 40 + Double(i), latency: Double(i), failed: i % 4 == 0) }
        w.record(group: "b", at: 99, latency: 0.5, failed: false)
        let s = w.summary(groups: ["b", "a", "idle"], now: 100)
        #expect(s.map(\.group) == ["b", "a", "idle"])
        #expect(s[1].requests == 20)
        #expect(s[1].failures == 5)
        #expect(s[1].requestsPerSecond == 20.0 / 60)
        #expect(s[1].p50 == 10)
        #expect(s[1].p95 == 19)
        #expect(s[0] == .init(group: "b", requests: 1, failures: 0, requestsPerSecond: 1.0 / 60, p50: 0.5, p95: 0.5))
        #expect(s[2] == .init(group: "idle", requests: 0, failures: 0, requestsPerSecond: 0, p50: nil, p95: nil))
        // Later, everything has left the window.
        let later = w.summary(groups: ["a", "b"], now: 1000)
        #expect(later.allSatisfy { $0.requests == 0 && $0.p50 == nil })
    }

    @Test("memory is bounded per group: the oldest samples go first")
    func bounded() {
        var w = TrafficWindow(windowSeconds: 1000, maxSamplesPerGroup: 10)
        for i in 1...25 { w.record(group: "a", at: Double(i), latency: Double(i), failed: false) }
        let s = w.summary(groups: ["a"], now: 26)[0]
        // Full at 10: each new sample drops the oldest one, so 16...25 are left.
        #expect(s.requests == 10)
        #expect(s.p50 == 20)
        #expect(s.p95 == 25)
    }

    @Test("a negative latency (clock step) is recorded as 0")
    func negativeLatency() {
        var w = TrafficWindow()
        w.record(group: "a", at: 10, latency: -3, failed: false)
        #expect(w.summary(groups: ["a"], now: 10)[0].p50 == 0)
    }
}
