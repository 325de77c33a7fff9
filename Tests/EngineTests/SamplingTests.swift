import Foundation
import Testing

@testable import Engine

/// Sampler behaviour end to end: greedy, seeding, temperature statistics, bans.
@Suite("Sampler")
struct SamplingTests {
    /// Deterministic pseudo-random logits for fixtures (independent of the code under test).
    static func randomLogits(_ n: Int, seed: UInt64, scale: Float = 4) -> [Float] {
        var g = SamplingFixtureRNG(seed)
        return (0..<n).map { _ in Float(g.nextDouble() * 2 - 1) * scale }
    }

    /// First index of the maximum, computed directly from the definition.
    static func referenceArgmax(_ x: [Float]) -> Int {
        let m = x.max()!
        return x.firstIndex(of: m)!
    }

    static func draw(_ s: inout Sampler, _ logits: [Float]) -> Int {
        logits.withUnsafeBufferPointer { s.sample($0) }
    }

    @Test("greedy returns the argmax", arguments: [5, 1000, 262_144])
    func greedyIsArgmax(vocabulary: Int) {
        for trial in 0..<5 {
            let logits = Self.randomLogits(vocabulary, seed: UInt64(trial + 1))
            var s = Sampler(.greedy, vocabularySize: vocabulary)
            #expect(Self.draw(&s, logits) == Self.referenceArgmax(logits))
        }
    }

    @Test("greedy breaks ties toward the smaller id, ignores NaN and does not mutate logits")
    func greedyTiesAndNaN() {
        var s = Sampler(.greedy, vocabularySize: 5)
        #expect(Self.draw(&s, [1, 3, 0, 3, 2]) == 1)
        #expect(Self.draw(&s, [.nan, 1, .nan, 2, 0]) == 3)
        let logits: [Float] = [0.5, 2, 1, -1, 0]
        let copy = logits
        var d = Sampler(SamplingParameters(temperature: 1, repetitionPenalty: 2, logitBias: [0: 5]), vocabularySize: 5)
        d.accept(1)
        _ = Self.draw(&d, logits)
        #expect(logits == copy)
    }

    @Test("vectorized argmax equals the scalar definition (ties across lanes, tail, NaN)", arguments: 0..<40)
    func argmaxMatchesReference(trial: Int) {
        var g = SamplingFixtureRNG(UInt64(trial))
        let n = 1 + Int(g.next() % 100)
        // Eight distinct values at most, so maxima repeat in different SIMD lanes and in the tail.
        var x = (0..<n).map { _ in Float(Int(g.next() % 8)) }
        if trial % 3 == 0 { x[Int(g.next() % UInt64(n))] = .nan }
        let reference = x.indices.reduce(0) { best, i in x[i] > x[best] || x[best].isNaN ? i : best }
        #expect(x.withUnsafeBufferPointer { Sampler.argmax($0) } == reference)
        #expect([Float](repeating: -.infinity, count: n).withUnsafeBufferPointer { Sampler.argmax($0) } == 0)
        var tailMax = [Float](repeating: 0, count: 35)
        tailMax[33] = 1
        tailMax[34] = 1
        #expect(tailMax.withUnsafeBufferPointer { Sampler.argmax($0) } == 33)
    }

    @Test("temperature <= 0 with default filters and penalties still picks the penalized argmax")
    func greedyFastPathMatchesChain() {
        let v = 2000
        for trial in 0..<10 {
            let logits = Self.randomLogits(v, seed: UInt64(100 + trial))
            var p = SamplingParameters(temperature: 0, repetitionPenalty: 1.3, frequencyPenalty: 0.2, presencePenalty: 0.4)
            p.logitBias = [7: 3, 11: -.infinity]
            var s = Sampler(p, vocabularySize: v)
            let top = Self.referenceArgmax(logits)
            for t in [top, 3, 3, 9, top] { s.accept(t) }
            // Penalized logits, written out from the definitions.
            var expected = logits
            expected[7] += 3
            expected[11] = -.infinity
            var counts: [Int: Int] = [:]
            for t in [top, 3, 3, 9, top] { counts[t, default: 0] += 1 }
            for (t, c) in counts {
                expected[t] = expected[t] <= 0 ? expected[t] * 1.3 : expected[t] / 1.3
                expected[t] -= Float(c) * 0.2 + 0.4
            }
            let picked = Self.draw(&s, logits)
            #expect(picked == Self.referenceArgmax(expected))
            // The full chain (top_k, top_p, min_p, greedy temperature) leaves exactly that token.
            logits.withUnsafeBufferPointer { s.applyChain($0) }
            #expect(s.candidates.tokenIDs == [picked])
        }
    }

    @Test("top_k = 1 is greedy at any temperature", arguments: [Float(0.1), 0.8, 1, 5, 100])
    func topKOneIsGreedy(temperature: Float) {
        let v = 1000
        for trial in 0..<20 {
            let logits = Self.randomLogits(v, seed: UInt64(trial + 50))
            let p = SamplingParameters(temperature: temperature, topK: 1, topP: 1, minP: 0, seed: UInt64(trial))
            var s = Sampler(p, vocabularySize: v)
            #expect(Self.draw(&s, logits) == Self.referenceArgmax(logits))
        }
    }

    @Test("same seed gives the same sequence; reset replays it")
    func sameSeedSameSequence() {
        let v = 500
        let logits = Self.randomLogits(v, seed: 9, scale: 1)
        let p = SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 1234)
        var a = Sampler(p, vocabularySize: v)
        var b = Sampler(p, vocabularySize: v)
        let seqA = (0..<300).map { _ in Self.draw(&a, logits) }
        let seqB = (0..<300).map { _ in Self.draw(&b, logits) }
        #expect(seqA == seqB)
        #expect(Set(seqA).count > 50)  // really random, not stuck on one token
        a.reset()
        #expect((0..<300).map { _ in Self.draw(&a, logits) } == seqA)
        // A random seed is resolved once and reported, so it can be replayed too.
        var r = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0), vocabularySize: v)
        var replay = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: r.seed), vocabularySize: v)
        #expect((0..<50).map { _ in Self.draw(&r, logits) } == (0..<50).map { _ in Self.draw(&replay, logits) })
    }

    @Test("different seeds give different sequences")
    func differentSeedsDiffer() {
        // Uniform over 16 tokens: independent streams agree at a position with probability 1/16.
        let logits = [Float](repeating: 0, count: 16)
        let n = 2000
        for (s1, s2) in [(UInt64(1), UInt64(2)), (0, 1), (42, 43), (7, 0xFFFF_FFFF)] {
            var a = Sampler(SamplingParameters(temperature: 1, seed: s1), vocabularySize: 16)
            var b = Sampler(SamplingParameters(temperature: 1, seed: s2), vocabularySize: 16)
            let matches = (0..<n).filter { _ in Self.draw(&a, logits) == Self.draw(&b, logits) }.count
            // Expected 125, standard deviation ~10.8: accept 70...180 (over 5 sigma either side).
            #expect((70...180).contains(matches), "seeds \(s1), \(s2): \(matches) matches of \(n)")
        }
    }

    @Test("splitmix64 and xoshiro256** match the published / independently computed streams")
    func rngGoldenValues() {
        var state: UInt64 = 0
        #expect(SamplingRNG.splitMix64(&state) == 0xE220_A839_7B1D_CDAF)
        #expect(SamplingRNG.splitMix64(&state) == 0x6E78_9E6A_A1B9_65F4)
        #expect(SamplingRNG.splitMix64(&state) == 0x06C4_5D18_8009_454F)
        var g = SamplingRNG(seed: 42)
        let expected: [UInt64] = [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1, 0xECB8_AD47_03B3_60A1]
        #expect((0..<4).map { _ in g.next() } == expected)
        var u = SamplingRNG(seed: 3)
        for _ in 0..<10_000 {
            let x = u.nextUnitInterval()
            #expect(x >= 0 && x < 1)
        }
    }

    @Test("empirical frequencies match softmax(logits / T)", arguments: [Float(0.5), 1, 2])
    func temperatureFrequencies(temperature: Float) {
        let logits: [Float] = [1.0, 0.5, 0.0, -0.5, 2.0]
        let weights = logits.map { exp(Double($0) / Double(temperature)) }
        let expected = weights.map { $0 / weights.reduce(0, +) }
        let p = SamplingParameters(temperature: temperature, topK: 0, topP: 1, minP: 0, seed: 2024)
        var s = Sampler(p, vocabularySize: logits.count)
        let draws = 20_000
        var hits = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { hits[Self.draw(&s, logits)] += 1 }
        // Tolerance 0.015 absolute: the largest standard error is sqrt(0.25 / 20000) = 0.0035, so > 4 sigma.
        for i in logits.indices {
            let freq = Double(hits[i]) / Double(draws)
            #expect(abs(freq - expected[i]) < 0.015, "token \(i): \(freq) vs \(expected[i])")
        }
    }

    @Test("a logit bias of -infinity bans a token; a positive bias can promote one")
    func logitBiasBans() {
        let logits: [Float] = [0.1, 0.2, 5.0, 0.3]
        var greedy = SamplingParameters.greedy
        greedy.logitBias = [2: -.infinity]
        var g = Sampler(greedy, vocabularySize: 4)
        #expect(Self.draw(&g, logits) == 3)
        greedy.logitBias = [0: 10, 99: 100, -1: 100]  // out-of-vocabulary ids are ignored
        var g2 = Sampler(greedy, vocabularySize: 4)
        #expect(Self.draw(&g2, logits) == 0)

        let p = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, logitBias: [2: -.infinity], seed: 5)
        var s = Sampler(p, vocabularySize: 4)
        var seen = Set<Int>()
        for _ in 0..<5000 { seen.insert(Self.draw(&s, logits)) }
        #expect(seen == [0, 1, 3])
        // Defaults too (top_k 40, top_p 0.95, min_p 0.05): token 2 would otherwise win almost always.
        var d = Sampler(SamplingParameters(logitBias: [2: -.infinity], seed: 6), vocabularySize: 4)
        for _ in 0..<2000 { #expect(Self.draw(&d, logits) != 2) }
    }

    @Test("default chain samples only tokens a reference filter keeps")
    func defaultChainStaysInsideReferenceSet() {
        let v = 5000
        let logits = Self.randomLogits(v, seed: 77, scale: 6)
        // Reference: top 40 -> shortest prefix with cum >= 0.95 -> p >= 0.05 * p_max.
        let order = logits.indices.sorted { logits[$0] > logits[$1] }
        let top40 = Array(order.prefix(40))
        let w = top40.map { exp(Double(logits[$0] - logits[top40[0]])) }
        let total = w.reduce(0, +)
        var cum = 0.0
        var nucleus: [Int] = []
        for (i, t) in top40.enumerated() {
            nucleus.append(t)
            cum += w[i] / total
            if cum >= 0.95 { break }
        }
        let allowed = Set(nucleus.filter { exp(Double(logits[$0] - logits[top40[0]])) >= 0.05 })
        var s = Sampler(SamplingParameters(seed: 11), vocabularySize: v)
        var seen = Set<Int>()
        for _ in 0..<3000 { seen.insert(Self.draw(&s, logits)) }
        #expect(seen.isSubset(of: allowed))
        #expect(seen.count > 1)
    }

    @Test("parameters decode with defaults for missing keys and round-trip")
    func parametersCodable() throws {
        let partial = try JSONDecoder().decode(SamplingParameters.self, from: Data(#"{"topK": 5, "seed": 9}"#.utf8))
        #expect(partial == SamplingParameters(topK: 5, seed: 9))
        let full = SamplingParameters(temperature: 0.3, topP: 0.5, penaltyLastN: -1, logitBias: [3: -2.5])
        let data = try JSONEncoder().encode(full)
        #expect(try JSONDecoder().decode(SamplingParameters.self, from: data) == full)
        #expect(SamplingParameters.greedy.temperature == 0 && SamplingParameters.greedy.topK == 0)
        #expect(SamplingParameters.greedy.topP == 1 && SamplingParameters.greedy.minP == 0)
    }
}

/// splitmix64 used only to build fixtures, so expectations never depend on the sampler's RNG.
struct SamplingFixtureRNG {
    private var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
