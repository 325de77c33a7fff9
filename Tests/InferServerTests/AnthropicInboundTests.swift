import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer
import Gateway
import OpenAIRequest

/// The Messages API inbound: the request translation and its refusals, the answer and event translations,
/// and the routes on the real model (errors in Anthropic's envelope, `x-api-key`, `anthropic-version`).
@Suite("AnthropicInbound")
struct AnthropicInboundTests {
    static func parse(_ text: String, kind: AnthropicInboundRequest.Kind = .messages) throws -> AnthropicInboundRequest {
        try AnthropicInboundRequest(JSONValue.parse(Data(text.utf8)), kind: kind)
    }

    static func json(_ text: String) -> JSONValue { (try? JSONValue.parse(Data(text.utf8))) ?? .null }

    @Test("a full request becomes the chat request: system, tool_use -> tool_calls, tool_result -> tool messages")
    func translation() throws {
        let r = try Self.parse("""
            {"model": "m", "max_tokens": 50, "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
             "messages": [
               {"role": "user", "content": "Weather in Oslo?"},
               {"role": "assistant", "content": [{"type": "text", "text": "Let me look."},
                  {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "5 C"}]},
                  {"type": "text", "text": "And tomorrow?"}]}],
             "stop_sequences": ["END"], "temperature": 0.5, "top_p": 0.9, "top_k": 40, "stream": true,
             "metadata": {"user_id": "u-1"}, "service_tier": "auto",
             "tools": [{"name": "get_weather", "description": "Weather.", "input_schema": {"type": "object"}}],
             "tool_choice": {"type": "any", "disable_parallel_tool_use": true}}
            """)
        #expect(r.model == "m" && r.stream && r.stopSequences == ["END"])
        let expected = Self.json("""
            {"model": "m", "messages": [
               {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
               {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]},
               {"role": "assistant", "content": [{"type": "text", "text": "Let me look."}],
                "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\":\\"Oslo\\"}"}}]},
               {"role": "tool", "tool_call_id": "toolu_1", "content": "5 C"},
               {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]}],
             "max_tokens": 50, "stop": ["END"], "temperature": 0.5, "top_p": 0.9, "top_k": 40, "stream": true,
             "stream_options": {"include_usage": true}, "user": "u-1",
             "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object"}}}],
             "tool_choice": "required", "parallel_tool_calls": false}
            """)
        #expect(r.chatBody == expected, "\(r.chatBody.serialized())")
    }

    @Test("tool_choice: auto, none and a named tool; an error result is marked")
    func toolChoices() throws {
        let tools = #"[{"name": "f", "input_schema": {"type": "object"}}]"#
        let ask = #"[{"role": "user", "content": "hi"}]"#
        for (choice, expected) in [(#"{"type": "auto"}"#, #""auto""#), (#"{"type": "none"}"#, #""none""#),
                                   (#"{"type": "tool", "name": "f"}"#, #"{"type": "function", "function": {"name": "f"}}"#)] {
            let r = try Self.parse(#"{"model": "m", "max_tokens": 5, "messages": \#(ask), "tools": \#(tools), "tool_choice": \#(choice)}"#)
            #expect(r.chatBody["tool_choice"] == Self.json(expected))
            #expect(r.chatBody["parallel_tool_calls"] == nil)
        }
        let r = try Self.parse("""
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "go"},
              {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "boom", "is_error": true}]}]}
            """)
        #expect(r.chatBody["messages"]?[2] == Self.json(#"{"role": "tool", "tool_call_id": "a", "content": "Error: boom"}"#))
        #expect(r.chatBody["messages"]?[1]?["content"] == .null)
    }

    @Test("current API fields: output_config.format -> response_format, top-level cache_control, no-op fields")
    func currentFields() throws {
        let r = try Self.parse("""
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
              {"role": "user", "content": "c"}], "cache_control": {"type": "ephemeral", "ttl": "1h"},
             "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}, "effort": "low"},
             "inference_geo": "us", "speed": "standard", "user_profile_id": "p", "workspace_id": "w",
             "thinking": {"type": "disabled"}, "service_tier": "standard_only"}
            """)
        #expect(r.chatBody["messages"]?[2]?["cache_control"] == Self.json(#"{"type": "ephemeral", "ttl": "1h"}"#))
        #expect(r.chatBody["messages"]?[1]?["cache_control"] == nil)
        #expect(r.chatBody["response_format"] == Self.json(
            #"{"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": true}}"#))
        for key in ["inference_geo", "speed", "user_profile_id", "workspace_id", "thinking", "service_tier", "output_config"] {
            #expect(r.chatBody[key] == nil, "\(key) is not sent on")
        }
    }

    /// Attacker and mistaken inputs: each is a 400 naming the offending field.
    @Test("bad requests are 400s naming the field", arguments: [
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}]}"#, "max_tokens"),
        (#"{"model": "m", "max_tokens": "10", "messages": [{"role": "user", "content": "x"}]}"#, "max_tokens"),
        (#"{"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}"#, "max_tokens"),
        (#"{"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}"#, "model"),
        (#"{"model": "m", "max_tokens": 5, "messages": "hello"}"#, "messages"),
        (#"{"model": "m", "max_tokens": 5, "messages": []}"#, "messages"),
        (#"{"model": "m", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}"#, "temperature"),
        (#"{"model": "m", "max_tokens": 5, "thinking": {"type": "enabled"}, "messages": [{"role": "user", "content": "x"}]}"#, "thinking"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}"#, "messages[0].role"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x", "name": "bob"}]}"#, "messages[0].name"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}"#, "messages[0].content[0].type"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]}"#, "messages[0].content[0].text"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "extra": 1}]}]}"#, "messages[0].content[0].extra"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope"}]}]}"#, "messages[0].content[0].tool_use_id"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]}]}"#, "messages[0].content[0].type"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": "x"}]}, {"role": "user", "content": "r"}]}"#, "messages[1].content[0].input"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "prefill"}]}"#, "messages[1]"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "text/html", "data": "x"}}]}]}"#, "messages[0].content[0].source"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}"#, "tools[0].type"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [{"name": "f"}]}"#, "tools[0].input_schema"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"}"#, "tool_choice"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "sometimes"}}"#, "tool_choice.type"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "metadata": {"user_id": 7}}"#, "metadata.user_id"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "metadata": {"email": "a@b"}}"#, "metadata.email"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "system": 3}"#, "system"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "stop_sequences": "END"}"#, "stop_sequences"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "container": "c"}"#, "container"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "diagnostics": {}}"#, "diagnostics"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "speed": "warp"}"#, "speed"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "output_config": {"format": {"type": "text"}}}"#, "output_config.format"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "output_config": {"effort": "huge"}}"#, "output_config.effort"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "output_config": {"verbosity": 1}}"#, "output_config.verbosity"),
    ])
    func refusals(body: String, param: String) {
        do {
            _ = try Self.parse(body)
            Issue.record("accepted: \(body)")
        } catch let e as OpenAIError {
            #expect(e.status == .badRequest)
            #expect(e.param == param, "\(e.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("huge arrays are refused: more than 100000 messages, more than 128 tools")
    func hugeArrays() throws {
        let many = Array(repeating: #"{"role": "user", "content": "x"}"#, count: AnthropicInboundRequest.maxMessages + 1)
        #expect(throws: OpenAIError.self) {
            try Self.parse(#"{"model": "m", "max_tokens": 5, "messages": [\#(many.joined(separator: ","))]}"#)
        }
        let tools = (0...ToolRequest.maxTools).map { #"{"name": "f\#($0)", "input_schema": {"type": "object"}}"# }
        #expect(throws: OpenAIError.self) {
            try Self.parse(#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [\#(tools.joined(separator: ","))]}"#)
        }
    }

    @Test("count_tokens takes no generation fields")
    func countTokensFields() throws {
        let r = try Self.parse(#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "system": "s"}"#, kind: .countTokens)
        #expect(r.chatBody["max_tokens"] == nil)
        #expect(throws: OpenAIError.self) {
            try Self.parse(#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}"#, kind: .countTokens)
        }
    }

    @Test("a chat completion becomes a message: text and tool_use blocks, stop reasons, Anthropic usage")
    func answer() {
        let completion = Self.json("""
            {"id": "chatcmpl-abc123", "object": "chat.completion", "choices": [{"index": 0,
              "message": {"role": "assistant", "content": "Checking.", "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": "{\\"a\\": 1}"}}]}, "finish_reason": "tool_calls"}],
             "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107,
                       "prompt_tokens_details": {"cached_tokens": 64}}}
            """)
        let m = AnswerWire.anthropic(model: "group", stopSequences: []).json(completion)
        #expect(m == Self.json("""
            {"id": "msg_abc123", "type": "message", "role": "assistant", "model": "group",
             "content": [{"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}],
             "stop_reason": "tool_use", "stop_sequence": null,
             "usage": {"input_tokens": 36, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64, "output_tokens": 7}}
            """), "\(m.serialized())")
        for (finish, matched, reason, sequence) in [("stop", JSONValue.null, "end_turn", JSONValue.null),
                                                    ("stop", "END", "stop_sequence", "END"), ("stop", "OTHER", "end_turn", .null),
                                                    ("length", .null, "max_tokens", .null)] {
            let (r, s) = AnthropicInboundResponse.stop(finishReason: finish, matched: matched, stopSequences: ["END"])
            #expect(r == .string(reason) && s == sequence)
        }
        let pinned = AnthropicInboundResponse.usage(Self.json("""
            {"prompt_tokens": 50, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 0},
             "cache_creation_input_tokens": 40, "cache_read_input_tokens": 0}
            """))
        #expect(pinned["input_tokens"] == .int(10) && pinned["cache_creation_input_tokens"] == .int(40))
        let hostile = AnthropicInboundResponse.usage(Self.json(#"{"prompt_tokens": -5, "completion_tokens": "x", "cache_read_input_tokens": 99}"#))
        #expect(hostile["input_tokens"] == .int(0) && hostile["output_tokens"] == .int(0))
    }

    /// The event types of an encoded stream, in order.
    static func types(_ sse: String) -> [String] {
        sse.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
            let lines = block.components(separatedBy: "\n")
            let name = String(lines[0].dropFirst("event: ".count))
            #expect(Self.json(String(lines[1].dropFirst("data: ".count)))["type"] == .string(name), "\(block)")
            return name
        }
    }

    @Test("chunks become Anthropic's events in order: text block, tool_use blocks with input_json_delta, message_delta")
    func events() {
        var e = AnthropicEventEncoding(model: "g", stopSequences: [])
        let chunks = [
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}"#,
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}"#,
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": null}]}"#,
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]}"#,
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}}]}"#,
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]}"#,
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "g", "arguments": "{}"}}]}}]}"#,
            #"{"id": "chatcmpl-x", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}"#,
            #"{"id": "chatcmpl-x", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 0}}}"#,
        ]
        var sse = ""
        for c in chunks { sse += e.encode(Self.json(c)) }
        sse += e.end(failed: false)
        #expect(Self.types(sse) == [
            "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
            "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
        ])
        let data = sse.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map {
            Self.json(String($0.components(separatedBy: "\n")[1].dropFirst(6)))
        }
        #expect(data[0]["message"]?["id"] == "msg_x")
        #expect(data[6]["content_block"] == Self.json(#"{"type": "tool_use", "id": "call_a", "name": "f", "input": {}}"#))
        #expect(data[7]["delta"] == Self.json(#"{"type": "input_json_delta", "partial_json": "{\"a\":"}"#))
        #expect(data[10]["index"] == .int(2))
        #expect(data[13]["delta"] == Self.json(#"{"stop_reason": "tool_use", "stop_sequence": null}"#))
        #expect(data[13]["usage"]?["input_tokens"] == .int(9) && data[13]["usage"]?["output_tokens"] == .int(4))

        var failing = AnthropicEventEncoding(model: "g", stopSequences: [])
        var broken = failing.encode(Self.json(#"{"id": "c", "choices": [{"index": 0, "delta": {"content": "a"}}]}"#))
        broken += failing.encode(error: OpenAIError.overloaded) + failing.end(failed: true)
        #expect(Self.types(broken) == ["message_start", "content_block_start", "ping", "content_block_delta", "error"])
        #expect(broken.contains(#""error":{"type":"rate_limit_error""#))
    }

    // MARK: routes on the real model

    static func post(_ c: any TestClientProtocol, _ uri: String, _ body: String, headers: HTTPFields = [:]) async throws -> Reply {
        var h = headers
        h[HTTPField.Name("anthropic-version")!] = h[HTTPField.Name("anthropic-version")!] ?? "2023-06-01"
        return try await c.post(uri, body, headers: h)
    }

    @Test("POST /v1/messages on the local model: a message whose input tokens are count_tokens' count")
    func messageRoute() async throws {
        let server = try Fixtures.gemmaServer()
        let body = #"{"model": "gemma-test", "system": "You are terse.", "messages": [{"role": "user", "content": "Name a color."}]"#
        let (r, count, stream) = try await withRouter(server) { c in
            (try await Self.post(c, "/v1/messages", body + #", "max_tokens": 6, "temperature": 0}"#),
             try await Self.post(c, "/v1/messages/count_tokens", body + "}"),
             try await Self.post(c, "/v1/messages", body + #", "max_tokens": 6, "temperature": 0, "stream": true}"#))
        }
        #expect(r.status == .ok, "\(r.text)")
        let m = r.json
        #expect(m["type"] == "message" && m["role"] == "assistant" && m["model"] == "gemma-test")
        #expect(m["id"]?.string?.hasPrefix("msg_") == true)
        #expect(m["content"]?[0]?["type"] == "text")
        #expect(["end_turn", "max_tokens"].contains(m["stop_reason"]?.string ?? ""))
        let u = m["usage"]
        #expect(count.status == .ok, "\(count.text)")
        let counted = count.json["input_tokens"]?.int ?? -1
        #expect(counted > 5)
        #expect((u?["input_tokens"]?.int ?? 0) + (u?["cache_read_input_tokens"]?.int ?? 0) == counted)
        #expect((1...6).contains(u?["output_tokens"]?.int ?? 0))

        #expect(stream.status == .ok)
        #expect(stream.headers[.contentType] == "text/event-stream")
        let types = Self.types(stream.text)
        #expect(Array(types.prefix(3)) == ["message_start", "content_block_start", "ping"], "\(types)")
        #expect(Array(types.suffix(3)) == ["content_block_stop", "message_delta", "message_stop"])
        #expect(!stream.text.contains("[DONE]"))
        var text = ""
        for block in stream.text.components(separatedBy: "\n\n") where block.hasPrefix("event: content_block_delta") {
            text += Self.json(String(block.components(separatedBy: "\n")[1].dropFirst(6)))["delta"]?["text"]?.string ?? ""
        }
        #expect(text == m["content"]?[0]?["text"]?.string, "temperature 0: the stream says what the message said")
    }

    @Test("errors on /v1/messages are in Anthropic's envelope; x-api-key authenticates; anthropic-version is checked")
    func errorsAndAuth() async throws {
        let server = try Fixtures.tinyServer(settings: { $0.apiKey = "sk-master" })
        let ok = #"{"model": "tiny", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}"#
        let replies = try await withRouter(server) { c in
            [try await Self.post(c, "/v1/messages", ok),
             try await Self.post(c, "/v1/messages", ok, headers: [HTTPField.Name("x-api-key")!: "wrong"]),
             try await Self.post(c, "/v1/messages", ok, headers: [HTTPField.Name("x-api-key")!: "sk-master"]),
             try await Self.post(c, "/v1/messages", ok, headers: [.authorization: "Bearer sk-master"]),
             try await Self.post(c, "/v1/messages", ok, headers: [.authorization: "Bearer sk-master", HTTPField.Name("x-api-key")!: "other"]),
             try await Self.post(c, "/v1/messages", #"{"model": "tiny", "messages": []}"#, headers: [HTTPField.Name("x-api-key")!: "sk-master"]),
             try await Self.post(c, "/v1/messages", ok, headers: [HTTPField.Name("x-api-key")!: "sk-master", HTTPField.Name("anthropic-version")!: "1999-01-01"]),
             try await Self.post(c, "/v1/messages", #"{"model": "nope", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}"#,
                                 headers: [HTTPField.Name("x-api-key")!: "sk-master"]),
             try await c.post("/v1/chat/completions", #"{"messages": []}"#, headers: [HTTPField.Name("x-api-key")!: "sk-master"])]
        }
        let statuses = replies.map(\.status.code)
        #expect(statuses == [401, 401, 200, 200, 401, 400, 400, 404, 400], "\(replies.map(\.text))")
        for (reply, type) in zip(replies, ["authentication_error", "authentication_error", nil, nil, "authentication_error",
                                           "invalid_request_error", "invalid_request_error", "not_found_error"]) {
            guard let type else { continue }
            #expect(reply.json["type"] == "error" && reply.json["error"]?["type"] == .string(type), "\(reply.text)")
            #expect(reply.json["error"]?["message"]?.string?.isEmpty == false)
        }
        #expect(replies[8].json["error"]?["type"] == "invalid_request_error" && replies[8].json["type"] == nil,
                "chat completions keep OpenAI's envelope")
    }
}
