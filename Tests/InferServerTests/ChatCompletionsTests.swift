import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer
import Gateway

@Suite("POST /v1/chat/completions")
struct ChatCompletionsTests {
    @Test("non-streaming response has OpenAI's shape and usage")
    func nonStreaming() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", #"""
                {"model": "gemma-test", "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": [{"type": "text", "text": "Name a color."}]}],
                 "max_tokens": 6, "temperature": 0, "unknown_field": {"ignored": true}, "user": "u1"}
                """#)
        }
        #expect(r.status == .ok)
        let j = r.json
        #expect(j["object"]?.string == "chat.completion")
        #expect(j["id"]?.string?.hasPrefix("chatcmpl-") == true)
        #expect(j["model"]?.string == "gemma-test")
        let choice = try #require(j["choices"]?[0])
        #expect(choice["index"]?.int == 0)
        #expect(choice["message"]?["role"]?.string == "assistant")
        #expect(choice["message"]?["content"]?.string?.isEmpty == false)
        #expect(["stop", "length"].contains(choice["finish_reason"]?.string ?? ""))
        #expect(choice["logprobs"] == .null)
        let usage = try #require(j["usage"])
        let prompt = try #require(usage["prompt_tokens"]?.int)
        let completion = try #require(usage["completion_tokens"]?.int)
        #expect(prompt > 10)
        #expect(completion >= 1 && completion <= 6)
        #expect(usage["total_tokens"]?.int == prompt + completion)
        #expect(usage["prompt_tokens_details"]?["cached_tokens"]?.int != nil)
    }

    @Test("streaming: role delta first, content deltas, finish_reason on the last content chunk, usage, [DONE]")
    func streaming() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", #"""
                {"messages": [{"role": "user", "content": "Write a long story about a cat."}], "max_tokens": 5,
                 "temperature": 0, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}}
                """#)
        }
        #expect(r.status == .ok)
        #expect(r.headers[.contentType] == "text/event-stream")
        let events = r.events
        #expect(events.last == "[DONE]")
        let chunks = events.dropLast().map { (try? JSONValue.parse(Data($0.utf8))) ?? .null }
        #expect(chunks.allSatisfy { $0["object"]?.string == "chat.completion.chunk" })
        #expect(Set(chunks.compactMap { $0["id"]?.string }).count == 1)
        // First: the role delta.
        #expect(chunks.first?["choices"]?[0]?["delta"]?["role"]?.string == "assistant")
        #expect(chunks.first?["choices"]?[0]?["finish_reason"] == .null)
        // Last: usage only, empty choices.
        let usageChunk = try #require(chunks.last)
        #expect(usageChunk["choices"]?.array?.isEmpty == true)
        #expect(usageChunk["usage"]?["completion_tokens"]?.int == 5)
        // Content chunks: the finish reason rides on the last one (which carries text) and only there.
        let content = chunks.dropFirst().dropLast()
        #expect(content.count >= 2)
        #expect(content.last?["choices"]?[0]?["finish_reason"]?.string == "length")
        #expect(content.last?["choices"]?[0]?["delta"]?["content"]?.string?.isEmpty == false)
        #expect(content.dropLast().allSatisfy { $0["choices"]?[0]?["finish_reason"] == .null })
        #expect(content.allSatisfy { $0["usage"] == .null })
    }

    @Test("logprobs + top_logprobs in the chat shape, with bytes")
    func logprobs() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", #"""
                {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3, "temperature": 0,
                 "ignore_eos": true, "logprobs": true, "top_logprobs": 3}
                """#)
        }
        #expect(r.status == .ok)
        let lp = try #require(r.json["choices"]?[0]?["logprobs"]?["content"]?.array)
        #expect(lp.count == 3)
        for entry in lp {
            #expect(Set(entry.keys) == ["token", "logprob", "bytes", "top_logprobs"])
            let token = try #require(entry["token"]?.string)
            let bytes = try #require(entry["bytes"]?.array).compactMap(\.int).map(UInt8.init)
            #expect(String(decoding: bytes, as: UTF8.self) == token)
            #expect((entry["logprob"]?.number ?? 1) <= 0)
            let top = try #require(entry["top_logprobs"]?.array)
            #expect(top.count == 3)
            // Greedy: the chosen token is the most likely one.
            #expect(top[0]["token"]?.string == token)
        }
    }

    @Test("n=2 gives two indexed choices; a seed makes sampling reproducible")
    func nAndSeed() async throws {
        let server = try Fixtures.gemmaServer()
        let body = #"""
            {"messages": [{"role": "user", "content": "Tell me a random word."}], "max_tokens": 8, "n": 2,
             "temperature": 1.0, "seed": 1234, "ignore_eos": true}
            """#
        let (a, b) = try await withRouter(server) { c in
            (try await c.post("/v1/chat/completions", body), try await c.post("/v1/chat/completions", body))
        }
        let ca = try #require(a.json["choices"]?.array)
        let cb = try #require(b.json["choices"]?.array)
        #expect(ca.count == 2)
        #expect(ca.map { $0["index"]?.int } == [0, 1])
        #expect(ca.map { $0["message"]?["content"] } == cb.map { $0["message"]?["content"] })
        #expect(a.json["usage"]?["completion_tokens"]?.int == 16)
    }

    @Test("a stop string ends the choice and is not returned")
    func stop() async throws {
        let server = try Fixtures.gemmaServer()
        // Find what greedy decoding says, then stop on a piece of it.
        // NOTE: a +100 logit bias on one token makes the output independent of float noise: this suite shares
        // one engine between tests, and a different batch composition changes summation order, which can flip
        // a near-tie greedy choice (as in llama.cpp).
        let forced = try #require(server.tokenizer.encode(" fruit", addSpecial: false, parseSpecial: false).first)
        let (full, stopped) = try await withRouter(server) { c in
            let body = #"{"messages": [{"role": "user", "content": "List three fruits."}], "max_tokens": 12, "temperature": 0, "ignore_eos": true, "logit_bias": {"\#(forced)": 100}"#
            let full = try await c.post("/v1/chat/completions", body + "}")
            let text = full.json["choices"]?[0]?["message"]?["content"]?.string ?? ""
            let stopText = "t f"   // spans two " fruit" tokens: the matcher must hold text across tokens
            let escaped = String(data: try JSONSerialization.data(withJSONObject: [stopText]), encoding: .utf8)!
            let stopped = try await c.post("/v1/chat/completions", body + #", "stop": \#(escaped)}"#)
            return (text, (stopped, stopText))
        }
        let text = try #require(stopped.0.json["choices"]?[0]?["message"]?["content"]?.string)
        #expect(stopped.0.json["choices"]?[0]?["finish_reason"]?.string == "stop")
        #expect(!text.contains(stopped.1))
        #expect(full.hasPrefix(text))
        #expect(full.range(of: stopped.1).map { full[..<$0.lowerBound] == text } == true)
        #expect(text == " frui")
    }

    @Test("streamed text equals the non-streamed text")
    func streamEqualsCollected() async throws {
        let server = try Fixtures.gemmaServer()
        let base = #"{"messages": [{"role": "user", "content": "Describe the sea."}], "max_tokens": 10, "temperature": 0, "stop": ["."]"#
        let (plain, streamed) = try await withRouter(server) { c in
            (try await c.post("/v1/chat/completions", base + "}"),
             try await c.post("/v1/chat/completions", base + #", "stream": true}"#))
        }
        let text = plain.json["choices"]?[0]?["message"]?["content"]?.string
        let pieces = streamed.events.dropLast().compactMap { try? JSONValue.parse(Data($0.utf8)) }
            .compactMap { $0["choices"]?[0]?["delta"]?["content"]?.string }
        #expect(pieces.joined() == text)
    }
}
