import CurlHTTP
import Foundation
import Testing
@testable import Gateway

/// Inputs found with the bench/fuzz harnesses (also committed as seeds under bench/fuzz/corpus/).
@Suite struct FuzzRegressionTests {
    /// bench/fuzz/corpus/json/regression-anthropic-usage-overflow.json: an Anthropic response whose usage
    /// counts add up past Int.max trapped in `AnthropicTranslation.usage` (arithmetic overflow).
    @Test func anthropicUsageSaturatesInsteadOfOverflowing() throws {
        let body = #"{"content":[],"usage":{"input_tokens":9223372036854775807,"cache_read_input_tokens":1,"output_tokens":1}}"#
        let message = try JSONValue.parseOrdered(Array(body.utf8))
        let response = AnthropicTranslation.openAIResponse(from: message, endpoint: .chat, created: 1)
        let usage = try #require(response["usage"])
        #expect(usage["prompt_tokens"] == .int(.max))
        #expect(usage["total_tokens"] == .int(.max))
        #expect(usage["completion_tokens"] == .int(1))
        #expect(usage["cache_read_input_tokens"] == .int(1))

        // Negative counts from the upstream count as 0.
        let negative = AnthropicTranslation.usage(input: -5, cacheRead: -1, cacheCreation: 2, output: -3)
        #expect(negative["prompt_tokens"] == .int(2))
        #expect(negative["total_tokens"] == .int(2))
        #expect(negative["completion_tokens"] == .int(0))
    }

    /// The same counts through the streaming translator (message_start + message_delta).
    @Test func anthropicStreamUsageSaturates() throws {
        var translator = AnthropicStreamTranslator(endpoint: .chat, created: 1)
        let start = #"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":9223372036854775807,"cache_creation_input_tokens":9223372036854775807,"output_tokens":0}}}"#
        let delta = #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9223372036854775807}}"#
        _ = try translator.translate(SSEEvent(event: "message_start", data: start))
        guard case .chunks(let chunks) = try translator.translate(SSEEvent(event: "message_delta", data: delta)) else {
            Issue.record("message_delta ended the stream")
            return
        }
        let usage = try #require(chunks.last?["usage"])
        #expect(usage["prompt_tokens"] == .int(.max))
        #expect(usage["total_tokens"] == .int(.max))
    }

    /// Token charges come from upstream `usage`; the in-memory counter saturates instead of trapping.
    @Test func rateLimitCounterSaturates() async {
        let store = InMemoryRateLimitStore(now: { 120 })
        _ = await store.add("tpm:x", amount: .max)
        let (total, _) = await store.add("tpm:x", amount: 5)
        #expect(total == .max)
    }

    /// bench/fuzz/corpus/sse/regression-id-nul-combining-mark.txt: an `id:` whose NUL is followed by a combining
    /// mark was kept (the NUL check compared Characters, and "\0\u{302}" is one Character); the spec ignores
    /// any id containing NUL.
    @Test func sseIdWithNulBeforeACombiningMarkIsIgnored() throws {
        var parser = SSEParser()
        let stream = Array("id: ok\ndata: a\n\nid: 42\u{0}\u{302}x\ndata: b\n\n".utf8)
        let events = try parser.feed(stream) + parser.finish()
        #expect(events == [SSEEvent(data: "a", id: "ok"), SSEEvent(data: "b", id: "ok")])
    }
}
