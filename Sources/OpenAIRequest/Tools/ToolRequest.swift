import Engine
import Gateway

/// One function the client offers the model (`tools[i].function`).
public struct ToolFunction: Sendable {
    public var name: String
    public var description: String?
    /// The JSON Schema of the arguments (an empty object schema when the tool gives none).
    public var parameters: JSONValue
}

/// `tool_choice`.
public enum ToolChoice: Sendable, Equatable {
    /// The model answers in text (tools stay in the prompt so the conversation reads the same).
    case none
    /// Text or tool calls: the model decides.
    case auto
    /// One or more tool calls, no text.
    case required
    /// A call of this function.
    case function(String)
}

/// `tools`, `tool_choice` and `parallel_tool_calls` of a chat request, validated.
public struct ToolRequest: Sendable {
    public var tools: [ToolFunction]
    public var choice: ToolChoice
    /// More than one call in one answer (default true, as OpenAI).
    public var parallel: Bool

    public static let maxTools = 128
    public static let maxDescriptionBytes = 8192

    /// nil when the request has no `tools` (then `tool_choice` must be absent or `none`).
    public static func parse(_ f: RequestFields) throws -> ToolRequest? {
        let parallel = try f.bool("parallel_tool_calls") ?? true
        var choice: ToolChoice? = nil
        if let c = f.value("tool_choice") {
            switch c {
            case .string("none"): choice = ToolChoice.none
            case .string("auto"): choice = .auto
            case .string("required"): choice = .required
            case .object:
                guard case .string("function")? = c["type"], case .string(let name)? = c["function"]?["name"] else {
                    throw OpenAIError.badParameter("tool_choice",
                        "'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.")
                }
                choice = .function(name)
            default:
                throw OpenAIError.badParameter("tool_choice",
                    "'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.")
            }
        }
        guard let raw = f.value("tools") else {
            if let choice, choice != ToolChoice.none {
                throw OpenAIError.badParameter("tool_choice", "'tool_choice' needs 'tools'.")
            }
            return nil
        }
        guard case .array(let items) = raw else { throw f.typeError("tools", "an array", raw) }
        guard !items.isEmpty else { throw OpenAIError.badParameter("tools", "'tools' must not be empty.") }
        guard items.count <= maxTools else {
            throw OpenAIError.badParameter("tools", "'tools' has \(items.count) entries; at most \(maxTools) are accepted.")
        }
        var tools: [ToolFunction] = []
        var names: Set<String> = []
        for (i, item) in items.enumerated() {
            let path = "tools[\(i)]"
            guard case .string("function")? = item["type"], let fn = item["function"], case .object = fn else {
                throw OpenAIError.badParameter(path, "'\(path)' must be {\"type\": \"function\", \"function\": {...}}.")
            }
            guard case .string(let name)? = fn["name"], Self.validName(name) else {
                throw OpenAIError.badParameter("\(path).function.name",
                    "'\(path).function.name' must be 1-64 letters, digits, '_' or '-'.")
            }
            guard names.insert(name).inserted else {
                throw OpenAIError.badParameter("\(path).function.name", "Two tools are named '\(name)'.")
            }
            var description: String? = nil
            switch fn["description"] {
            case nil, .null?: break
            case .string(let d)? where d.utf8.count <= maxDescriptionBytes: description = d
            default:
                throw OpenAIError.badParameter("\(path).function.description",
                    "'\(path).function.description' must be a string of at most \(maxDescriptionBytes) bytes.")
            }
            var parameters: JSONValue = ["type": "object", "properties": .object([])]
            switch fn["parameters"] {
            case nil, .null?: break
            case let p? where p.typeName == "object": parameters = p
            default:
                throw OpenAIError.badParameter("\(path).function.parameters", "'\(path).function.parameters' must be a JSON Schema object.")
            }
            tools.append(ToolFunction(name: name, description: description, parameters: parameters))
        }
        let resolved = choice ?? .auto
        if case .function(let name) = resolved, !names.contains(name) {
            throw OpenAIError.badParameter("tool_choice", "'tool_choice' names '\(name)', which is not in 'tools'.")
        }
        return ToolRequest(tools: tools, choice: resolved, parallel: parallel)
    }

    static func validName(_ s: String) -> Bool {
        (1...64).contains(s.utf8.count) && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }
}
