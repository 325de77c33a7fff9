import Foundation
import Testing
@testable import InferServer
import Gateway

/// Streamed tool calls: `ToolCallScanner` turns call blocks cut anywhere into OpenAI's deltas (header, then
/// argument pieces) whose concatenation is the arguments text; `ToolCallStream` picks the finish reason.
@Suite("ToolCallScanner")
struct ToolCallScannerTests {
    static let first = #"{"city": "Pa}ris\"{", "days": [1, {"x": 2}]}"#
    static let second = #"{}"#
    static let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \(first)}\n</tool_call>\n"
        + "<tool_call>\n{\"name\": \"noop\", \"arguments\": \(second)}\n</tool_call>"

    /// Name, id and the concatenated arguments per call index, from a list of deltas.
    static func collect(_ deltas: [JSONValue]) -> [(name: String, id: String, arguments: String, pieces: Int)] {
        var calls: [(name: String, id: String, arguments: String, pieces: Int)] = []
        for d in deltas {
            for call in d["tool_calls"]?.array ?? [] {
                let index = call["index"]?.int ?? -1
                if let name = call["function"]?["name"]?.string {
                    #expect(index == calls.count)
                    #expect(call["function"]?["arguments"] == "", "the header delta carries empty arguments")
                    calls.append((name, call["id"]?.string ?? "", "", 0))
                } else {
                    #expect(call["id"] == nil && index == calls.count - 1)
                    calls[index].arguments += call["function"]?["arguments"]?.string ?? ""
                    calls[index].pieces += 1
                }
            }
        }
        return calls
    }

    @Test("whitespace the grammar allows between the arguments and the closing tag still ends the block")
    func tailWithWhitespace() {
        for tail in ["}\n</tool_call>", " }\n</tool_call>", "}</tool_call>", "\n}\n</tool_call>"] {
            var scanner = ToolCallScanner()
            var deltas: [JSONValue] = []
            for ch in "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"Paris\"}\(tail)" {
                deltas += scanner.feed(String(ch))
            }
            #expect(scanner.isComplete, "\(tail.debugDescription)")
            #expect(Self.collect(deltas).map(\.arguments) == [#"{"zone": "Paris"}"#])
        }
    }

    @Test("blocks cut at every two split points give the same calls")
    func everySplit() {
        let chars = Array(Self.text)
        for a in stride(from: 0, to: chars.count, by: 3) {
            for b in stride(from: a, to: chars.count, by: 7) {
                var scanner = ToolCallScanner()
                var deltas: [JSONValue] = []
                for piece in [chars[..<a], chars[a..<b], chars[b...]] { deltas += scanner.feed(String(piece)) }
                let calls = Self.collect(deltas)
                #expect(calls.map(\.name) == ["get_weather", "noop"], "split \(a) \(b)")
                #expect(calls.map(\.arguments) == [Self.first, Self.second], "split \(a) \(b)")
                #expect(calls.allSatisfy { $0.id.hasPrefix("call_") })
                #expect(scanner.isComplete)
                #expect(deltas.allSatisfy { $0["content"] == nil })
            }
        }
    }

    @Test("arguments stream in pieces as the text comes, one character at a time")
    func incremental() {
        var scanner = ToolCallScanner()
        var deltas: [JSONValue] = []
        for c in Self.text { deltas += scanner.feed(String(c)) }
        let calls = Self.collect(deltas)
        #expect(calls.first?.pieces == Self.first.count)
        #expect(calls.map(\.arguments) == [Self.first, Self.second])
    }

    @Test("finish reasons: tool_calls after complete blocks; a cut-off block keeps length; no header is content")
    func finishReasons() {
        let complete = ToolCallStream(choices: 1, forced: true)
        _ = complete.deltas(0, Self.text, finish: nil)
        #expect(complete.deltas(0, "", finish: "stop").finish == "tool_calls")

        let cut = ToolCallStream(choices: 1, forced: true)
        let (deltas, finish) = cut.deltas(0, String(Self.text.prefix(60)), finish: "length")
        #expect(finish == "length")
        #expect(Self.collect(deltas).count == 1)

        let headless = ToolCallStream(choices: 1, forced: false)
        let (d, f) = headless.deltas(0, "<tool_ca", finish: "length")
        #expect(f == "length" && d.last?["content"] == "<tool_ca")

        let text = ToolCallStream(choices: 1, forced: false)
        #expect(text.deltas(0, "  Hello", finish: nil).deltas.first?["content"] == "  Hello")
        #expect(text.deltas(0, "", finish: "stop").finish == "stop")
    }
}
