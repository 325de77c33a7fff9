import Foundation
import Gateway
import OpenAIRequest

/// Reads `ToolCallFormat` blocks as they are generated and yields OpenAI `tool_calls` deltas: the header
/// delta once `<tool_call>\n{"name": "...", "arguments": ` is complete, then the arguments' JSON text as it
/// comes, up to the end of the arguments object (found by counting braces and brackets outside strings);
/// the block's tail `}\n</tool_call>` and the newline between blocks are consumed silently.
struct ToolCallScanner: Sendable {
    private enum Phase: Sendable {
        case header
        case arguments(depth: Int, inString: Bool, escaped: Bool)
        case tail
    }

    private static let headerStart = "<tool_call>\n{\"name\": "
    private static let headerEnd = ", \"arguments\": "
    private static let closeTag = "</tool_call>"

    private var phase = Phase.header
    /// Text not yet consumed by the header or tail matcher.
    private(set) var unparsed = ""
    /// Calls whose header was sent.
    private(set) var calls = 0

    /// True between blocks: every started block is complete.
    var isComplete: Bool {
        if case .header = phase { return unparsed.allSatisfy(\.isWhitespace) }
        return false
    }

    mutating func feed(_ text: String) -> [JSONValue] {
        var out: [JSONValue] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            switch phase {
            case .header:
                unparsed += rest
                rest = ""
                let trimmed = unparsed.drop { $0.isWhitespace }
                guard trimmed.hasPrefix(Self.headerStart),
                      let end = trimmed.range(of: Self.headerEnd) else { break }
                let nameText = trimmed[trimmed.index(trimmed.startIndex, offsetBy: Self.headerStart.count)..<end.lowerBound]
                guard let name = (try? JSONValue.parse(Data(nameText.utf8)))?.stringField else { break }
                out.append(["tool_calls": [["index": .int(calls), "id": .string(ToolCallStream.callID()), "type": "function",
                                            "function": ["name": .string(name), "arguments": ""]]]])
                calls += 1
                rest = trimmed[end.upperBound...]
                unparsed = ""
                phase = .arguments(depth: 0, inString: false, escaped: false)
            case .arguments(var depth, var inString, var escaped):
                var cut = rest.endIndex
                var done = false
                for i in rest.indices {
                    let c = rest[i]
                    if inString {
                        if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                    } else if c == "\"" {
                        inString = true
                    } else if c == "{" || c == "[" {
                        depth += 1
                    } else if c == "}" || c == "]" {
                        depth -= 1
                        if depth == 0 {
                            cut = rest.index(after: i)
                            done = true
                            break
                        }
                    }
                }
                let piece = rest[..<cut]
                if !piece.isEmpty {
                    out.append(["tool_calls": [["index": .int(calls - 1), "function": ["arguments": .string(String(piece))]]]])
                }
                rest = rest[cut...]
                phase = done ? .tail : .arguments(depth: depth, inString: inString, escaped: escaped)
            case .tail:
                // Up to the end of the block's closing tag, whatever whitespace the grammar let the model put
                // between the arguments and it (`} }`, `}\n</tool_call>`).
                unparsed += rest
                rest = ""
                if let end = unparsed.range(of: Self.closeTag) {
                    rest = unparsed[end.upperBound...]
                    unparsed = ""
                    phase = .header
                }
            }
        }
        return out
    }
}
