import Foundation
import Testing
@testable import Engine

/// Perplexity of Debian's GPL-3 text at ctx 512 with Gemma 3 270M, against llama.cpp's `llama-perplexity`
/// value 13.9062 (../shared/reference/gemma3-270m/README.md). Tolerance: 1 % (the issue's bound; the
/// remaining difference comes from llama.cpp's F16 KV cache and 8-bit activation rounding).
@Suite("Perplexity")
struct PerplexityTests {
    static let gplPath = "/usr/share/common-licenses/GPL-3"
    static let llamaCppPPL = 13.9062

    /// f32 KV: within 1 % (the issue's bound); f16 KV (llama.cpp's own cache type): within 0.5 %; q8_0 KV:
    /// within 1 % (the requirement is 2 %).
    /// NOTE: measured with the tiled attention kernel 13.885 (f32), 13.855 (f16), 13.835 (q8_0, -0.51 %); with the
    /// per-row kernel (`INFER_FLASH_ATTN=0`) 13.882, 13.861, 13.884. The two kernels agree to ~1e-6 relative per
    /// attention output, but the 8-bit activation quantization downstream turns such rounding changes into
    /// per-token log-probability differences of ~0.03 nats, so q8_0's PPL moved by 0.35 %: well inside the PPL's
    /// own standard error over these 3,570 tokens (+/- 0.64, 4.6 %), outside the 0.5 % this test used to demand.
    @Test(arguments: [(KVCacheDType.f32, 0.01), (.f16, 0.005), (.q8_0, 0.01)])
    func gemmaGPL3MatchesLlamaCpp(dtype: KVCacheDType, tolerance: Double) async throws {
        let modelPath = try TestPaths.require(TestPaths.gemma)
        let text = try String(contentsOfFile: Self.gplPath, encoding: .utf8)
        let model = try LanguageModel(path: modelPath, maxBatch: 128)
        let tokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        let result = try await offCooperativePool {
            try Perplexity(model: model, kvCacheDType: dtype).evaluate(tokens: tokens, context: 512)
        }
        print("[perplexity] GPL-3 ctx 512, kv \(dtype.rawValue): PPL = \(result.perplexity) +/- \(result.standardError) over "
              + "\(result.chunks) chunks (llama.cpp \(Self.llamaCppPPL)) in \(String(format: "%.1f", result.seconds)) s")
        #expect(result.chunks == 14)
        #expect(result.scoredTokens == 14 * 255)
        #expect(abs(result.perplexity / Self.llamaCppPPL - 1) <= tolerance, "PPL \(result.perplexity)")
    }

    @Test func rejectsTextShorterThanOneChunk() throws {
        let model = try LanguageModel(path: try TestPaths.require(TestPaths.model(for: "tiny-llama-spm")))
        let tokens = model.tokenizer.encode("short text", addSpecial: true, parseSpecial: false)
        #expect(throws: EngineError.self) { try Perplexity(model: model).evaluate(tokens: tokens, context: 512) }
    }
}
