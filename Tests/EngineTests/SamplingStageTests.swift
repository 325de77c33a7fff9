import Foundation
import Testing

@testable import Engine

/// Each chain stage on small hand-computed candidate sets, plus property checks against naive references.
@Suite("Sampler stages")
struct SamplingStageTests {
    /// Probabilities, in id order: p = [0.15, 0.5, 0.1, 0.25]; logits are their logs.
    static let probs: [Double] = [0.15, 0.5, 0.1, 0.25]
    static var probLogits: [Float] { probs.map { Float(log($0)) } }

    /// (top_p, kept ids best first). Sorted: 0.5 (id 1), 0.25 (id 3), 0.15 (id 0), 0.1 (id 2);
    /// cumulative 0.5, 0.75, 0.9, 1.0. Thresholds stay clear of those sums (float rounding).
    static let topPCases: [(Float, [Int])] = [
        (0.3, [1]), (0.45, [1]), (0.6, [1, 3]), (0.7, [1, 3]), (0.8, [1, 3, 0]),
        (0.89, [1, 3, 0]), (0.95, [1, 3, 0, 2]), (0.0, [1]), (1.0, [0, 1, 2, 3]),
    ]

    /// (min_p, kept ids in id order) for logits [2, 1, 0, -1, 3]:
    /// p_i / p_max = e^(l_i - 3) = [0.368, 0.135, 0.0498, 0.0183, 1].
    static let minPCases: [(Float, [Int])] = [
        (0.1, [0, 1, 4]), (0.3, [0, 4]), (0.02, [0, 1, 2, 4]), (0.4, [4]), (0.01, [0, 1, 2, 3, 4]),
        (0, [0, 1, 2, 3, 4]), (2, [4]),
    ]

    @Test(
        "top_p keeps the shortest best-first prefix with cumulative probability >= p",
        arguments: topPCases)
    func topPHandComputed(p: Float, expected: [Int]) {
        var c = SamplerCandidates(logits: Self.probLogits)
        c.applyTopP(p)
        #expect(c.tokenIDs == expected)
        // Same set through the sorted path: a top_k that drops only the extra -50 token sorts the rest.
        var sorted = SamplerCandidates(logits: Self.probLogits + [-50])
        sorted.applyTopK(4)
        #expect(sorted.isSorted)
        sorted.applyTopP(p)
        #expect(Set(sorted.tokenIDs) == Set(expected))
    }

    @Test(
        "min_p keeps tokens with p >= min_p * p_max",
        arguments: minPCases)
    func minPHandComputed(p: Float, expected: [Int]) {
        var c = SamplerCandidates(logits: [2, 1, 0, -1, 3])
        c.applyMinP(p)
        #expect(c.tokenIDs == expected)
    }

    @Test("top_k keeps the k highest, sorted, ties to the smaller id; k <= 0 is off")
    func topKHandComputed() {
        let logits: [Float] = [0.5, 3, -1, 3, 2, 0.5, 7]
        var c = SamplerCandidates(logits: logits)
        c.applyTopK(3)
        #expect(c.tokenIDs == [6, 1, 3])
        #expect(c.liveLogits == [7, 3, 3])
        var t = SamplerCandidates(logits: logits)
        t.applyTopK(6)
        #expect(t.tokenIDs == [6, 1, 3, 4, 0, 5])
        for k in [0, -1, 7, 100] {
            var off = SamplerCandidates(logits: logits)
            off.applyTopK(k)
            #expect(off.tokenIDs == Array(0..<7))
        }
    }

    @Test("temperature divides logits; <= 0 keeps only the best")
    func temperatureStage() {
        var c = SamplerCandidates(logits: [1, -2, 4])
        c.applyTemperature(2)
        #expect(c.liveLogits == [0.5, -1, 2])
        var g = SamplerCandidates(logits: [1, 4, 4, 2])
        g.applyTemperature(0)
        #expect(g.tokenIDs == [1])
    }

    @Test("logit bias adds to the listed ids only")
    func logitBiasStage() {
        var c = SamplerCandidates(logits: [1, 2, 3])
        c.applyLogitBias([0: 0.5, 2: -.infinity, 5: 1])
        #expect(c.liveLogits == [1.5, 2, -.infinity])
    }

    @Test("penalties change logits exactly as defined")
    func penaltiesHandComputed() {
        // History [0, 1, 1, 3, 0, 0] -> counts {0: 3, 1: 2, 3: 1}; repeat 2, frequency 0.1, presence 0.5.
        let logits: [Float] = [2.0, -1.0, 0.5, 0.0, 3.0]
        let p = SamplingParameters(
            temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 2, frequencyPenalty: 0.1,
            presencePenalty: 0.5)
        var s = Sampler(p, vocabularySize: 5)
        for t in [0, 1, 1, 3, 0, 0] { s.accept(t) }
        #expect(s.penaltyCounts == [0: 3, 1: 2, 3: 1])
        logits.withUnsafeBufferPointer { s.applyChain($0) }
        // id 0: 2 / 2 - (3 * 0.1 + 0.5) = 0.2;  id 1: -1 * 2 - (2 * 0.1 + 0.5) = -2.7
        // id 2: untouched 0.5;  id 3: 0 * 2 - (0.1 + 0.5) = -0.6;  id 4: untouched 3.
        let expected: [Float] = [0.2, -2.7, 0.5, -0.6, 3.0]
        #expect(s.candidates.tokenIDs == [0, 1, 2, 3, 4])
        for (got, want) in zip(s.candidates.liveLogits, expected) { #expect(abs(got - want) < 1e-6) }
    }

    @Test("the penalty window holds only the last penaltyLastN tokens; 0 disables penalties")
    func penaltyWindow() {
        let logits: [Float] = [2.0, -1.0, 0.5, 0.0, 3.0]
        var p = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 2, penaltyLastN: 3)
        var s = Sampler(p, vocabularySize: 5)
        for t in [0, 1, 1, 3, 0, 0] { s.accept(t) }
        #expect(s.penaltyCounts == [3: 1, 0: 2])  // window [3, 0, 0]
        logits.withUnsafeBufferPointer { s.applyChain($0) }
        #expect(s.candidates.liveLogits == [1.0, -1.0, 0.5, 0.0, 3.0])
        s.reset()
        #expect(s.penaltyCounts.isEmpty)

        p.penaltyLastN = 0
        var off = Sampler(p, vocabularySize: 5)
        for t in [0, 1, 4] { off.accept(t) }
        logits.withUnsafeBufferPointer { off.applyChain($0) }
        #expect(off.candidates.liveLogits == logits)

        var w = PenaltyWindow(capacity: -1)  // unbounded: every token counts
        for t in [1, 2, 1, 1, 2, 5] { w.append(t) }
        #expect(w.counts == [1: 3, 2: 2, 5: 1])
    }

    @Test("stages agree with naive sort-based references on random logits", arguments: 0..<20)
    func stagesMatchReferences(trial: Int) {
        var g = SamplingFixtureRNG(UInt64(1000 + trial))
        let n = 1 + Int(g.next() % 3000)
        // Few distinct values, so ties are common.
        let logits = (0..<n).map { _ in Float(Int(g.next() % 64)) / 8 - 4 }
        let order = (0..<n).sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        let k = 1 + Int(g.next() % UInt64(n + 5))

        var topK = SamplerCandidates(logits: logits)
        topK.applyTopK(k)
        #expect(topK.tokenIDs == (k < n ? Array(order.prefix(k)) : Array(0..<n)))

        let p = Float(g.nextDouble())
        let maxL = Double(logits[order[0]])
        let w = order.map { exp(Double(logits[$0]) - maxL) }
        let total = w.reduce(0, +)
        var cum = 0.0
        var nucleus: [Int] = []
        for (i, t) in order.enumerated() {
            nucleus.append(t)
            cum += w[i] / total
            if cum >= Double(p) { break }
        }
        var topP = SamplerCandidates(logits: logits)
        topP.applyTopP(p)
        #expect(topP.tokenIDs == nucleus)

        let minP = Float(g.nextDouble() * 0.5)
        let threshold = Float(maxL) + logf(minP)
        var mp = SamplerCandidates(logits: logits)
        mp.applyMinP(minP)
        #expect(mp.tokenIDs == (0..<n).filter { logits[$0] >= threshold })
    }
}
