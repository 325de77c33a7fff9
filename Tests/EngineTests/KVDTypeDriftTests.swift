import Foundation
import Testing
import Tensor
@testable import Engine

/// The f16 and q8_0 KV caches against the f32 one on Gemma, teacher-forced on the reference prompts: how far
/// they move the log-probability of each step's f32 top-1 token, and what they do to top-1 agreement with
/// llama.cpp.
///
/// NOTE: f16 measured mean 0.032, max 0.44 nats of drift: as large as our whole distance to llama.cpp,
/// because Gemma's keys are large after QK-norm and f16 keeps 11 bits. llama.cpp's own cache (f16 by default)
/// rounds the same way, and with f16 our top-1 agreement with its reference rises (97.66 % vs 97.27 %).
/// NOTE: q8_0 measured mean 0.036, max 0.56 nats (each 32-block scaled to its own maximum, so the large keys
/// cost little more than f16's rounding) and top-1 495/512 against f32's 498/512: three near-ties flip. Its
/// bound is 1 point of f32's agreement (about 2 steps of margin), the f16 one 0.3 points (the issue's).
/// NOTE: those figures are the per-row attention kernel's. With the tiled kernel (the default on AVX-512) the means
/// move little (f16 0.035, q8_0 0.040; the bound is 0.05), but single steps move more: f16 max 1.14 nats at one step
/// (every other variant -0.40..-0.67 nats there), q8_0 max 0.78 and top-1 493/512 against f32's 500/512. The kernels
/// agree to ~1e-6 relative per attention output (`FlashAttentionTests` checks the tiled one against a double-precision
/// reference to 2e-6); the 8-bit activation quantization turns such rounding changes into up to ~0.24 nats at a step
/// even on the same f32 cache. So the max is a gross-error bound (1.5 nats; a wrong block or offset moves every step,
/// which the mean catches), and q8_0's top-1 bound is 2 points of f32's agreement.
@Suite("KV dtype drift")
struct KVDTypeDriftTests {
    @Test(arguments: [(KVCacheDType.f16, 0.003), (.q8_0, 0.02)])
    func compactCacheStaysCloseToF32AndToTheReference(dtype: KVCacheDType, top1Slack: Double) async throws {
        let folder = "gemma3-270m"
        let modelPath = try TestPaths.require(TestPaths.model(for: folder))
        let refData = try Data(contentsOf: TestPaths.referenceFile(folder, "reference.json"))
        let ref = try JSONDecoder().decode(ReferenceLogitsTests.Reference.self, from: refData)
        let (mean, worst, agreeF32, agreeCompact, steps) = try await offCooperativePool {
            let file = try GGUFFile(path: modelPath)
            let config = try ModelConfig(file: file)
            let model = Transformer(config: config, weights: try ModelWeights(file: file, config: config), maxBatch: 64)
            var worst = 0.0, sum = 0.0, steps = 0, agreeF32 = 0, agreeCompact = 0
            for c in ref.complete {
                let all = c.prompt_ids + c.steps.map(\.id)
                let a = ReferenceLogitsTests.teacherForced(model, tokens: all, firstOutput: c.prompt_ids.count - 1,
                                                           count: c.steps.count, dtype: .f32)
                let b = ReferenceLogitsTests.teacherForced(model, tokens: all, firstOutput: c.prompt_ids.count - 1,
                                                           count: c.steps.count, dtype: dtype)
                for (k, (x, y)) in zip(a, b).enumerated() {
                    let topX = x.indices.max { x[$0] < x[$1] }!, topY = y.indices.max { y[$0] < y[$1] }!
                    let refTop = c.steps[k].top[0].id
                    if topX == refTop { agreeF32 += 1 }
                    if topY == refTop { agreeCompact += 1 }
                    let lx = x.withUnsafeBufferPointer { LogProbs.logProb(of: topX, logits: $0) }
                    let ly = y.withUnsafeBufferPointer { LogProbs.logProb(of: topX, logits: $0) }
                    worst = max(worst, Double(abs(lx - ly)))
                    sum += Double(abs(lx - ly))
                    steps += 1
                }
            }
            return (sum / Double(steps), worst, agreeF32, agreeCompact, steps)
        }
        print("[kv drift] \(dtype.rawValue) vs f32 over \(steps) steps: mean |Δ logprob| \(mean), max \(worst); "
              + "top-1 vs llama.cpp "
              + "f32 \(agreeF32)/\(steps), \(dtype.rawValue) \(agreeCompact)/\(steps)")
        #expect(mean <= 0.05)
        #expect(worst <= 1.5)
        #expect(Double(agreeCompact) >= Double(agreeF32) - top1Slack * Double(steps))
    }
}
