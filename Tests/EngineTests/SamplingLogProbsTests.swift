import Foundation
import Testing

@testable import Engine

@Suite("LogProbs")
struct SamplingLogProbsTests {
    static func logProb(_ token: Int, _ logits: [Float]) -> Float {
        logits.withUnsafeBufferPointer { LogProbs.logProb(of: token, logits: $0) }
    }

    static func top(_ k: Int, _ logits: [Float]) -> [(id: Int, logprob: Float)] {
        logits.withUnsafeBufferPointer { LogProbs.top(k, logits: $0) }
    }

    @Test("log-softmax of known vectors")
    func knownValues() {
        #expect(abs(Self.logProb(2, [0, 0, 0, 0]) - Float(-log(4.0))) < 1e-6)
        let z = exp(1.0) + exp(2.0) + exp(3.0)
        #expect(abs(Self.logProb(2, [1, 2, 3]) - Float(3 - log(z))) < 1e-6)
        #expect(abs(Self.logProb(0, [1, 2, 3]) - Float(1 - log(z))) < 1e-6)
        // Huge offsets must not overflow: softmax is shift-invariant.
        #expect(abs(Self.logProb(1, [1000, 1000]) - Float(-log(2.0))) < 1e-6)
        #expect(abs(Self.logProb(0, [-1000, -1001]) - Float(-log(1 + exp(-1.0)))) < 1e-6)
        #expect(Self.logProb(1, [0, -.infinity]) == -.infinity)
        // Probabilities sum to one.
        let logits = SamplingTests.randomLogits(1000, seed: 3)
        let sum = (0..<1000).reduce(0.0) { $0 + exp(Double(Self.logProb($1, logits))) }
        #expect(abs(sum - 1) < 1e-4)
    }

    @Test("top-k is highest first with ties to the smaller id")
    func topK() {
        let logits: [Float] = [1, 3, 3, 0]
        let z = exp(1.0) + 2 * exp(3.0) + 1
        let t = Self.top(3, logits)
        #expect(t.map(\.id) == [1, 2, 0])
        #expect(abs(t[0].logprob - Float(3 - log(z))) < 1e-6)
        #expect(abs(t[2].logprob - Float(1 - log(z))) < 1e-6)
        #expect(Self.top(10, logits).map(\.id) == [1, 2, 0, 3])
        #expect(Self.top(0, logits).isEmpty)
        #expect(Self.top(-2, logits).isEmpty)

        let big = SamplingTests.randomLogits(262_144, seed: 8)
        let reference = (0..<big.count).sorted { big[$0] != big[$1] ? big[$0] > big[$1] : $0 < $1 }.prefix(20)
        let got = Self.top(20, big)
        #expect(got.map(\.id) == Array(reference))
        for e in got { #expect(e.logprob == Self.logProb(e.id, big)) }
    }
}
