import Testing
@testable import PrefixCache

/// A clock the test moves by hand: TTL tests never sleep.
final class ManualClock: PinClock {
    var time: Duration = .seconds(1000)
    func now() -> Duration { time }
    func advance(by duration: Duration) { time += duration }
}

/// SplitMix64: a tiny deterministic generator, so every randomized test replays from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let testModel = ModelFingerprint(digesting: "test-model")

/// A manager with a manual clock (block size 4 keeps the examples short unless stated).
func makeManager(
    blocks: Int = 32, blockSize: Int = 4, enabled: Bool = true, pinShare: Double = 0.25,
    clock: ManualClock = ManualClock()
) throws -> PrefixCacheManager {
    try PrefixCacheManager(
        config: PrefixCacheConfig(
            blockCount: blocks, blockSize: blockSize, model: testModel, enabled: enabled,
            maxPinnedFraction: pinShare),
        clock: clock)
}

/// Tokens `start ..< start + count`.
func run(_ start: Int, _ count: Int) -> [Int] { Array(start..<start + count) }

extension PrefixCacheManager {
    /// Looks up, admits (reserving the prompt), and commits the uncached part of the prompt: a full
    /// prefill in one call. Returns the admission.
    @discardableResult
    func prefill(_ prompt: [Int], keys: BlockExtraKeys = .none) throws -> Admission {
        let match = try lookup(prompt, keys: keys)
        let admission = try #require(try admit(match))
        try commit(admission.sequence, tokens: prompt[admission.cachedTokens...])
        return admission
    }

    /// Decodes `tokens` one at a time: reserve, commit.
    func decode(_ sequence: SequenceID, _ tokens: [Int]) throws {
        for token in tokens {
            let total = try #require(computedTokens(of: sequence)) + 1
            #expect(try reserve(sequence, totalTokens: total))
            try commit(sequence, tokens: [token])
        }
    }

    /// Records an invariant failure as a test issue (with the operation that caused it).
    func expectConsistent(after operation: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        let problems = checkInvariants()
        #expect(problems.isEmpty, "after \(operation()): \(problems.prefix(5))", sourceLocation: sourceLocation)
    }
}
