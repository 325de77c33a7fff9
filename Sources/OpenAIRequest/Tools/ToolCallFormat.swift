import Engine
import Foundation
import Gateway

/// The tool-call format of prompts and answers, for chat templates that have none of their own (Gemma's,
/// and every template this server renders): tools are listed at the end of the system text, each call is a
/// block the model writes and the server parses back, and tool results are user-turn blocks.
///
/// ```
/// <tool_call>
/// {"name": "get_weather", "arguments": {"city": "Paris"}}
/// </tool_call>
/// ```
/// Several calls are blocks separated by a newline (at most one per offered function, one when a function is
/// named or `parallel_tool_calls` is false). A `role: tool` message becomes
/// `<tool_response>\n{"tool_call_id": ..., "name": ..., "content": ...}\n</tool_response>` in a user turn
/// (consecutive results share one turn); an assistant message with `tool_calls` becomes its blocks (after
/// its text, if any). With `tool_choice` `required` or a named function the grammar forces the blocks; with
/// `auto` it allows either the blocks or text that does not start with `<`.
public enum ToolCallFormat {
    static let open = "<tool_call>\n"
    static let close = "\n</tool_call>"

    /// The system-prompt section that describes the tools.
    public static func preamble(_ request: ToolRequest) -> String {
        var lines = ["# Tools", "", "You can call functions to answer. Their signatures, one JSON object per line:"]
        for t in request.tools {
            var pairs: [(String, JSONValue)] = [("name", .string(t.name))]
            if let d = t.description { pairs.append(("description", .string(d))) }
            pairs.append(("parameters", t.parameters))
            lines.append(JSONValue.object(pairs).serialized())
        }
        lines += ["", "To call a function, answer with only this block (one block per call):",
                  "<tool_call>", #"{"name": "<function name>", "arguments": <the arguments as a JSON object>}"#,
                  "</tool_call>"]
        if case .function(let name) = request.choice { lines.append("You must call `\(name)` now.") }
        if request.choice == .required { lines.append("You must call at least one function now.") }
        return lines.joined(separator: "\n")
    }

    /// One call block.
    public static func block(name: String, arguments: String) -> String {
        open + #"{"name": "# + JSONValue.string(name).serialized() + #", "arguments": "# + arguments + "}" + close
    }

    /// One tool result block.
    public static func result(id: String?, name: String?, content: String) -> String {
        var pairs: [(String, JSONValue)] = []
        if let id { pairs.append(("tool_call_id", .string(id))) }
        if let name { pairs.append(("name", .string(name))) }
        pairs.append(("content", .string(content)))
        return "<tool_response>\n" + JSONValue.object(pairs).serialized() + "\n</tool_response>"
    }

    /// A call parsed from an answer.
    public struct Call: Sendable, Equatable {
        public var name: String
        /// The arguments as compact JSON text (OpenAI sends them as a string).
        public var arguments: String

        public init(name: String, arguments: String) {
            self.name = name
            self.arguments = arguments
        }
    }

    /// The calls in `text` when it is one or more call blocks (whitespace around them allowed); nil when it
    /// is text.
    public static func parse(_ text: String) -> [Call]? {
        var rest = Substring(text)
        var calls: [Call] = []
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.isEmpty { break }
            guard rest.hasPrefix("<tool_call>"), let end = rest.range(of: "</tool_call>") else { return nil }
            let body = rest[rest.index(rest.startIndex, offsetBy: "<tool_call>".count)..<end.lowerBound]
            guard let v = try? JSONValue.parse(Data(body.utf8)), case .string(let name)? = v["name"],
                  let args = v["arguments"], case .object = args else { return nil }
            calls.append(Call(name: name, arguments: args.serialized()))
            rest = rest[end.upperBound...]
        }
        return calls.isEmpty ? nil : calls
    }
}
