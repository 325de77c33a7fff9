// Reference: llama.cpp common/json-schema-to-grammar.cpp (`SchemaConverter`), OpenAI's structured-output
// schema subset (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas).

import Engine
import Gateway

/// Converts a JSON Schema into grammar rules whose every sentence is JSON that validates against the schema.
///
/// Supported keywords: `type` (one or a list), `properties`, `required`, `additionalProperties` (false,
/// true or a schema), `enum`, `const`, `items`, `prefixItems`, `minItems` / `maxItems`, `minLength` /
/// `maxLength`, `pattern` (see `RegexGrammar`), `format` (date, time, date-time, uuid), `minimum` / `maximum` /
/// `exclusiveMinimum` / `exclusiveMaximum` on integers and (whole-number bounds) numbers, `anyOf` / `oneOf` (as alternatives: `oneOf`'s
/// exclusivity is not enforced), local `$ref` (`#`, `#/$defs/...`, `#/definitions/...`, recursion allowed),
/// `$defs` / `definitions`, `nullable`. Annotations (`title`, `description`, `default`, `examples`, ...) are
/// ignored. Anything else is refused naming the keyword and where it is, as are schemas over the size and
/// nesting bounds.
///
/// NOTE: objects are written with their properties in schema order, and without properties the schema does
/// not name unless `additionalProperties` allows them; both are valid JSON for the schema, and a fixed order
/// keeps the grammar linear in the number of properties.
struct JSONSchemaGrammar {
    typealias E = GrammarExpression
    typealias P = JSONGrammarPrimitives

    static let maxDepth = 32
    static let maxNodes = 5000
    static let maxProperties = 256
    static let maxEnumValues = 1024
    static let maxItems = 1000
    static let maxStringLength = 4096

    static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "$defs", "definitions",
    ]
    static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "enum", "const", "items", "prefixItems",
        "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "$ref", "nullable",
    ]

    struct SchemaError: Error {
        let message: String
    }

    /// The schema `$ref`s resolve in (the one being added).
    private var document: JSONValue = .null
    /// The rules so far: the free-form JSON rules, then one or more schemas' rules.
    private(set) var rules: [(name: String, expression: E)] = P.freeFormRules()
    private var used: Set<String>
    private var refRules: [String: String] = [:]
    private var nodes = 0

    /// An empty builder (free-form JSON rules only); `add` schemas, then append a `root`.
    init() {
        used = Set(rules.map(\.name))
    }

    /// The rules of `schema` (its root is `root`).
    static func rules(for schema: JSONValue) throws -> GrammarRules {
        var c = JSONSchemaGrammar()
        let root = try c.add(schema, name: "root-value", path: "#")
        c.rules.append(("root", root))
        return GrammarRules(c.rules)
    }

    /// Adds the rules of one schema document (its `$ref`s resolve inside it); returns its expression.
    /// `path` names the schema in errors.
    mutating func add(_ schema: JSONValue, name: String, path: String) throws -> E {
        document = schema
        refRules = [:]
        return try visit(schema, name: name, path: path, depth: 0)
    }

    /// Free-form JSON whose top level is an object (`response_format: json_object`).
    static func anyObject() -> GrammarRules {
        GrammarRules(P.freeFormRules() + [("root", .rule("object"))])
    }

    /// Adds a rule named after `base` (made unique); returns a reference to it.
    mutating func define(_ base: String, _ e: E) -> E {
        let name = fresh(base)
        rules.append((name, e))
        return .rule(name)
    }

    private mutating func fresh(_ base: String) -> String {
        let clean = String(base.map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(40))
        var name = clean.isEmpty ? "r" : clean
        var k = 1
        while used.contains(name) {
            k += 1
            name = "\(clean)-\(k)"
        }
        used.insert(name)
        return name
    }

    private mutating func visit(_ schema: JSONValue, name: String, path: String, depth: Int) throws -> E {
        nodes += 1
        guard nodes <= Self.maxNodes else { throw SchemaError(message: "the schema has more than \(Self.maxNodes) subschemas") }
        guard depth <= Self.maxDepth else { throw SchemaError(message: "the schema nests deeper than \(Self.maxDepth) levels (at \(path))") }
        switch schema {
        case .bool(true): return .rule("value")
        case .bool(false): throw SchemaError(message: "the schema at \(path) is `false`: nothing can match it")
        case .object(let pairs):
            let unknown = pairs.map(\.0).filter { !Self.keywords.contains($0) && !Self.annotations.contains($0) }
            if !unknown.isEmpty {
                throw SchemaError(message: "unsupported JSON Schema keyword\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) at \(path)")
            }
        default:
            throw SchemaError(message: "the schema at \(path) must be an object or a boolean, got \(schema.typeName)")
        }
        if case .bool(true)? = schema["nullable"] {
            var rest = schema
            if case .object(let pairs) = schema { rest = .object(pairs.filter { $0.0 != "nullable" }) }
            let inner = try visit(rest, name: name, path: path, depth: depth)
            return .alternation([inner, .sequence([P.lit("null"), .rule("space")])])
        }
        if let ref = schema["$ref"] {
            guard case .string(let target) = ref else { throw SchemaError(message: "'$ref' at \(path) must be a string") }
            return try resolve(target, path: path, depth: depth)
        }
        if let c = schema["const"] { return .sequence([P.lit(c.serialized()), .rule("space")]) }
        if let e = schema["enum"] {
            guard case .array(let values) = e, !values.isEmpty, values.count <= Self.maxEnumValues else {
                throw SchemaError(message: "'enum' at \(path) must be a non-empty array of at most \(Self.maxEnumValues) values")
            }
            return .sequence([.alternation(values.map { P.lit($0.serialized()) }), .rule("space")])
        }
        for key in ["anyOf", "oneOf"] {
            if let v = schema[key] {
                guard case .array(let subs) = v, !subs.isEmpty else {
                    throw SchemaError(message: "'\(key)' at \(path) must be a non-empty array")
                }
                var choices: [E] = []
                for (k, s) in subs.enumerated() {
                    choices.append(try visit(s, name: "\(name)-\(k)", path: "\(path)/\(key)/\(k)", depth: depth + 1))
                }
                return define(name, .alternation(choices))
            }
        }
        let types: [String]
        switch schema["type"] {
        case nil:
            if schema["properties"] != nil || schema["additionalProperties"] != nil { types = ["object"] }
            else if schema["items"] != nil || schema["prefixItems"] != nil { types = ["array"] }
            else if schema["pattern"] != nil || schema["minLength"] != nil || schema["maxLength"] != nil || schema["format"] != nil { types = ["string"] }
            else { return .rule("value") }
        case .string(let t)?: types = [t]
        case .array(let ts)?:
            types = try ts.map {
                guard case .string(let t) = $0 else { throw SchemaError(message: "'type' at \(path) must list strings") }
                return t
            }
        default: throw SchemaError(message: "'type' at \(path) must be a string or an array of strings")
        }
        var choices: [E] = []
        for t in types { choices.append(try visitType(t, schema, name: name, path: path, depth: depth)) }
        guard !choices.isEmpty else { throw SchemaError(message: "'type' at \(path) is empty") }
        return define(name, choices.count == 1 ? choices[0] : .alternation(choices))
    }

    private mutating func resolve(_ target: String, path: String, depth: Int) throws -> E {
        if let rule = refRules[target] { return .rule(rule) }
        var node = document
        if target != "#" {
            guard target.hasPrefix("#/") else {
                throw SchemaError(message: "'$ref' \(target) at \(path) is not local: only '#/...' references are supported")
            }
            for raw in target.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
                let key = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                guard let next = node[String(key)] else {
                    throw SchemaError(message: "'$ref' \(target) at \(path) does not resolve")
                }
                node = next
            }
        }
        let rule = fresh("ref-" + (target.split(separator: "/").last.map(String.init) ?? "root"))
        refRules[target] = rule
        // A placeholder keeps the order stable; the body is filled in after the visit (which may refer back).
        let slot = rules.count
        rules.append((rule, .empty))
        rules[slot].expression = try visit(node, name: rule + "-body", path: target, depth: depth + 1)
        return .rule(rule)
    }

    private mutating func visitType(_ type: String, _ schema: JSONValue, name: String, path: String, depth: Int) throws -> E {
        switch type {
        case "string": return try stringSchema(schema, path: path)
        case "integer": return .sequence([try integerSchema(schema, path: path), .rule("space")])
        case "number": return try numberSchema(schema, path: path)
        case "boolean": return .sequence([.alternation([P.lit("true"), P.lit("false")]), .rule("space")])
        case "null": return .sequence([P.lit("null"), .rule("space")])
        case "object": return try objectSchema(schema, name: name, path: path, depth: depth)
        case "array": return try arraySchema(schema, name: name, path: path, depth: depth)
        default: throw SchemaError(message: "unknown type '\(type)' at \(path)")
        }
    }

    private func count(_ schema: JSONValue, _ key: String, path: String, limit: Int) throws -> Int? {
        guard let v = schema[key] else { return nil }
        let n: Int
        switch v {
        case .int(let i): n = i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: n = Int(d)
        default: throw SchemaError(message: "'\(key)' at \(path) must be a non-negative integer")
        }
        guard n >= 0 else { throw SchemaError(message: "'\(key)' at \(path) must be a non-negative integer") }
        guard n <= limit else { throw SchemaError(message: "'\(key)' at \(path) is \(n); at most \(limit) is supported") }
        return n
    }

    private func stringSchema(_ schema: JSONValue, path: String) throws -> E {
        let quote = P.lit("\"")
        if let p = schema["pattern"] {
            guard case .string(let pattern) = p else { throw SchemaError(message: "'pattern' at \(path) must be a string") }
            if schema["minLength"] != nil || schema["maxLength"] != nil || schema["format"] != nil {
                throw SchemaError(message: "'pattern' at \(path) cannot be combined with 'minLength', 'maxLength' or 'format'")
            }
            do {
                return .sequence([quote, try RegexGrammar.expression(pattern), quote, .rule("space")])
            } catch let e as RegexGrammar.RegexError {
                throw SchemaError(message: "'pattern' at \(path): \(e.message)")
            }
        }
        if let f = schema["format"] {
            guard case .string(let format) = f, let body = P.format(format) else {
                throw SchemaError(message: "'format' \(f.serialized()) at \(path) is not supported (date, time, date-time, uuid are)")
            }
            if schema["minLength"] != nil || schema["maxLength"] != nil {
                throw SchemaError(message: "'format' at \(path) cannot be combined with 'minLength' or 'maxLength'")
            }
            return .sequence([quote, body, quote, .rule("space")])
        }
        let lo = try count(schema, "minLength", path: path, limit: Self.maxStringLength) ?? 0
        let hi = try count(schema, "maxLength", path: path, limit: Self.maxStringLength)
        if let hi, hi < lo { throw SchemaError(message: "'maxLength' < 'minLength' at \(path)") }
        if lo == 0 && hi == nil { return .rule("string") }
        return .sequence([quote, .repetition(.rule("char"), min: lo, max: hi), quote, .rule("space")])
    }

    private func integerSchema(_ schema: JSONValue, path: String) throws -> E {
        func bound(_ key: String) throws -> Double? {
            guard let v = schema[key] else { return nil }
            switch v {
            case .int(let i): return Double(i)
            case .double(let d) where d.isFinite: return d
            default: throw SchemaError(message: "'\(key)' at \(path) must be a number")
            }
        }
        let limit = 1e18
        var lo: Double? = try bound("minimum").map { $0.rounded(.up) }
        if let x = try bound("exclusiveMinimum") { lo = max(lo ?? -.infinity, x.rounded(.down) + 1) }
        var hi: Double? = try bound("maximum").map { $0.rounded(.down) }
        if let x = try bound("exclusiveMaximum") { hi = min(hi ?? .infinity, x.rounded(.up) - 1) }
        for b in [lo, hi].compactMap({ $0 }) where abs(b) >= limit {
            throw SchemaError(message: "integer bounds at \(path) must be below 1e18 in magnitude")
        }
        if lo == nil && hi == nil { return P.integer }
        guard let e = P.integerRange(lo: lo.map { Int($0) }, hi: hi.map { Int($0) }) else {
            throw SchemaError(message: "the integer bounds at \(path) leave no value")
        }
        return e
    }

    /// A `number`, with `minimum` / `maximum` / `exclusiveMinimum` / `exclusiveMaximum` when each bound is a
    /// whole number below 1e15 in magnitude (then the value is written without an exponent, compiled exactly by
    /// `JSONGrammarPrimitives.numberRange`); other bounds are refused.
    private func numberSchema(_ schema: JSONValue, path: String) throws -> E {
        let keys = ["minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"]
        guard keys.contains(where: { schema[$0] != nil }) else { return .rule("number") }
        func bound(_ key: String) throws -> Int? {
            guard let v = schema[key] else { return nil }
            let d: Double
            switch v {
            case .int(let i): d = Double(i)
            case .double(let x) where x.isFinite: d = x
            default: throw SchemaError(message: "'\(key)' at \(path) must be a number")
            }
            guard d.rounded() == d, abs(d) < 1e15 else {
                throw SchemaError(message: "'\(key)' at \(path): bounds on 'number' must be whole numbers below 1e15 in magnitude (got \(v.serialized()))")
            }
            return Int(d)
        }
        let min = try bound("minimum"), xmin = try bound("exclusiveMinimum")
        let max = try bound("maximum"), xmax = try bound("exclusiveMaximum")
        // The tighter of each pair (at equal values the exclusive one).
        let lo: (Int, Bool)? = switch (min, xmin) {
        case (let a?, let b?): b >= a ? (b, true) : (a, false)
        case (let a?, nil): (a, false)
        case (nil, let b?): (b, true)
        case (nil, nil): nil
        }
        let hi: (Int, Bool)? = switch (max, xmax) {
        case (let a?, let b?): b <= a ? (b, true) : (a, false)
        case (let a?, nil): (a, false)
        case (nil, let b?): (b, true)
        case (nil, nil): nil
        }
        guard let e = P.numberRange(lo: lo, hi: hi) else {
            throw SchemaError(message: "the number bounds at \(path) leave no value")
        }
        return .sequence([e, .rule("space")])
    }

    private mutating func objectSchema(_ schema: JSONValue, name: String, path: String, depth: Int) throws -> E {
        var props: [(String, JSONValue)] = []
        if let p = schema["properties"] {
            guard case .object(let pairs) = p else { throw SchemaError(message: "'properties' at \(path) must be an object") }
            props = pairs
        }
        guard props.count <= Self.maxProperties else {
            throw SchemaError(message: "an object at \(path) has \(props.count) properties; at most \(Self.maxProperties) are supported")
        }
        var required: Set<String> = []
        if let r = schema["required"] {
            guard case .array(let items) = r else { throw SchemaError(message: "'required' at \(path) must be an array") }
            for item in items {
                guard case .string(let s) = item else { throw SchemaError(message: "'required' at \(path) must list strings") }
                guard props.contains(where: { $0.0 == s }) else {
                    throw SchemaError(message: "'required' at \(path) names '\(s)', which 'properties' does not define")
                }
                required.insert(s)
            }
        }
        var extra: E? = nil
        switch schema["additionalProperties"] {
        case nil, .bool(false)?: extra = nil
        case .bool(true)?: extra = .rule("value")
        case let s?: extra = try visit(s, name: name + "-additional", path: path + "/additionalProperties", depth: depth + 1)
        }
        // kv_i ::= "\"name\"" space ":" space value_i
        var kvs: [E] = []
        for (key, sub) in props {
            let value = try visit(sub, name: "\(name)-\(key)", path: "\(path)/properties/\(key)", depth: depth + 1)
            kvs.append(.sequence([P.lit(JSONValue.string(key).serialized()), .rule("space"), P.lit(":"), .rule("space"), value]))
        }
        let comma = E.sequence([P.lit(","), .rule("space")])
        let extraKV = extra.map { E.sequence([.rule("string"), P.lit(":"), .rule("space"), $0]) }
        // tail_j: the properties after j, each preceded by a comma (optional ones optional), then extras.
        var tail: E = extraKV.map { .repetition(.sequence([comma, $0]), min: 0, max: nil) } ?? .empty
        var tails = [E](repeating: .empty, count: kvs.count + 1)
        tails[kvs.count] = tail
        for j in stride(from: kvs.count - 1, through: 0, by: -1) {
            let item = E.sequence([comma, kvs[j]])
            let here: E = required.contains(props[j].0) ? item : .repetition(item, min: 0, max: 1)
            tail = define("\(name)-tail", .sequence([here, tail]))
            tails[j] = tail
        }
        // The first property written is some k with every property before it optional.
        var firsts: [E] = []
        var allOptional = true
        for k in 0..<kvs.count {
            firsts.append(.sequence([kvs[k], tails[k + 1]]))
            if required.contains(props[k].0) {
                allOptional = false
                break
            }
        }
        if allOptional {
            if let extraKV { firsts.append(.sequence([extraKV, tails[kvs.count]])) }
            firsts.append(.empty)
        }
        return .sequence([P.lit("{"), .rule("space"), firsts.count == 1 ? firsts[0] : .alternation(firsts), P.lit("}"), .rule("space")])
    }

    private mutating func arraySchema(_ schema: JSONValue, name: String, path: String, depth: Int) throws -> E {
        var prefix: [E] = []
        if let p = schema["prefixItems"] {
            guard case .array(let subs) = p else { throw SchemaError(message: "'prefixItems' at \(path) must be an array") }
            for (k, s) in subs.enumerated() {
                prefix.append(try visit(s, name: "\(name)-\(k)", path: "\(path)/prefixItems/\(k)", depth: depth + 1))
            }
        }
        let minItems = try count(schema, "minItems", path: path, limit: Self.maxItems) ?? 0
        let maxItems = try count(schema, "maxItems", path: path, limit: Self.maxItems)
        if let maxItems, maxItems < minItems { throw SchemaError(message: "'maxItems' < 'minItems' at \(path)") }
        var item: E? = .rule("value")
        switch schema["items"] {
        case nil: item = prefix.isEmpty ? .rule("value") : nil
        case .bool(false)?: item = nil
        case let s?: item = try visit(s, name: name + "-item", path: path + "/items", depth: depth + 1)
        }
        let comma = E.sequence([P.lit(","), .rule("space")])
        let usedPrefix = maxItems.map { min($0, prefix.count) } ?? prefix.count
        if minItems > usedPrefix && item == nil {
            throw SchemaError(message: "'minItems' at \(path) needs more items than 'prefixItems' allows")
        }
        var rest: E = .empty
        if let item, maxItems.map({ $0 > usedPrefix }) ?? true {
            let lo = max(minItems - usedPrefix, 0)
            let hi = maxItems.map { $0 - usedPrefix }
            if usedPrefix == 0 {
                let more = E.repetition(.sequence([comma, item]), min: max(lo - 1, 0), max: hi.map { $0 - 1 })
                let list = E.sequence([item, more])
                rest = lo == 0 ? .repetition(list, min: 0, max: 1) : list
            } else {
                rest = .repetition(.sequence([comma, item]), min: lo, max: hi)
            }
        }
        // Prefix items in order, the first `minItems` required, each later one only after the one before it.
        for k in stride(from: usedPrefix - 1, through: 0, by: -1) {
            let here = E.sequence([k == 0 ? prefix[k] : .sequence([comma, prefix[k]]), rest])
            rest = k < minItems ? here : .repetition(here, min: 0, max: 1)
        }
        let body = [rest]
        return .sequence([P.lit("["), .rule("space")] + body + [P.lit("]"), .rule("space")])
    }
}
