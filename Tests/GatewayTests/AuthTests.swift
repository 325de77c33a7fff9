import Foundation
import Gateway
import RedisTestSupport
import Testing

@Suite("API keys and rate limits")
struct AuthTests {
    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var t: Double
        init(_ t: Double) { self.t = t }
        var now: Double { lock.withLock { t } }
        func advance(_ s: Double) { lock.withLock { t += s } }
    }

    @Test func authenticatesMasterAndVirtualKeys() {
        let a = VirtualKeyConfig(key: "sk-a", alias: "a", models: ["m1"])
        let store = APIKeyStore(masterKey: "sk-master", keys: [a, VirtualKeyConfig(key: "sk-b")])
        #expect(store.authenticate(authorization: "Bearer sk-master") == .master)
        #expect(store.authenticate(authorization: "Bearer sk-a") == .key(a))
        #expect(store.authenticate(authorization: "Bearer sk-c") == nil)
        #expect(store.authenticate(authorization: "sk-a") == nil)
        #expect(store.authenticate(authorization: nil) == nil)
        #expect(Caller.key(a).mayUse(model: "m1") && !Caller.key(a).mayUse(model: "m2"))
        #expect(Caller.master.mayUse(model: "m2") && Caller.master.tenant == nil)
        // Tenants are digests of the key: stable, distinct, and never the key itself.
        let ta = Caller.key(a).tenant, tb = Caller.key(VirtualKeyConfig(key: "sk-b")).tenant
        #expect(ta != nil && ta != tb && ta?.contains("sk-a") == false)
        #expect(APIKeyStore(masterKey: nil, keys: []).authenticate(authorization: nil) == .anonymous)
    }

    @Test func rpmAndTpmPerMinuteWindow() async {
        let clock = Clock(1_800_000_010)
        let limiter = RateLimiter(store: InMemoryRateLimitStore(now: { clock.now }))
        let key = VirtualKeyConfig(key: "sk-r", rpm: 2, tpm: 100)
        #expect(await limiter.admit(key) == nil)
        #expect(await limiter.admit(key) == nil)
        let wait = await limiter.admit(key)
        #expect(wait != nil && wait! <= 60 && wait! >= 1)
        clock.advance(60)   // next window: the budget is back
        #expect(await limiter.admit(key) == nil)
        await limiter.charge(key, tokens: 100)
        #expect(await limiter.admit(key) != nil)   // tpm spent (and rpm at 2)
        clock.advance(60)
        #expect(await limiter.admit(VirtualKeyConfig(key: "sk-other", rpm: 1)) == nil)
        #expect(await limiter.admit(key) == nil)
    }
}

@Suite("Rate limits in Redis", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct RedisRateLimitTests {
    /// Waits out the last seconds of a minute so that a test's calls fall in one per-minute window.
    static func startOfAWindow() async throws {
        let second = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
        if second > 50 { try await Task.sleep(for: .seconds(61 - second)) }
    }

    @Test func instancesShareCountersAndADeadRedisFallsBackToPerInstanceCounts() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        try await Self.startOfAWindow()
        // Two gateway instances (two clients) on one Redis: the key's rpm of 3 holds across both.
        let a = RateLimiter(store: RedisRateLimitStore(redis: server.client(), prefix: "rl-test"))
        let b = RateLimiter(store: RedisRateLimitStore(redis: server.client(), prefix: "rl-test"))
        let key = VirtualKeyConfig(key: "sk-shared", rpm: 3)
        #expect(await a.admit(key) == nil)
        #expect(await b.admit(key) == nil)
        #expect(await a.admit(key) == nil)
        let wait = await b.admit(key)
        #expect(wait != nil && wait! >= 1 && wait! <= 60, "the 4th request of the minute was admitted")
        // The counter is a real Redis key with an expiry.
        let keys = try await server.client().command(["KEYS", "rl-test:rl:rpm:*"])
        guard case .array(let found) = keys else { Issue.record("KEYS: \(keys)"); return }
        #expect(found.count == 1)
        // Redis gone: requests are still admitted and limited, per instance.
        server.stop()
        let other = VirtualKeyConfig(key: "sk-alone", rpm: 1)
        #expect(await a.admit(other) == nil)
        #expect(await a.admit(other) != nil)
    }
}
