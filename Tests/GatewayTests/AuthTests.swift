import Foundation
import Gateway
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
