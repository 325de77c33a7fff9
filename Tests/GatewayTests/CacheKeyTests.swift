import Gateway
import Testing

@Suite("Cache key")
struct CacheKeyTests {
    @Test func reorderedFieldsGiveTheSameKey() {
        let a: JSONValue = .object([("model", "gemma"), ("temperature", 0.5),
                                    ("messages", [["role": "user", "content": "hi"]]), ("max_tokens", 10)])
        let b: JSONValue = .object([("max_tokens", 10), ("messages", [.object([("content", "hi"), ("role", "user")])]),
                                    ("temperature", 0.5), ("model", "gemma")])
        #expect(CacheKey.make(kind: .chat, body: a, namespace: "ns") == CacheKey.make(kind: .chat, body: b, namespace: "ns"))
    }

    @Test func outputAffectingFieldsChangeTheKey() {
        let base = chatBody("hi", temperature: 0.2)
        let key = CacheKey.make(kind: .chat, body: base, namespace: nil)
        #expect(key != CacheKey.make(kind: .chat, body: chatBody("hi", temperature: 0.3), namespace: nil))
        #expect(key != CacheKey.make(kind: .chat, body: chatBody("hi", model: "other"), namespace: nil))
        #expect(key != CacheKey.make(kind: .chat, body: chatBody("hi", extra: [("seed", 1)]), namespace: nil))
        #expect(key != CacheKey.make(kind: .chat, body: chatBody("hi", extra: [("user", "u1")]), namespace: nil))
        #expect(key != CacheKey.make(kind: .chat, body: chatBody("hi", extra: [("tools", [["type": "function"]])]), namespace: nil))
    }

    @Test func streamingAndUnrelatedFieldsAreIgnored() {
        let key = CacheKey.make(kind: .chat, body: chatBody("hi"), namespace: "n")
        let streaming = chatBody("hi", extra: [("stream", true), ("stream_options", ["include_usage": true]),
                                               ("cache", ["ttl": 5]), ("metadata", ["x": 1])])
        #expect(CacheKey.make(kind: .chat, body: streaming, namespace: "n") == key)
    }

    @Test func numbersAndNullsAreCanonical() {
        #expect(CacheKey.make(kind: .chat, body: chatBody("hi", temperature: 1.0), namespace: nil)
            == CacheKey.make(kind: .chat, body: .object([("model", "gemma"),
                ("messages", [["role": "system", "content": "You are terse."], ["role": "user", "content": "hi"]]),
                ("temperature", 1), ("top_p", nil)]), namespace: nil))
        #expect(CacheKey.canonicalJSON(["b": 1, "a": ["d": 2.5, "c": nil]]) == #"{"a":{"d":2.5},"b":1}"#)
        #expect(CacheKey.make(kind: .chat, body: chatBody("x", extra: [("stop", "\n")]), namespace: nil)
            == CacheKey.make(kind: .chat, body: chatBody("x", extra: [("stop", ["\n"])]), namespace: nil))
    }

    @Test func namespaceFormat() {
        let bare = CacheKey.make(kind: .chat, body: chatBody("hi"), namespace: nil)
        #expect(bare.count == 64 && bare.allSatisfy(\.isHexDigit))
        #expect(CacheKey.make(kind: .chat, body: chatBody("hi"), namespace: "llmcache") == "llmcache:" + bare)
        #expect(CacheKey.make(kind: .chat, body: chatBody("hi"), namespace: "") == bare)
        #expect(CacheKey.belongs("llmcache:" + bare, to: "llmcache"))
        #expect(!CacheKey.belongs("other:" + bare, to: "llmcache"))
        #expect(CacheKey.belongs(bare, to: nil))
        #expect(!CacheKey.belongs("llmcache:" + bare, to: nil))
    }

    @Test func embeddingKeysUseInputFields() {
        let a: JSONValue = ["model": "minilm", "input": ["a", "b"]]
        let b: JSONValue = ["model": "minilm", "input": ["a", "b"], "dimensions": 128]
        #expect(CacheKey.make(kind: .embedding, body: a, namespace: nil) != CacheKey.make(kind: .embedding, body: b, namespace: nil))
        #expect(CacheKey.make(kind: .embedding, body: a, namespace: nil)
            != CacheKey.make(kind: .embedding, body: ["model": "minilm", "input": ["b", "a"]], namespace: nil))
    }
}
