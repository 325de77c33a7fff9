import Engine
import Foundation
import Gateway
import OpenAIRequest

// Input: a request body for /v1/chat/completions. Runs the server's own validation (the OpenAIRequest
// library: RequestFields, stream options, GenerationParameters, ChatMessages).
// Invariants: no crash for any body; what validation accepts is in range (n, temperature, top_p, top_k,
// min_p, penalties, logit_bias ids, stop count); building the engine request never traps.
let vocabularySize = 262_144

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpenAIRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let body = try? JSONValue.parse(Data(bytes: data, count: size)) else { return 0 }
    guard let f = try? RequestFields(body) else { return 0 }
    _ = try? ChatMessages.parse(f)
    _ = try? f.streamOptions()
    _ = try? f.stringList("fallbacks")
    _ = try? f.bool("logprobs")
    _ = try? f.int("top_logprobs", in: 0...20)
    guard let p = try? GenerationParameters(f, vocabularySize: vocabularySize, tenant: "t") else { return 0 }
    let s = p.sampling
    guard (1...GenerationParameters.maxChoices).contains(p.n) else { fatalError("request: n = \(p.n)") }
    guard (0...2).contains(s.temperature), s.topP > 0, s.topP <= 1, s.topK >= 0, (0...1).contains(s.minP) else {
        fatalError("request: sampling out of range \(s)")
    }
    guard (-2...2).contains(s.presencePenalty), (-2...2).contains(s.frequencyPenalty), s.repetitionPenalty > 0 else {
        fatalError("request: penalty out of range \(s)")
    }
    guard s.logitBias.keys.allSatisfy({ $0 >= 0 && $0 < vocabularySize }),
          s.logitBias.values.allSatisfy({ (-100...100).contains($0) }) else { fatalError("request: logit_bias \(s.logitBias)") }
    guard p.stop.count <= 4, !p.stop.contains("") else { fatalError("request: stop \(p.stop)") }
    if let m = p.maxTokens, m < 0 { fatalError("request: max_tokens \(m)") }
    for context in [1, 8192] {
        _ = try? p.checkContext(promptTokens: 3, contextLength: context, param: "messages")
        for i in 0..<p.n {
            let r = p.engineRequest(prompt: [1, 2, 3], contextLength: context, index: i, logprobs: true, topLogprobs: 5)
            guard r.maxTokens >= 0 else { fatalError("request: negative maxTokens") }
        }
    }
    return 0
}
