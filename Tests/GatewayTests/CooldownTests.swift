import Foundation
import Gateway
import Testing

/// A clock that moves only when the test says so.
final class ManualSwiftClock: Clock, @unchecked Sendable {
    // NOTE: @unchecked Sendable: `offset` is guarded by `lock`.
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private let lock = NSLock()
    private var offset = Duration.zero
    var now: Instant { lock.withLock { Instant(offset: offset) } }
    var minimumResolution: Duration { .nanoseconds(1) }
    func advance(by duration: Duration) { lock.withLock { offset += duration } }
    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        while now < deadline { try await Task.sleep(for: .milliseconds(1)) }
    }
}

@Suite struct CooldownTests {
    static func err(_ status: Int, retryAfter: Double? = nil) -> ProviderError {
        ProviderError(status: status, message: "x", retryAfter: retryAfter, kind: .other)
    }

    @Test(arguments: [401, 404, 408])
    func immediateCooldownThenRecovery(status: Int) async {
        let clock = ManualSwiftClock()
        let store = InMemoryCooldownStore(policy: CooldownPolicy(cooldownTime: 5, allowedFails: 3), clock: clock)
        #expect(await store.recordFailure(deploymentID: "d", error: Self.err(status), groupSize: 1))
        #expect(await store.cooldownRemaining(deploymentID: "d") == 5)
        clock.advance(by: .milliseconds(4900))
        #expect(await store.cooldownRemaining(deploymentID: "d").map { abs($0 - 0.1) < 1e-9 } == true)
        clock.advance(by: .milliseconds(100))
        #expect(await store.cooldownRemaining(deploymentID: "d") == nil)
    }

    @Test func rateLimitCoolsDownOnlyWhenTheGroupHasOtherDeployments() async {
        let clock = ManualSwiftClock()
        let store = InMemoryCooldownStore(policy: CooldownPolicy(cooldownTime: 5, allowedFails: 0), clock: clock)
        #expect(await store.recordFailure(deploymentID: "solo", error: Self.err(429), groupSize: 1) == false)
        #expect(await store.recordFailure(deploymentID: "solo", error: Self.err(429), groupSize: 1) == false)
        #expect(await store.recordFailure(deploymentID: "multi", error: Self.err(429, retryAfter: 12), groupSize: 2))
        #expect(await store.cooldownRemaining(deploymentID: "multi") == 12)
    }

    @Test func countedFailuresCoolDownAboveAllowedFailsWithinTheMinute() async {
        let clock = ManualSwiftClock()
        let store = InMemoryCooldownStore(policy: CooldownPolicy(cooldownTime: 5, allowedFails: 2), clock: clock)
        #expect(await store.recordFailure(deploymentID: "d", error: Self.err(500), groupSize: 2) == false)
        #expect(await store.recordFailure(deploymentID: "d", error: Self.err(503), groupSize: 2) == false)
        clock.advance(by: .seconds(61))   // new minute window: the count restarts
        #expect(await store.recordFailure(deploymentID: "d", error: Self.err(500), groupSize: 2) == false)
        #expect(await store.recordFailure(deploymentID: "d", error: Self.err(500), groupSize: 2) == false)
        #expect(await store.recordFailure(deploymentID: "d", error: Self.err(500), groupSize: 2))
        #expect(await store.cooldownRemaining(deploymentID: "d") == 5)
        clock.advance(by: .seconds(5))
        #expect(await store.cooldownRemaining(deploymentID: "d") == nil)
    }

    @Test func singleDeploymentGroupIsNeverCooledByCountAndClientErrorsAreIgnored() async {
        let store = InMemoryCooldownStore(policy: CooldownPolicy(cooldownTime: 5, allowedFails: 0), clock: ManualSwiftClock())
        for _ in 0..<10 {
            #expect(await store.recordFailure(deploymentID: "d", error: Self.err(500), groupSize: 1) == false)
            #expect(await store.recordFailure(deploymentID: "e", error: Self.err(400), groupSize: 3) == false)
        }
        #expect(await store.cooldownRemaining(deploymentID: "d") == nil)
        #expect(await store.cooldownRemaining(deploymentID: "e") == nil)
    }
}
