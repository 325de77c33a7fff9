import Gateway
import Testing

@Suite("Cache replay")
struct CacheReplayTests {
    @Test func rewriteForReplay() {
        let stored = chatResponse("Paris")
        let zero = CacheReplay.rewrite(stored, model: "alias", usage: .zero, now: 1_800_000_000)
        #expect(zero["id"] != stored["id"] && zero["id"]?.serialized().contains("chatcmpl-") == true)
        #expect(zero["created"] == 1_800_000_000 && zero["model"] == "alias")
        #expect(zero["usage"]?["total_tokens"] == 0 && zero["choices"] == stored["choices"])
        let kept = CacheReplay.rewrite(stored, model: "alias", usage: .stored, now: 1)
        #expect(kept["usage"]?["prompt_tokens"] == 12 && kept["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 12)
    }

    @Test func streamChunksRoundTrip() throws {
        let stored = chatResponse("Paris is the capital.")
        let chunks = CacheReplay.streamChunks(from: stored, includeUsage: true)
        #expect(chunks.count == 3)
        #expect(chunks[0]["choices"]?.serialized().contains(#""role":"assistant""#) == true)
        #expect(chunks[0]["object"] == "chat.completion.chunk")
        #expect(chunks[1]["choices"]?.serialized().contains(#""finish_reason":"stop""#) == true)
        #expect(chunks[2]["choices"] == .array([]) && chunks[2]["usage"] == stored["usage"])
        let assembled = try #require(CacheReplay.assemble(chunks: chunks))
        #expect(assembled["choices"] == stored["choices"])
        #expect(assembled["usage"] == stored["usage"] && assembled["object"] == "chat.completion")
        #expect(CacheReplay.streamChunks(from: stored, includeUsage: false).count == 2)
    }

    @Test func streamWithoutUsageAndTwoChoicesReplaysWithUsage() throws {
        // Two interleaved choices (n = 2), no include_usage: assembled in index order, replayed with a usage.
        func chunk(_ index: Int, _ delta: JSONValue, _ finish: JSONValue = .null) -> JSONValue {
            ["id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": .array([["index": .int(index), "delta": delta, "finish_reason": finish]])]
        }
        let chunks: [JSONValue] = [
            chunk(0, ["role": "assistant", "content": ""]), chunk(1, ["role": "assistant", "content": ""]),
            chunk(1, ["content": "B1"]), chunk(0, ["content": "A1"]), chunk(0, ["content": " A2"], "length"),
            chunk(1, ["content": " B2"], "stop"),
        ]
        let assembled = try #require(CacheReplay.assemble(chunks: chunks))
        guard case .array(let choices)? = assembled["choices"] else { Issue.record("no choices"); return }
        #expect(choices.map { $0["index"] } == [0, 1])
        #expect(choices.map { $0["message"]?["content"] } == ["A1 A2", "B1 B2"])
        #expect(choices.map { $0["finish_reason"] } == ["length", "stop"])
        #expect(assembled["usage"] == nil)
        let replay = CacheReplay.rewrite(assembled, model: "m", usage: .zero, now: 2)
        #expect(replay["usage"]?["total_tokens"] == 0 && replay["usage"]?["completion_tokens"] == 0)
    }

    @Test func assembleToolCallsAndTextCompletions() throws {
        let chunks: [JSONValue] = [
            ["id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [["index": 0, "delta": ["role": "assistant", "content": nil,
                          "tool_calls": [["index": 0, "id": "call_1", "type": "function", "function": ["name": "f", "arguments": "{\"a\":"]]]],
                          "finish_reason": nil]]],
            ["id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [["index": 0, "delta": ["tool_calls": [["index": 0, "function": ["arguments": "1}"]]]], "finish_reason": "tool_calls"]]],
        ]
        let assembled = try #require(CacheReplay.assemble(chunks: chunks))
        let message = try #require(assembled["choices"].flatMap { if case .array(let c) = $0 { c.first } else { nil } }?["message"])
        #expect(message["content"] == .null)
        #expect(message["tool_calls"] == [["id": "call_1", "type": "function", "function": ["name": "f", "arguments": "{\"a\":1}"]]])
        // Replay of tool calls carries them in the delta.
        let replay = CacheReplay.streamChunks(from: assembled, includeUsage: false)
        #expect(replay[1]["choices"]?.serialized().contains("call_1") == true)

        let text: [JSONValue] = [
            ["id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
             "choices": [["text": "Hel", "index": 0, "logprobs": nil, "finish_reason": nil]]],
            ["id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
             "choices": [["text": "lo", "index": 0, "logprobs": nil, "finish_reason": "length"]]],
        ]
        let t = try #require(CacheReplay.assemble(chunks: text))
        #expect(t["choices"] == [["text": "Hello", "index": 0, "logprobs": nil, "finish_reason": "length"]])
        #expect(CacheReplay.streamChunks(from: t, includeUsage: false).count == 1)
        #expect(CacheReplay.assemble(chunks: []) == nil)
    }
}

@Suite("Ordered JSON parser")
struct CacheOrderedJSONTests {
    @Test func keepsKeyOrderAndTypes() throws {
        let text = #"{"b":1,"a":[true,null,2.5,"x\n\"y\"",-3e2,{"z":-3,"y":"\u00e9\ud83d\ude00"}],"c":{}}"#
        let value = try JSONValue.parseOrdered(Array(text.utf8))
        guard case .object(let pairs) = value else { Issue.record("not an object"); return }
        #expect(pairs.map(\.0) == ["b", "a", "c"])
        #expect(value["a"] == [true, nil, 2.5, "x\n\"y\"", .double(-300), .object([("z", -3), ("y", "é😀")])])
        #expect(try JSONValue.parseOrdered(Array(value.serialized().utf8)) == value)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "tru", "[1] x", "\"a\u{01}\""])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parseOrdered(Array(text.utf8)) }
    }

    @Test func roundTripsStoredResponses() throws {
        let response = chatResponse("Line 1\nLine \"2\" \t é")
        #expect(try JSONValue.parseOrdered(Array(response.serialized().utf8)) == response)
    }
}
