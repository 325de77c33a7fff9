import Foundation
import Gateway

/// A controllable wall clock for TTL and s-maxage tests.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Double

    init(_ start: Double = 1_700_000_000) { value = start }

    var now: Double { lock.withLock { value } }
    func advance(_ seconds: Double) { lock.withLock { value += seconds } }
    var cacheClock: CacheClock { CacheClock { [self] in now } }
}

/// Deterministic embedder: a bag of lower-cased words hashed (FNV-1a) into `dimension` buckets, so texts
/// sharing most words are close and unrelated texts are far apart.
struct TestEmbedder: Embedder {
    var dimension = 64

    func embed(_ texts: [String]) async throws -> [[Float]] {
        texts.map { text in
            var v = [Float](repeating: 0, count: dimension)
            let words = text.lowercased().split { !$0.isLetter && !$0.isNumber }
            for word in words {
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for b in word.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
                v[Int(h % UInt64(dimension))] += 1
            }
            return v
        }
    }
}

/// An embedder that never answers in time.
struct SlowEmbedder: Embedder {
    let dimension = 64
    func embed(_ texts: [String]) async throws -> [[Float]] {
        try await Task.sleep(for: .seconds(30))
        return []
    }
}

/// A chat request body.
func chatBody(
    _ question: String, model: String = "gemma", system: String? = "You are terse.", temperature: Double = 0.2,
    extra: [(String, JSONValue)] = []
) -> JSONValue {
    var messages: [JSONValue] = []
    if let system { messages.append(["role": "system", "content": .string(system)]) }
    messages.append(["role": "user", "content": .string(question)])
    return .object([("model", .string(model)), ("messages", .array(messages)), ("temperature", .double(temperature))] + extra)
}

/// A chat completion response with `content`.
func chatResponse(_ content: String, model: String = "gemma") -> JSONValue {
    [
        "id": "chatcmpl-stored", "object": "chat.completion", "created": 1_700_000_000, "model": .string(model),
        "choices": [["index": 0, "message": ["role": "assistant", "content": .string(content)],
                     "logprobs": nil, "finish_reason": "stop"]],
        "usage": ["prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17],
    ]
}
