import Gateway
import Testing

@Suite("Message fixes")
struct MessageFixesTests {
    static func body(_ messages: [JSONValue]) -> JSONValue { ["model": "m", "messages": .array(messages)] }

    @Test func strictTemplateConversationBecomesAlternating() {
        let body = Self.body([
            ["role": "system", "content": "Be terse."],
            ["role": "user", "content": "Hi."],
            ["role": "user", "content": [["type": "text", "text": "Look:"], ["type": "image_url", "image_url": ["url": "data:,"]]]],
            ["role": "assistant", "content": ""],
            ["role": "assistant", "content": "Partial"],
        ])
        let (fixed, applied) = MessageFixes.all.apply(to: body)
        #expect(applied == ["text_only(1)", "fold_system", "merge_consecutive", "last_user"])
        guard case .array(let messages)? = fixed["messages"] else { Issue.record("no messages"); return }
        #expect(messages.count == 1)
        #expect(messages[0]["role"] == "user")
        #expect(messages[0]["content"] == "Be terse.\n\nHi.\n\nLook:")
        #expect(fixed["model"] == "m")
    }

    @Test func toolTurnsAreNeverMergedAndEmptyContentIsFilled() {
        let body = Self.body([
            ["role": "user", "content": "Weather?"],
            ["role": "assistant", "content": nil, "tool_calls": [["id": "c1", "type": "function"]]],
            ["role": "tool", "tool_call_id": "c1", "content": "sunny"],
            ["role": "tool", "tool_call_id": "c2", "content": ""],
            ["role": "user", "content": ""],
        ])
        let (fixed, applied) = MessageFixes([.mergeConsecutive, .fillEmpty]).apply(to: body)
        #expect(applied == ["fill_empty"])
        guard case .array(let messages)? = fixed["messages"] else { Issue.record("no messages"); return }
        #expect(messages.count == 5)
        #expect(messages[1]["content"] == nil || messages[1]["content"] == .null, "a tool call keeps its null content")
        #expect(messages[3]["content"] == " " && messages[4]["content"] == " ")
    }

    @Test func aConformingRequestIsUntouched() {
        let body = Self.body([["role": "user", "content": "Hi."], ["role": "assistant", "content": "Hello."],
                              ["role": "user", "content": "Bye."]])
        let (fixed, applied) = MessageFixes.all.apply(to: body)
        #expect(applied.isEmpty)
        #expect(fixed == body)
    }

    @Test func configAcceptsTrueOrANamedListAndRefusesUnknownFixes() throws {
        func parse(_ value: String) throws -> MessageFixes? {
            let yaml = """
            model_list:
              - model_name: strict
                litellm_params: {model: openai/m, api_base: "http://127.0.0.1:9/v1", message_fixes: \(value)}
            """
            return try GatewayConfig.parse(yaml: yaml).0.modelList[0].params.messageFixes
        }
        #expect(try parse("true") == .all)
        #expect(try parse("false") == nil)
        #expect(try parse("[fold_system, last_user]") == MessageFixes([.foldSystem, .lastUser]))
        #expect(throws: ConfigError.self) { try parse("[fold_everything]") }
    }
}
