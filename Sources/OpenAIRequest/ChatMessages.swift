import Engine
import Foundation
import Gateway

/// The `messages` of a chat request, validated.
public enum ChatMessages {
    /// Parses `messages`: roles system / user / assistant (and `developer` as system) and `tool`; content a
    /// string, null (assistant) or an array of `{"type": "text", "text": ...}` parts. Tool calls and results
    /// become text in `ToolCallFormat` (an assistant's `tool_calls` its blocks, a `tool` message a user turn
    /// with a result block, consecutive results merged); with `tools` (and `tool_choice` not `none`) the
    /// tool descriptions are added to the system text.
    public static func parse(_ f: RequestFields, tools: ToolRequest? = nil) throws -> [ChatMessage] {
        guard let raw = f.value("messages") else {
            throw OpenAIError.badParameter("messages", "'messages' is required.")
        }
        guard case .array(let items) = raw else { throw f.typeError("messages", "an array", raw) }
        guard !items.isEmpty else { throw OpenAIError.badParameter("messages", "'messages' must not be empty.") }
        var out: [ChatMessage] = []
        var callNames: [String: String] = [:]   // tool_call_id -> function name, from assistant turns
        var lastWasToolResult = false
        for (i, item) in items.enumerated() {
            let path = "messages[\(i)]"
            guard case .object = item else { throw f.typeError(path, "an object", item) }
            let m = try RequestFields(item)
            guard let roleText = try Self.field(m, "role", path) else {
                throw OpenAIError.badParameter("\(path).role", "'\(path).role' is required.")
            }
            if roleText == "tool" {
                guard let id = try Self.field(m, "tool_call_id", path) else {
                    throw OpenAIError.badParameter("\(path).tool_call_id", "'\(path).tool_call_id' is required for a tool message.")
                }
                let content = try Self.content(m.value("content"), path: "\(path).content", optional: false)
                let block = ToolCallFormat.result(id: id, name: callNames[id], content: content)
                if lastWasToolResult, let last = out.last {
                    out[out.count - 1].content = last.content + "\n" + block
                } else {
                    out.append(ChatMessage(role: .user, content: block))
                }
                lastWasToolResult = true
                continue
            }
            lastWasToolResult = false
            let role: ChatRole
            switch roleText {
            case "developer": role = .system
            default:
                guard let r = ChatRole(rawValue: roleText) else {
                    throw OpenAIError.badParameter("\(path).role",
                        "'\(path).role' must be one of system, user, assistant, tool; got '\(roleText)'.")
                }
                role = r
            }
            var content = try Self.content(m.value("content"), path: "\(path).content", optional: role == .assistant)
            if role == .assistant, let calls = m.value("tool_calls") {
                let blocks = try Self.toolCalls(calls, path: "\(path).tool_calls", names: &callNames)
                content = content.isEmpty ? blocks : content + "\n" + blocks
            }
            out.append(ChatMessage(role: role, content: content))
        }
        if let tools, tools.choice != .none {
            let preamble = ToolCallFormat.preamble(tools)
            if let s = out.firstIndex(where: { $0.role == .system }) {
                out[s].content += "\n\n" + preamble
            } else {
                out.insert(ChatMessage(role: .system, content: preamble), at: 0)
            }
        }
        return out
    }

    /// An assistant's `tool_calls` as call blocks; records each call's id -> name.
    private static func toolCalls(_ raw: JSONValue, path: String, names: inout [String: String]) throws -> String {
        guard case .array(let calls) = raw else {
            throw OpenAIError.badParameter(path, "'\(path)' must be an array.")
        }
        return try calls.enumerated().map { k, call in
            let p = "\(path)[\(k)]"
            guard case .string(let name)? = call["function"]?["name"], case .string(let args)? = call["function"]?["arguments"] else {
                throw OpenAIError.badParameter(p, "'\(p)' must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}.")
            }
            guard let parsed = try? JSONValue.parse(Data(args.utf8)) else {
                throw OpenAIError.badParameter("\(p).function.arguments", "'\(p).function.arguments' must be a JSON text.")
            }
            if case .string(let id)? = call["id"] { names[id] = name }
            return ToolCallFormat.block(name: name, arguments: parsed.serialized())
        }.joined(separator: "\n")
    }

    /// UTF-8 bytes of the messages' contents (how much tokenizing them costs).
    public static func contentBytes(_ messages: [ChatMessage]) -> Int {
        messages.reduce(0) { $0 + $1.content.utf8.count }
    }

    /// The last Anthropic-style cache breakpoint: `cache_control: {"type": "ephemeral", "ttl": "5m" | "1h"}`
    /// on a message or on one of its content parts. The prefix up to and including that message is to stay
    /// cached for the TTL (default 5 minutes). nil when no message has one.
    public static func cacheBreakpoint(_ f: RequestFields) throws -> (message: Int, ttl: Duration)? {
        guard case .array(let items)? = f.value("messages") else { return nil }
        var found: (message: Int, ttl: Duration)?
        for (i, item) in items.enumerated() {
            var controls: [(String, JSONValue)] = []
            if let c = item["cache_control"], c != .null { controls.append(("messages[\(i)].cache_control", c)) }
            if case .array(let parts)? = item["content"] {
                for (j, part) in parts.enumerated() {
                    if let c = part["cache_control"], c != .null {
                        controls.append(("messages[\(i)].content[\(j)].cache_control", c))
                    }
                }
            }
            for (path, control) in controls {
                guard case .object = control, case .string(let type)? = control["type"], type == "ephemeral" else {
                    throw OpenAIError.badParameter(path, "'\(path)' must be {\"type\": \"ephemeral\"} with an optional \"ttl\" of \"5m\" or \"1h\".")
                }
                let ttl: Duration
                switch control["ttl"] {
                case nil, .null?, .string("5m")?: ttl = .seconds(300)
                case .string("1h")?: ttl = .seconds(3600)
                default:
                    throw OpenAIError.badParameter(path, "'\(path).ttl' must be \"5m\" or \"1h\".")
                }
                found = (i, ttl)
            }
        }
        return found
    }

    private static func field(_ m: RequestFields, _ key: String, _ path: String) throws -> String? {
        guard let v = m.value(key) else { return nil }
        guard case .string(let s) = v else { throw m.typeError("\(path).\(key)", "a string", v) }
        return s
    }

    private static func content(_ value: JSONValue?, path: String, optional: Bool) throws -> String {
        guard let value else {
            if optional { return "" }
            throw OpenAIError.badParameter(path, "'\(path)' is required.")
        }
        switch value {
        case .string(let s): return s
        case .array(let parts):
            guard !parts.isEmpty else {
                throw OpenAIError.badParameter(path, "'\(path)' must not be an empty array.")
            }
            return try parts.enumerated().map { j, part in
                guard case .string(let type)? = part["type"], type == "text", case .string(let text)? = part["text"] else {
                    throw OpenAIError.badParameter("\(path)[\(j)]",
                        "'\(path)[\(j)]' must be a text part {\"type\": \"text\", \"text\": ...}; only text is supported.")
                }
                return text
            }.joined(separator: "\n")
        default:
            throw OpenAIError.badParameter(path, "'\(path)' must be a string or an array of text parts, got \(value.typeName).")
        }
    }
}
