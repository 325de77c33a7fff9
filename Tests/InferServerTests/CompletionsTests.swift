import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer
import Gateway

@Suite("POST /v1/completions")
struct CompletionsTests {
    @Test("logprobs: int gives the legacy shape with text offsets")
    func logprobs() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/completions", #"""
                {"model": "gemma-test", "prompt": "The capital of France is", "max_tokens": 4, "temperature": 0,
                 "logprobs": 2, "ignore_eos": true}
                """#)
        }
        #expect(r.status == .ok)
        let j = r.json
        #expect(j["object"]?.string == "text_completion")
        let choice = try #require(j["choices"]?[0])
        let text = try #require(choice["text"]?.string)
        let lp = try #require(choice["logprobs"])
        #expect(Set(lp.keys) == ["tokens", "token_logprobs", "top_logprobs", "text_offset"])
        let tokens = try #require(lp["tokens"]?.array).compactMap(\.string)
        #expect(tokens.count == 4)
        #expect(tokens.joined() == text)
        let offsets = try #require(lp["text_offset"]?.array).compactMap(\.int)
        var expected: [Int] = []
        var o = 0
        for t in tokens { expected.append(o); o += t.unicodeScalars.count }
        #expect(offsets == expected)
        let tops = try #require(lp["top_logprobs"]?.array)
        #expect(tops.allSatisfy { $0.keys.count == 2 })
        // Greedy: the chosen token is the most likely alternative.
        for (top, token) in zip(tops, tokens) {
            guard case .object(let pairs) = top else { continue }
            #expect(pairs.max { ($0.1.number ?? 0) < ($1.1.number ?? 0) }?.0 == token)
        }
    }

    @Test("prompt as array of strings, token ids and token-id arrays")
    func promptForms() async throws {
        let server = try Fixtures.gemmaServer()
        let ids = server.tokenizer.encode("Once upon a time", addSpecial: true, parseSpecial: true)
        let idList = ids.map(String.init).joined(separator: ",")
        let (strings, single, nested) = try await withRouter(server) { c in
            (try await c.post("/v1/completions", #"{"prompt": ["Once upon a time", "One, two,"], "max_tokens": 3, "temperature": 0, "n": 2}"#),
             try await c.post("/v1/completions", #"{"prompt": [\#(idList)], "max_tokens": 3, "temperature": 0}"#),
             try await c.post("/v1/completions", #"{"prompt": [[\#(idList)], [\#(idList)]], "max_tokens": 3, "temperature": 0}"#))
        }
        #expect(strings.status == .ok)
        let sc = try #require(strings.json["choices"]?.array)
        #expect(sc.map { $0["index"]?.int } == [0, 1, 2, 3])
        // Same prompt, greedy: the string prompt and its token ids continue identically.
        #expect(single.json["choices"]?[0]?["text"] == sc[0]["text"])
        #expect(nested.json["choices"]?.array?.count == 2)
        #expect(nested.json["usage"]?["prompt_tokens"]?.int == 2 * ids.count)
    }

    @Test("echo prepends the prompt; max_tokens 0 generates nothing")
    func echo() async throws {
        let server = try Fixtures.gemmaServer()
        let (r, zero) = try await withRouter(server) { c in
            (try await c.post("/v1/completions", #"{"prompt": "Roses are red,", "max_tokens": 3, "temperature": 0, "echo": true}"#),
             try await c.post("/v1/completions", #"{"prompt": "Roses are red,", "max_tokens": 0, "echo": true}"#))
        }
        #expect(r.json["choices"]?[0]?["text"]?.string?.hasPrefix("Roses are red,") == true)
        #expect(zero.json["choices"]?[0]?["text"]?.string == "Roses are red,")
        #expect(zero.json["usage"]?["completion_tokens"]?.int == 0)
    }

    @Test("streamed completion chunks and [DONE]")
    func streaming() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/completions", #"{"prompt": "1, 2, 3,", "max_tokens": 4, "temperature": 0, "ignore_eos": true, "stream": true}"#)
        }
        let events = r.events
        #expect(events.last == "[DONE]")
        let chunks = events.dropLast().compactMap { try? JSONValue.parse(Data($0.utf8)) }
        #expect(chunks.allSatisfy { $0["object"]?.string == "text_completion" })
        #expect(chunks.last?["choices"]?[0]?["finish_reason"]?.string == "length")
    }

    @Test("a repeated ~1.5k-token prompt reports cached_tokens >= 1400 the second time")
    func prefixCache() async throws {
        let server = try Fixtures.gemmaServer()
        // A prompt unique to this test, so other tests cannot have cached it.
        let salt = UUID().uuidString
        let words = (0..<520).map { "w\($0 % 97)" }.joined(separator: " ")
        let prompt = "Document \(salt): \(words)"
        let count = server.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true).count
        #expect(count >= 1450 && count <= 1700)
        let escaped = String(data: try JSONSerialization.data(withJSONObject: [prompt]), encoding: .utf8)!
        let body = #"{"prompt": \#(escaped), "max_tokens": 1, "temperature": 0}"#
        let (first, second) = try await withRouter(server) { c in
            (try await c.post("/v1/completions", body), try await c.post("/v1/completions", body))
        }
        #expect(first.json["usage"]?["prompt_tokens"]?.int == count)
        #expect(first.json["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.int == 0)
        let cached = try #require(second.json["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.int)
        #expect(cached >= 1400)
    }
}
