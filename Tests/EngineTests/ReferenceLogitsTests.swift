import Foundation
import Testing
import Tensor
@testable import Engine

/// Teacher-forced comparison of next-token distributions with llama.cpp's reference outputs.
///
/// For every completion case, the prompt ids plus llama.cpp's chosen ids are fed through the model and at
/// every step our distribution is compared with the reference: top-1 agreement and |Δ log-prob| of the
/// reference's top-1 token. Thresholds:
/// - gemma3-270m: top-1 >= 96.5 %, mean |Δ| <= 0.05 (set by the issue; an independent f32 implementation
///   measured 97.7 % / 0.028, llama.cpp's 8-bit activation rounding explains the rest).
/// - gemma3-270m with the q8_0 cache: top-1 >= 96 % (measured 96.68 % = 495/512; f32 97.27 %, f16 97.66 %;
///   three near-ties flip, KVDTypeDriftTests), the same |Δ| bounds (measured mean 0.036, max 0.46).
/// - tiny models: top-1 >= 95 %, mean |Δ| <= 0.05, max |Δ| <= 0.3, every cache type. The spec's controls
///   fail these by far: wrong RoPE pairing 32 %, KV head `j mod n_kv` 12-22 %, norm `1+w` 3 %, qwen2
///   without biases 35 %, GELU instead of SiLU 81-87 % (mean |Δ| >= 1 for most).
@Suite("Reference logits (teacher forcing)", .serialized)
struct ReferenceLogitsTests {
    struct Thresholds: Sendable, CustomStringConvertible {
        let folder: String
        let minTop1: Double
        let maxMeanDelta: Double
        let maxDelta: Double
        /// Top-1 bound with the q8_0 cache.
        var minTop1Q8: Double? = nil
        var description: String { folder }

        func minTop1(_ dtype: KVCacheDType) -> Double { dtype == .q8_0 ? minTop1Q8 ?? minTop1 : minTop1 }
    }

    static let cases: [Thresholds] = [
        Thresholds(folder: "tiny-llama-spm", minTop1: 0.95, maxMeanDelta: 0.05, maxDelta: 0.3),
        Thresholds(folder: "tiny-qwen2-bpe", minTop1: 0.95, maxMeanDelta: 0.05, maxDelta: 0.3),
        Thresholds(folder: "gemma3-270m", minTop1: 0.965, maxMeanDelta: 0.05, maxDelta: 1.0, minTop1Q8: 0.96),
    ]

    /// Every model with every KV cache type meets the thresholds (Gemma's top-1 bound is lower for q8_0).
    @Test(arguments: cases, KVCacheDType.allCases)
    func teacherForcedAgreement(_ th: Thresholds, dtype: KVCacheDType) async throws {
        let (top1, mean, maxDelta, steps, expected) = try await offCooperativePool {
            try Self.agreement(th.folder, dtype: dtype)
        }
        #expect(steps == expected)
        #expect(top1 >= th.minTop1(dtype), "top-1 agreement \(top1)")
        #expect(mean <= th.maxMeanDelta, "mean |Δ| \(mean)")
        #expect(maxDelta <= th.maxDelta, "max |Δ| \(maxDelta)")
    }

    /// Top-1 agreement, mean and max |Δ log-prob|, steps compared and steps in the reference.
    static func agreement(_ folder: String, dtype: KVCacheDType) throws
        -> (top1: Double, mean: Double, max: Double, steps: Int, expected: Int) {
        let modelPath = try TestPaths.require(TestPaths.model(for: folder))
        let refData = try Data(contentsOf: TestPaths.referenceFile(folder, "reference.json"))
        let ref = try JSONDecoder().decode(Reference.self, from: refData)
        let file = try GGUFFile(path: modelPath)
        let config = try ModelConfig(file: file)
        let model = Transformer(config: config, weights: try ModelWeights(file: file, config: config), maxBatch: 64)
        var agree = 0, steps = 0
        var sumDelta = 0.0, maxDelta = 0.0
        for c in ref.complete {
            let all = c.prompt_ids + c.steps.map(\.id)
            let logits = Self.teacherForced(model, tokens: all, firstOutput: c.prompt_ids.count - 1,
                                            count: c.steps.count, dtype: dtype)
            for (k, step) in c.steps.enumerated() {
                let row = logits[k]
                let (refTop, refLogProb) = (step.top[0].id, step.top[0].logprob)
                let ours = row.withUnsafeBufferPointer { LogProbs.logProb(of: refTop, logits: $0) }
                let argmax = row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!
                if argmax == refTop { agree += 1 }
                let d = abs(Double(ours) - refLogProb)
                sumDelta += d
                maxDelta = max(maxDelta, d)
                steps += 1
            }
        }
        let top1 = Double(agree) / Double(steps)
        let mean = sumDelta / Double(steps)
        print("[\(folder) kv \(dtype.rawValue)] top-1 agreement \(agree)/\(steps) = \(String(format: "%.2f", top1 * 100)) %, "
              + "mean |Δlogprob| \(String(format: "%.4f", mean)), max \(String(format: "%.4f", maxDelta))")
        return (top1, mean, maxDelta, steps, ref.complete.reduce(0) { $0 + $1.steps.count })
    }

    /// Logits rows for positions firstOutput ..< firstOutput + count, feeding `tokens` in micro-batches.
    static func teacherForced(_ model: Transformer, tokens: [Int], firstOutput: Int, count: Int,
                              dtype: KVCacheDType = .f32, adapter: LoRAAdapter? = nil) -> [[Float]] {
        let cache = model.makeCache(capacity: tokens.count, dtype: dtype)
        let vocab = model.config.vocabularySize
        var rows: [[Float]] = []
        var i = 0
        while i < tokens.count && rows.count < count {
            let n = min(model.maxBatch, tokens.count - i)
            let lo = max(firstOutput, i) - i
            let hi = min(firstOutput + count, i + n) - i
            let out = lo < hi ? lo..<hi : 0..<0
            let logits = model.forward(tokens[i..<(i + n)], cache: cache, outputRows: out, adapter: adapter)
            for r in 0..<out.count { rows.append(Array(logits[(r * vocab)..<((r + 1) * vocab)])) }
            i += n
        }
        return rows
    }

    struct Reference: Decodable {
        struct Step: Decodable {
            let id: Int
            let top: [TopEntry]
        }
        struct TopEntry: Decodable {
            let id: Int
            let logprob: Double
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                id = try c.decode(Int.self)
                logprob = try c.decode(Double.self)
            }
        }
        struct Completion: Decodable {
            let prompt_ids: [Int]
            let steps: [Step]
        }
        let complete: [Completion]
    }
}
