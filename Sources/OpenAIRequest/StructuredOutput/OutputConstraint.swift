import Engine
import Gateway

/// What a request asks its output to be: `response_format` (`json_object`, `json_schema`), or llama.cpp's
/// `grammar` (GBNF text) / `json_schema` (a schema) fields. At most one of them may be given.
///
/// `strict` in `json_schema` is accepted either way: the output is constrained to the schema in both cases.
public struct OutputConstraint: Sendable {
    /// The request field it came from (errors name it).
    public let param: String
    /// Identifies the grammar: the field and its canonical JSON text (the compiled-grammar cache key).
    public let cacheKey: String
    private let source: Source

    enum Source: Sendable {
        case gbnf(String)
        case schema(JSONValue)
        case anyObject
        case tools(ToolRequest)
    }

    /// The grammar of tool calls for `request` (`ToolCallGrammar`); errors name `tools`.
    public static func tools(_ request: ToolRequest) -> OutputConstraint {
        let tools: [JSONValue] = request.tools.map { t in
            ["name": .string(t.name), "parameters": t.parameters]
        }
        let choice: String
        switch request.choice {
        case .none: choice = "none"
        case .auto: choice = "auto"
        case .required: choice = "required"
        case .function(let name): choice = "function:" + name
        }
        return OutputConstraint(param: "tools", cacheKey: "tools:\(choice):\(request.parallel):" + JSONValue.array(tools).serialized(),
                                source: .tools(request))
    }

    /// The constraint of `f`, nil when it asks for none (no field, or `response_format: {"type": "text"}`).
    public static func parse(_ f: RequestFields) throws -> OutputConstraint? {
        var found: [OutputConstraint] = []
        if let rf = f.value("response_format") {
            guard case .object = rf else { throw f.typeError("response_format", "an object", rf) }
            switch rf["type"] {
            case .string("text")?: break
            case .string("json_object")?:
                found.append(OutputConstraint(param: "response_format", cacheKey: "json_object", source: .anyObject))
            case .string("json_schema")?:
                guard let js = rf["json_schema"], case .object = js else {
                    throw OpenAIError.badParameter("response_format", "'response_format.json_schema' must be an object with a 'schema'.")
                }
                switch js["strict"] {
                case nil, .null?, .bool?: break
                default: throw OpenAIError.badParameter("response_format", "'response_format.json_schema.strict' must be a boolean.")
                }
                let schema = js["schema"] ?? .object([])
                found.append(OutputConstraint(param: "response_format", cacheKey: "schema:" + schema.serialized(),
                                              source: .schema(schema)))
            default:
                throw OpenAIError.badParameter("response_format",
                    "'response_format.type' must be 'text', 'json_object' or 'json_schema'.")
            }
        }
        if let g = try f.string("grammar") {
            found.append(OutputConstraint(param: "grammar", cacheKey: "gbnf:" + g, source: .gbnf(g)))
        }
        if let s = f.value("json_schema") {
            found.append(OutputConstraint(param: "json_schema", cacheKey: "schema:" + s.serialized(), source: .schema(s)))
        }
        guard found.count <= 1 else {
            throw OpenAIError.badParameter(found[1].param,
                "Only one of 'response_format' (json), 'grammar' and 'json_schema' may be given.")
        }
        return found.first
    }

    /// Compiles the grammar (throws a 400 naming `param` for anything the compiler or the schema converter
    /// refuses).
    public func compile(limits: GrammarLimits = .standard) throws -> Grammar {
        do {
            let grammar: Grammar
            switch source {
            case .gbnf(let text): grammar = try Grammar.compile(gbnf: text, limits: limits)
            case .schema(let schema): grammar = try GrammarCompiler.compile(JSONSchemaGrammar.rules(for: schema), limits: limits)
            case .anyObject: grammar = try GrammarCompiler.compile(JSONSchemaGrammar.anyObject(), limits: limits)
            case .tools(let request):
                guard let rules = try ToolCallGrammar.rules(for: request) else {
                    throw GrammarError(.unsupported, "tool_choice 'none' has no grammar")
                }
                grammar = try GrammarCompiler.compile(rules, limits: limits)
            }
            _ = try GrammarMatcher(grammar)   // the start state must fit the stack bounds too
            return grammar
        } catch let e as GrammarError {
            throw OpenAIError.badParameter(param, "Invalid \(what): \(e.message).")
        } catch let e as JSONSchemaGrammar.SchemaError {
            throw OpenAIError.badParameter(param, "Invalid JSON schema: \(e.message).")
        }
    }

    private var what: String {
        switch source {
        case .gbnf: "grammar"
        case .schema, .anyObject: "JSON schema"
        case .tools: "tool parameters"
        }
    }
}
