import Engine
import Foundation
import Gateway
import Testing

/// The semantic cache's verifier measured on the labelled pairs in bench/semantic with the real MiniLM model:
/// precision and recall of "serve the cached answer" before (similarity alone) and after verification.
@Suite("Semantic hit verification (labelled pairs, real MiniLM)")
struct SemanticVerificationTests {
    struct Pair: Decodable {
        let a: String
        let b: String
        let same: Bool
        let kind: String
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func pairs(_ name: String) throws -> [Pair] {
        let text = try String(contentsOf: root.appendingPathComponent("bench/semantic/\(name)"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Pair.self, from: Data($0.utf8)) }
    }

    /// Cosine similarity of every pair (the vectors are L2-normalised).
    static func similarities(_ pairs: [Pair]) throws -> [Double] {
        let dir = root.appendingPathComponent("models/all-MiniLM-L6-v2").path
        guard FileManager.default.fileExists(atPath: dir) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(dir) is missing: run models/install"])
        }
        let embedder = try SentenceEmbedder(directory: dir)
        let texts = Array(Set(pairs.flatMap { [$0.a, $0.b] })).sorted()
        let vectors = embedder.embed(texts)
        var index: [String: [Float]] = [:]
        for (text, vector) in zip(texts, vectors) { index[text] = vector }
        return pairs.map { p in Double(zip(index[p.a]!, index[p.b]!).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
    }

    struct Score: CustomStringConvertible {
        var truePositives = 0, falseHits = 0, paraphrases = 0, nearMisses = 0
        var recall: Double { Double(truePositives) / Double(max(1, paraphrases)) }
        var precision: Double { Double(truePositives) / Double(max(1, truePositives + falseHits)) }
        var description: String {
            String(format: "recall %d/%d (%.0f %%), false hits %d/%d, precision %.0f %%", truePositives, paraphrases,
                   recall * 100, falseHits, nearMisses, precision * 100)
        }
    }

    static func score(_ pairs: [Pair], _ sims: [Double], threshold: Double, verify: Bool) -> Score {
        let verifier = SemanticVerifier()
        var s = Score()
        for (p, sim) in zip(pairs, sims) {
            if p.same { s.paraphrases += 1 } else { s.nearMisses += 1 }
            guard sim >= threshold, !verify || verifier.refusal(p.a, p.b) == nil else { continue }
            if p.same { s.truePositives += 1 } else { s.falseHits += 1 }
        }
        return s
    }

    @Test func verificationRemovesFalseHitsAndRaisesRecall() async throws {
        let pairs = try Self.pairs("pairs.jsonl")
        #expect(pairs.count >= 200)
        let sims = try await offPool { try Self.similarities(pairs) }
        let baseline = Self.score(pairs, sims, threshold: 0.9, verify: false)
        print("[semantic] labelled set, similarity >= 0.9 alone: \(baseline)")
        for t in [0.75, 0.8, 0.85, 0.9] {
            print("[semantic] labelled set, similarity >= \(t) + verifier: \(Self.score(pairs, sims, threshold: t, verify: true))")
        }
        let verified = Self.score(pairs, sims, threshold: 0.8, verify: true)
        #expect(baseline.falseHits > 0, "the near-misses must be hard for similarity alone")
        #expect(verified.falseHits == 0)
        #expect(verified.recall > baseline.recall)
    }

    /// Written after the rules were fixed and never used to tune them.
    @Test func heldOutPairs() async throws {
        let pairs = try Self.pairs("pairs-holdout.jsonl")
        let sims = try await offPool { try Self.similarities(pairs) }
        let baseline = Self.score(pairs, sims, threshold: 0.9, verify: false)
        let verified = Self.score(pairs, sims, threshold: 0.8, verify: true)
        print("[semantic] held-out set, similarity >= 0.9 alone: \(baseline)")
        print("[semantic] held-out set, similarity >= 0.8 + verifier: \(verified)")
        #expect(verified.falseHits < baseline.falseHits)
        #expect(verified.recall >= baseline.recall)
    }

    @Test func theIssuesExamplesAreTold() {
        let v = SemanticVerifier()
        #expect(v.refusal("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?") == .direction)
        #expect(v.refusal("Sort this list in ascending order", "Sort this list in descending order") == .opposite)
        #expect(v.refusal("Is coffee good for you?", "Is coffee not good for you?") == .negation)
        #expect(v.refusal("What is the capital of France?", "Which city is the capital of France?") == nil)
    }

    func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in DispatchQueue.global().async { c.resume(with: Result { try body() }) } }
    }
}
