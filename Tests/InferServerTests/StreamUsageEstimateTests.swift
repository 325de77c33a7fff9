import Foundation
import Gateway
import Testing
@testable import InferServer

/// The usage charged for a stream that ended before its usage chunk.
@Suite("Stream usage estimate")
struct StreamUsageEstimateTests {
    static let body: JSONValue = ["model": "m", "messages": .array([
        ["role": "system", "content": "You are brief."],
        ["role": "user", "content": .array([["type": "text", "text": "Hello there"], ["type": "image_url", "image_url": ["url": "x"]]])],
    ])]
    static let sent: [JSONValue] = [
        ["id": "c1", "choices": .array([["index": 0, "delta": ["role": "assistant", "content": "Hi"]]])],
        ["id": "c1", "choices": .array([["index": 0, "delta": ["content": " friend"]]])],
        ["id": "c1", "choices": .array([["index": 0, "delta": ["tool_calls": .array([["function": ["arguments": "{\"a\":1}"]]])]]])],
        ["id": "c1", "choices": .array([])],
    ]

    @Test("without a tokenizer: 4 bytes per token, rounded up, over the messages' text and what was sent")
    func bytes() {
        let usage = StreamUsageEstimate.usage(body: Self.body, sent: Self.sent, tokenizer: nil)
        // Prompt "You are brief.\nHello there\n" = 27 bytes -> 7, plus the framing of 2 messages (3 each) and
        // the reply's start (3) = 16; completion "Hi friend{"a":1}" = 16 bytes -> 4.
        #expect(usage["prompt_tokens"] == 16)
        #expect(usage["completion_tokens"] == 4)
        #expect(usage["total_tokens"] == 20)
    }

    @Test("with the local tokenizer: its token counts; a completions prompt and text chunks too")
    func tokenizer() throws {
        let tokenizer = try Fixtures.tinyServer().tokenizer
        let body: JSONValue = ["model": "m", "prompt": "The capital of France is"]
        let sent: [JSONValue] = [["choices": .array([["index": 0, "text": " Paris, of course."]])]]
        let usage = StreamUsageEstimate.usage(body: body, sent: sent, tokenizer: tokenizer)
        #expect(usage["prompt_tokens"]?.int == tokenizer.encode("The capital of France is", addSpecial: false, parseSpecial: false).count)
        #expect(usage["completion_tokens"]?.int == tokenizer.encode(" Paris, of course.", addSpecial: false, parseSpecial: false).count)
        #expect(StreamUsageEstimate.usage(body: body, sent: [], tokenizer: tokenizer)["completion_tokens"] == 0)
    }
}
