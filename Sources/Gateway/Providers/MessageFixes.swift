/// Rewrites of a chat request's `messages` for upstreams with strict chat formats (`litellm_params.message_fixes`),
/// applied by the router just before the call to that deployment, and reported in `x-message-fixes`.
///
/// Many chat templates (Gemma, Llama 2, Mistral, some vLLM deployments) reject what the OpenAI API allows:
/// two user turns in a row, a system message, a conversation that ends with the assistant, an empty turn, a
/// part type the model cannot read. Each fix turns such a request into one the upstream accepts instead of
/// letting it fail:
///
/// | fix (in the order applied) | does |
/// |---|---|
/// | `text_only` | drops non-text content parts (images, audio, files), keeping the text |
/// | `fold_system` | moves every system / developer message into the first user turn, ahead of its text |
/// | `merge_consecutive` | joins consecutive messages of the same role (user, assistant, system) with a blank line |
/// | `last_user` | drops trailing assistant messages so the conversation ends with user (or tool) |
/// | `fill_empty` | gives empty or null content (without tool calls) a single space |
///
/// Messages with `tool_calls`, `tool` messages and messages with a `name` are never merged.
public struct MessageFixes: Sendable, Equatable {
    /// In the order they are applied.
    public enum Fix: String, Sendable, CaseIterable {
        case textOnly = "text_only"
        case foldSystem = "fold_system"
        case mergeConsecutive = "merge_consecutive"
        case lastUser = "last_user"
        case fillEmpty = "fill_empty"
    }

    public var fixes: [Fix]

    public init(_ fixes: [Fix]) { self.fixes = Fix.allCases.filter(fixes.contains) }

    /// Every fix.
    public static let all = MessageFixes(Fix.allCases)

    /// The body with its messages fixed, and the names of the fixes that changed something (with the number
    /// of dropped parts for `text_only`, e.g. `text_only(2)`). Bodies without a `messages` array are returned as is.
    public func apply(to body: JSONValue) -> (body: JSONValue, applied: [String]) {
        guard case .array(var messages)? = body["messages"] else { return (body, []) }
        var applied: [String] = []
        for fix in fixes {
            switch fix {
            case .textOnly:
                var dropped = 0
                messages = messages.map { message in
                    guard case .array(let parts)? = message["content"] else { return message }
                    let kept = parts.filter { part in
                        if case .string("text")? = part["type"] { return true }
                        dropped += 1
                        return false
                    }
                    return kept.count == parts.count ? message : message.settingField("content", .array(kept))
                }
                if dropped > 0 { applied.append("text_only(\(dropped))") }
            case .foldSystem:
                let system = messages.filter { ["system", "developer"].contains(Self.role($0)) }
                guard !system.isEmpty else { continue }
                var rest = messages.filter { !["system", "developer"].contains(Self.role($0)) }
                let text = system.map(Self.text).filter { !$0.isEmpty }.joined(separator: "\n\n")
                if let first = rest.firstIndex(where: { Self.role($0) == "user" }) {
                    let user = Self.text(rest[first])
                    rest[first] = rest[first].settingField("content", .string(text.isEmpty ? user : user.isEmpty ? text : text + "\n\n" + user))
                } else {
                    rest.insert(.object([("role", "user"), ("content", .string(text))]), at: 0)
                }
                messages = rest
                applied.append(fix.rawValue)
            case .mergeConsecutive:
                var out: [JSONValue] = []
                var merged = false
                for message in messages {
                    if let last = out.last, Self.mergeable(last), Self.mergeable(message), Self.role(last) == Self.role(message) {
                        out[out.count - 1] = last.settingField("content", .string(Self.text(last) + "\n\n" + Self.text(message)))
                        merged = true
                    } else {
                        out.append(message)
                    }
                }
                if merged {
                    messages = out
                    applied.append(fix.rawValue)
                }
            case .lastUser:
                var dropped = false
                while messages.count > 1, let last = messages.last, Self.role(last) == "assistant" {
                    messages.removeLast()
                    dropped = true
                }
                if dropped { applied.append(fix.rawValue) }
            case .fillEmpty:
                var filled = false
                messages = messages.map { message in
                    guard message["tool_calls"] == nil || message["tool_calls"] == .null else { return message }
                    switch message["content"] {
                    case nil, .null?, .string("")?, .array([])?:
                        filled = true
                        return message.settingField("content", .string(" "))
                    default:
                        return message
                    }
                }
                if filled { applied.append(fix.rawValue) }
            }
        }
        return (body.settingField("messages", .array(messages)), applied)
    }

    static func role(_ message: JSONValue) -> String? {
        if case .string(let role)? = message["role"] { return role }
        return nil
    }

    /// The message's text: a string content, or its text parts joined by newlines.
    static func text(_ message: JSONValue) -> String {
        switch message["content"] {
        case .string(let s)?: return s
        case .array(let parts)?:
            return parts.compactMap { part -> String? in
                if case .string("text")? = part["type"], case .string(let t)? = part["text"] { return t }
                return nil
            }.joined(separator: "\n")
        default: return ""
        }
    }

    /// Plain text turns only: no tool calls, no tool results, no name, no non-text parts.
    static func mergeable(_ message: JSONValue) -> Bool {
        guard ["user", "assistant", "system", "developer"].contains(role(message)),
              message["tool_calls"] == nil || message["tool_calls"] == .null, message["name"] == nil else { return false }
        if case .array(let parts)? = message["content"] {
            return parts.allSatisfy { if case .string("text")? = $0["type"] { true } else { false } }
        }
        return true
    }
}
