import Engine
import Gateway

/// The grammar that makes the model's answer a valid tool call (or text, with `auto`): each function's
/// block with arguments constrained by its `parameters` schema, one block or (`parallel_tool_calls`) up to one
/// per offered function.
enum ToolCallGrammar {
    typealias E = GrammarExpression
    typealias P = JSONGrammarPrimitives

    /// The rules for `request` (nil with `tool_choice: none`: the answer is free text).
    static func rules(for request: ToolRequest) throws -> GrammarRules? {
        let functions: [ToolFunction]
        switch request.choice {
        case .none: return nil
        case .auto, .required: functions = request.tools
        case .function(let name): functions = request.tools.filter { $0.name == name }
        }
        var builder = JSONSchemaGrammar()
        var calls: [E] = []
        for (k, fn) in functions.enumerated() {
            let args = try builder.add(fn.parameters, name: "args-\(k)", path: "tools[\(k)].function.parameters")
            calls.append(.sequence([P.lit(ToolCallFormat.open + #"{"name": "# + JSONValue.string(fn.name).serialized() + #", "arguments": "#),
                                    args, P.lit("}" + ToolCallFormat.close)]))
        }
        let call = builder.define("call", .alternation(calls))
        // NOTE: at most one call per offered function in one answer (one with a named function, or without
        // `parallel_tool_calls`): small models otherwise repeat the same call until `max_tokens`.
        let maxCalls = request.parallel ? min(functions.count, 16) : 1
        let blocks: E = .sequence([call, .repetition(.sequence([P.lit("\n"), call]), min: 0, max: maxCalls - 1)])
        var rules = builder.rules
        if request.choice == .auto {
            // Text must not start with '<' (so a call is never half text), then anything.
            let text = E.sequence([.characterClass(ranges: [0x3C...0x3C], negated: true),
                                   .repetition(.characterClass(ranges: [], negated: true), min: 0, max: nil)])
            rules.append(("root", .alternation([blocks, text])))
        } else {
            rules.append(("root", blocks))
        }
        return GrammarRules(rules)
    }
}
