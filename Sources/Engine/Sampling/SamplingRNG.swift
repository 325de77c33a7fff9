// Reference: xoshiro256** 1.0 and splitmix64 by D. Blackman and S. Vigna (prng.di.unimi.it).

/// The sampler's seedable PRNG: xoshiro256**, its state filled from the seed by splitmix64.
///
/// Pure 64-bit integer arithmetic, so one seed gives the same sequence on every platform.
/// NOTE: llama.cpp uses `std::mt19937` plus `std::uniform_real_distribution`, whose output is not
/// portable across C++ standard libraries anyway; we do not try to reproduce its streams.
struct SamplingRNG: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Seeds the four state words with four consecutive splitmix64 outputs (never all zero).
    init(seed: UInt64) {
        var sm = seed
        s0 = SamplingRNG.splitMix64(&sm)
        s1 = SamplingRNG.splitMix64(&sm)
        s2 = SamplingRNG.splitMix64(&sm)
        s3 = SamplingRNG.splitMix64(&sm)
    }

    /// One splitmix64 step: advances `state` and returns the mixed output.
    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Next 64 random bits (xoshiro256**).
    mutating func next() -> UInt64 {
        let result = SamplingRNG.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = SamplingRNG.rotl(s3, 45)
        return result
    }

    /// A double uniform on [0, 1): the top 53 bits scaled by 2^-53.
    mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}
