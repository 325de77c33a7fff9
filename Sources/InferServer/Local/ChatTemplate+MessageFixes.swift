import Engine
import Gateway
import OpenAIRequest

extension ChatTemplate {
    /// The `MessageFixes` a conversation needs before this format renders it as its model was trained to read
    /// it. Gemma, Llama 2 and Mistral templates (their Jinja originals raise "Conversation roles must
    /// alternate user/assistant/user/assistant/...") take one optional system message first and then
    /// alternating turns: consecutive same-role turns are merged, and system messages anywhere but first
    /// (or more than one) are folded into the first user turn. A conversation already in that shape is
    /// left alone (a single leading system message is the template's own business), so its prompt is
    /// unchanged. ChatML and Llama 3 take any order: nil. Only valid conversations are fixed: one that
    /// `ChatMessages` refuses is left as sent, so its 400 names the message as the client wrote it (merging
    /// would hide e.g. an empty content array inside its neighbour).
    func requiredMessageFixes(_ body: JSONValue) -> MessageFixes? {
        switch self {
        case .chatml, .llama3: return nil
        case .gemma, .llama2, .mistral: break
        }
        guard case .array(let messages)? = body["messages"] else { return nil }
        let roles = messages.map { message -> String in
            if case .string(let role)? = message["role"] { return role == "developer" ? "system" : role }
            return ""
        }
        var fixes: [MessageFixes.Fix] = []
        let systems = roles.indices.filter { roles[$0] == "system" }
        if !(systems.isEmpty || systems == [0]) { fixes.append(.foldSystem) }
        if zip(roles, roles.dropFirst()).contains(where: { $0 == $1 && $0 != "tool" }) { fixes.append(.mergeConsecutive) }
        guard !fixes.isEmpty, let f = try? RequestFields(body),
              (try? ChatMessages.parse(f, tools: try ToolRequest.parse(f))) != nil else { return nil }
        return MessageFixes(fixes)
    }
}
