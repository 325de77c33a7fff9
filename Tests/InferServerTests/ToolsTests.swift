import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer
import Gateway
import OpenAIRequest

/// Tools on the local model: calls forced by the grammar, parsed back into OpenAI's `tool_calls`, streamed as
/// deltas; tool history rendered in `ToolCallFormat`; bad tool fields refused.
@Suite("Tools")
struct ToolsTests {
    static let tools = #"""
        [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
          "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "days"],
          "additionalProperties": false}}},
         {"type": "function", "function": {"name": "noop"}}]
        """#

    static func checkWeather(_ arguments: String) {
        guard let v = try? JSONValue.parse(Data(arguments.utf8)) else {
            Issue.record("arguments are not JSON: \(arguments)")
            return
        }
        #expect(v.keys == ["city", "days"], "\(arguments)")
        #expect((v["city"]?.string?.count ?? 99) <= 30)
        #expect((1...7).contains(v["days"]?.int ?? 0), "\(arguments)")
    }

    @Test("required: the answer is tool calls with arguments valid for the schema")
    func required() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": "Weather in Oslo for 3 days?"}], "max_tokens": 100,
                 "temperature": 0.9, "seed": 1, "n": 2, "tools": \(Self.tools), "tool_choice": "required"}
                """)
        }
        #expect(r.status == .ok, "\(r.text)")
        for choice in r.json["choices"]?.array ?? [] {
            #expect(choice["finish_reason"]?.string == "tool_calls", "\(choice)")
            #expect(choice["message"]?["content"] == .null)
            let calls = choice["message"]?["tool_calls"]?.array ?? []
            #expect(!calls.isEmpty)
            for call in calls {
                #expect(call["id"]?.string?.hasPrefix("call_") == true)
                #expect(call["type"]?.string == "function")
                let name = call["function"]?["name"]?.string
                let args = call["function"]?["arguments"]?.string ?? ""
                if name == "get_weather" { Self.checkWeather(args) } else { #expect(name == "noop" && args == "{}") }
            }
        }
    }

    @Test("a named function, streamed: tool-call deltas, finish_reason tool_calls, no content")
    func namedStreaming() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": "Weather in Rome?"}], "max_tokens": 100, "temperature": 0,
                 "stream": true, "tools": \(Self.tools), "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                 "parallel_tool_calls": false}
                """)
        }
        #expect(r.status == .ok)
        var args = "", names: [String] = [], content = "", finish: String? = nil
        for event in r.events.dropLast() {
            let chunk = (try? JSONValue.parse(Data(event.utf8))) ?? .null
            for choice in chunk["choices"]?.array ?? [] {
                content += choice["delta"]?["content"]?.string ?? ""
                if let f = choice["finish_reason"]?.string { finish = f }
                for d in choice["delta"]?["tool_calls"]?.array ?? [] {
                    #expect(d["index"]?.int == 0)
                    if let n = d["function"]?["name"]?.string { names.append(n) }
                    args += d["function"]?["arguments"]?.string ?? ""
                }
            }
        }
        #expect(finish == "tool_calls")
        #expect(content == "")
        #expect(names == ["get_weather"])
        Self.checkWeather(args)
    }

    @Test("tool history: an assistant's tool_calls and a tool result are rendered, and the model answers")
    func history() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": "Weather in Oslo?"},
                  {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                   "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\", \\"days\\": 1}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "{\\"temp\\": 4}"}],
                 "max_tokens": 10, "temperature": 0, "tools": \(Self.tools), "tool_choice": "none"}
                """)
        }
        #expect(r.status == .ok, "\(r.text)")
        #expect(r.json["choices"]?[0]?["message"]?["tool_calls"] == nil)
        #expect(r.json["choices"]?[0]?["message"]?["content"]?.string?.isEmpty == false)
    }

    @Test("the prompt format of calls and results", arguments: [
        ("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>", [ToolCallFormat.Call(name: "f", arguments: "{\"a\":1}")]),
        ("  <tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"g\", \"arguments\": {\"b\": [true]}}\n</tool_call>\n",
         [ToolCallFormat.Call(name: "f", arguments: "{}"), ToolCallFormat.Call(name: "g", arguments: "{\"b\":[true]}")]),
        ("Hello <tool_call>", nil),
        ("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": ", nil),
        ("<tool_call>\n{\"name\": \"f\", \"arguments\": 3}\n</tool_call>", nil),
    ] as [(String, [ToolCallFormat.Call]?)])
    func parse(_ text: String, _ expected: [ToolCallFormat.Call]?) {
        #expect(ToolCallFormat.parse(text) == expected)
        if let expected {
            let rendered = expected.map { ToolCallFormat.block(name: $0.name, arguments: $0.arguments) }.joined(separator: "\n")
            #expect(ToolCallFormat.parse(rendered) == expected)
        }
    }

    @Test("bad tool fields: 400 naming the field", arguments: [
        (#""tools": [], "tool_choice": "auto""#, "tools"),
        (#""tool_choice": "required""#, "tool_choice"),
        (#""tools": [{"type": "function", "function": {"name": "a b"}}]"#, "tools[0].function.name"),
        (#""tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}"#, "tool_choice"),
        (#""tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "if": {}}}}], "tool_choice": "required""#, "tools"),
        (#""tools": [{"type": "function", "function": {"name": "f"}}], "response_format": {"type": "json_object"}"#, "response_format"),
    ])
    func refused(_ fields: String, _ param: String) async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "# + fields + "}")
        }
        #expect(r.status == .badRequest, "\(r.text)")
        #expect(r.json["error"]?["param"]?.string == param, "\(r.text)")
    }

    @Test("a tool message needs tool_call_id")
    func toolMessageNeedsID() async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in
            try await c.post("/v1/chat/completions", #"{"messages": [{"role": "tool", "content": "x"}], "max_tokens": 3}"#)
        }
        #expect(r.status == .badRequest)
        #expect(r.json["error"]?["param"]?.string == "messages[0].tool_call_id")
    }
}
