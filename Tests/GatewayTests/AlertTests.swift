import Foundation
import Gateway
import Testing

@Suite("Alert rules")
struct AlertTests {
    static func evaluator(window: Double = 60, repeatEvery: Double = 600) -> AlertEvaluator {
        var t = AlertThresholds()
        t.windowSeconds = window
        t.repeatIntervalSeconds = repeatEvery
        return AlertEvaluator(thresholds: t)
    }

    @Test func errorRateFiresOnceRepeatsAndResolves() {
        var e = Self.evaluator()
        let t0 = 1_000_000.0
        for i in 0..<9 { e.request(at: t0 + Double(i), failed: false, latency: 0.1) }
        e.request(at: t0 + 9, failed: true, latency: 0.1)
        #expect(e.evaluate(now: t0 + 10).isEmpty)   // 1 of 10 = 10 %: not above the threshold
        e.request(at: t0 + 10, failed: true, latency: 0.1)
        let fired = e.evaluate(now: t0 + 11)
        #expect(fired.map(\.rule) == [.errorRate] && fired[0].status == .firing)
        #expect(fired[0].message.hasPrefix("Error rate 18.2 %"))   // 2 of 11
        #expect(e.evaluate(now: t0 + 20).isEmpty)   // de-duplicated
        // Still failing 600 s later (fresh samples): sent again.
        for i in 0..<10 { e.request(at: t0 + 600 + Double(i), failed: i < 3, latency: 0.1) }
        #expect(e.evaluate(now: t0 + 615).map(\.status) == [.firing])
        // The window moves past the failures: one resolved message, then silence.
        let resolved = e.evaluate(now: t0 + 700)
        #expect(resolved.map(\.rule) == [.errorRate] && resolved[0].status == .resolved)
        #expect(e.evaluate(now: t0 + 701).isEmpty)
    }

    @Test func tooFewRequestsDecideNothing() {
        var e = Self.evaluator()
        for i in 0..<9 { e.request(at: Double(i), failed: true, latency: 60) }
        #expect(e.evaluate(now: 9).isEmpty)
    }

    @Test func p95LatencyIsThe95thPercentile() {
        var e = Self.evaluator()
        for i in 0..<19 { e.request(at: Double(i), failed: false, latency: 0.1) }
        e.request(at: 19, failed: false, latency: 10)
        #expect(e.evaluate(now: 20).isEmpty)   // 1 slow of 20: the 95th percentile (19th of 20) is 0.1 s
        e.request(at: 20, failed: false, latency: 10)
        e.request(at: 20, failed: false, latency: 10)
        #expect(e.evaluate(now: 21).map(\.rule) == [.p95Latency])   // 3 of 22: the 21st is 10 s
    }

    @Test func cacheHitRateBelowHalf() {
        var e = Self.evaluator()
        for i in 0..<10 { e.cacheLookup(at: Double(i), hit: i < 5) }
        #expect(e.evaluate(now: 10).isEmpty)   // exactly 50 %
        e.cacheLookup(at: 10, hit: false)
        let fired = e.evaluate(now: 11)
        #expect(fired.map(\.rule) == [.cacheHitRate] && fired[0].message.hasPrefix("Cache hit rate 45.5 %"))
    }

    @Test func costSpikeAgainstTheTrailingHour() {
        var e = Self.evaluator(window: 300)
        let t0 = 10_000.0, cheap = USDAmount(dollars: 0.0001)!, dear = USDAmount(dollars: 0.01)!
        for i in 0..<30 { e.cost(at: t0 + Double(i) * 100, cheap) }
        let now = t0 + 3_600
        #expect(e.evaluate(now: now).isEmpty)   // steady spend
        for i in 0..<10 { e.cost(at: now + Double(i), dear) }
        #expect(e.evaluate(now: now + 10).map(\.rule) == [.costSpike])
    }

    @Test func externalConditionsPerSubject() {
        var e = Self.evaluator()
        e.set(.deploymentCooledDown, subject: "a", holds: "a is cooling down")
        e.set(.deploymentCooledDown, subject: "b", holds: "b is cooling down")
        #expect(e.evaluate(now: 1).map(\.subject) == ["a", "b"])
        e.set(.deploymentCooledDown, subject: "a", holds: nil)
        let out = e.evaluate(now: 2)
        #expect(out.count == 1 && out[0].subject == "a" && out[0].status == .resolved)
        #expect(out[0].message == "Resolved: a is cooling down")
    }

    @Test func webhookURLsAreBounded() {
        #expect(AlertNotifier.validURL("http://127.0.0.1:9000/hook"))
        #expect(AlertNotifier.validURL("https://hooks.slack.com/services/T/B/X"))
        for bad in ["", "ftp://x/y", "file:///etc/passwd", "http://", "http://a b/", "hooks.slack.com/x",
                    "http://x/\n", "http://x/" + String(repeating: "a", count: 2048)] {
            #expect(!AlertNotifier.validURL(bad), "\(bad.prefix(40))")
        }
    }

    @Test func bodiesPerChannel() {
        let n = AlertEvaluator.Notification(rule: .redisDown, subject: "", status: .resolved, message: "Resolved: x",
                                            time: 12.5)
        #expect(AlertNotifier.body(n, channel: .slack) == ["text": ":white_check_mark: [resolved] redis_down: Resolved: x"])
        #expect(AlertNotifier.body(n, channel: .webhook) == ["alert": "redis_down", "status": "resolved", "subject": "",
                                                              "message": "Resolved: x", "timestamp": 12.5])
    }
}
