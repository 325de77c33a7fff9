import Yams

/// A YAML scalar after tag resolution and `os.environ/` substitution.
enum ConfigScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)

    /// How a value is shown in a type error: strings quoted, other scalars as written.
    var shown: String {
        switch self {
        case .null: "null"
        case .bool(let b): String(b)
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .string(let s): "\"\(s)\""
        }
    }

    /// Resolves plain text the way YAML 1.1 core schema would (for values read from the environment).
    static func resolvePlain(_ text: String) -> ConfigScalar {
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case "null", "~", "": return .null
        default:
            if let i = Int(text) { return .int(i) }
            if let d = Double(text) { return .double(d) }
            return .string(text)
        }
    }
}

/// Typed access to a composed YAML tree with key paths for errors; records unknown keys as warnings.
struct ConfigReader {
    let environment: [String: String]
    var warnings: [String] = []

    /// The key/value pairs of a mapping, or a type error.
    func mapping(_ node: Node, _ path: String) throws(ConfigError) -> [(String, Node)] {
        guard case .mapping(let mapping) = node else {
            throw ConfigError("\(path): expected a mapping, got \(describe(node))")
        }
        var pairs: [(String, Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw ConfigError("\(path): mapping keys must be strings")
            }
            pairs.append((scalar.string, value))
        }
        return pairs
    }

    /// The items of a sequence, or a type error.
    func sequence(_ node: Node, _ path: String) throws(ConfigError) -> [Node] {
        guard case .sequence(let sequence) = node else {
            throw ConfigError("\(path): expected a list, got \(describe(node))")
        }
        return Array(sequence)
    }

    /// A scalar, with `os.environ/VAR` replaced by the variable's value (missing = error).
    func scalar(_ node: Node, _ path: String) throws(ConfigError) -> ConfigScalar {
        guard case .scalar(let scalar) = node else {
            throw ConfigError("\(path): expected a single value, got \(describe(node))")
        }
        let text = scalar.string
        if text.hasPrefix("os.environ/") {
            let name = String(text.dropFirst("os.environ/".count))
            guard let value = environment[name] else {
                throw ConfigError("\(path): environment variable \(name) is not set")
            }
            return .resolvePlain(value)
        }
        switch node.tag.rawValue {
        case Tag.Name.null.rawValue: return .null
        case Tag.Name.bool.rawValue: return node.bool.map(ConfigScalar.bool) ?? .string(text)
        case Tag.Name.int.rawValue: return node.int.map(ConfigScalar.int) ?? .string(text)
        case Tag.Name.float.rawValue: return node.float.map(ConfigScalar.double) ?? .string(text)
        default: return .string(text)
        }
    }

    /// A string (numbers and booleans are accepted in their written form; null is nil).
    func string(_ node: Node, _ path: String) throws(ConfigError) -> String? {
        switch try scalar(node, path) {
        case .null: return nil
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double: if case .scalar(let s) = node { return s.string } else { return nil }
        case .bool(let b): return String(b)
        }
    }

    func requiredString(_ node: Node?, _ path: String) throws(ConfigError) -> String {
        guard let node, let value = try string(node, path), !value.isEmpty else {
            throw ConfigError("\(path): required")
        }
        return value
    }

    func int(_ node: Node, _ path: String) throws(ConfigError) -> Int? {
        let value = try scalar(node, path)
        switch value {
        case .null: return nil
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        case .string(let s) where Int(s) != nil: return Int(s)   // a quoted number, e.g. port: "6380"
        default: throw ConfigError("\(path): expected an integer, got \(value.shown)")
        }
    }

    /// A finite number of magnitude at most 1e12 (no setting needs more; `.inf`, `.nan` and 1e300 are errors,
    /// so no duration or size from a config can overflow a conversion later).
    func double(_ node: Node, _ path: String) throws(ConfigError) -> Double? {
        let value = try scalar(node, path)
        let d: Double
        switch value {
        case .null: return nil
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        case .string(let s) where Double(s) != nil: d = Double(s) ?? .nan
        default: throw ConfigError("\(path): expected a number, got \(value.shown)")
        }
        guard d.isFinite, abs(d) <= 1e12 else {
            throw ConfigError("\(path): expected a finite number of magnitude at most 1e12, got \(value.shown)")
        }
        return d
    }

    /// A per-token price in USD from 0 to 1 (`model_info.*_cost_per_token`), or nil.
    func price(_ node: Node, _ path: String) throws(ConfigError) -> Double? {
        let d = try double(node, path)
        if let d, !(0...1).contains(d) {
            throw ConfigError("\(path): expected a price in USD per token from 0 to 1, got \(d)")
        }
        return d
    }

    /// An amount in USD from 0 to `USDAmount.maxConfigDollars` (budgets), exact in pico-dollars, or nil.
    func usd(_ node: Node, _ path: String) throws(ConfigError) -> USDAmount? {
        guard let d = try double(node, path) else { return nil }
        guard let amount = USDAmount(dollars: d) else {
            throw ConfigError("\(path): expected an amount in USD from 0 to \(Int(USDAmount.maxConfigDollars)), got \(d)")
        }
        return amount
    }

    /// An integer > 0 (limits and counts), or nil.
    /// A string that must be one of `choices` (or nil): "expected a, b or c, got "x"" otherwise.
    func choice(_ node: Node, _ path: String, among choices: [String]) throws(ConfigError) -> String? {
        let value = try string(node, path)
        if let value, !choices.contains(value) {
            let listed = choices.count > 1
                ? choices.dropLast().joined(separator: ", ") + " or " + choices.last! : choices.joined()
            throw ConfigError("\(path): expected \(listed), got \"\(value)\"")
        }
        return value
    }

    func positiveInt(_ node: Node, _ path: String) throws(ConfigError) -> Int? {
        let i = try int(node, path)
        if let i, i <= 0 { throw ConfigError("\(path): expected a positive integer, got \(i)") }
        return i
    }

    /// A number > 0 (sizes and durations), or nil.
    func positiveDouble(_ node: Node, _ path: String) throws(ConfigError) -> Double? {
        let d = try double(node, path)
        if let d, !(d > 0) || !d.isFinite { throw ConfigError("\(path): expected a positive number, got \(d)") }
        return d
    }

    func bool(_ node: Node, _ path: String) throws(ConfigError) -> Bool? {
        let value = try scalar(node, path)
        switch value {
        case .null: return nil
        case .bool(let b): return b
        default: throw ConfigError("\(path): expected true or false, got \(value.shown)")
        }
    }

    /// A list of strings; a single string is accepted as a one-element list.
    func stringList(_ node: Node, _ path: String) throws(ConfigError) -> [String] {
        if case .scalar = node { return try string(node, path).map { [$0] } ?? [] }
        var out: [String] = []
        for (i, item) in try sequence(node, path).enumerated() {
            if let s = try string(item, "\(path)[\(i)]") { out.append(s) }
        }
        return out
    }

    /// LiteLLM's fallback format: a list of one-key mappings `[{"group": ["fallback", ...]}]`
    /// (a plain mapping is accepted too).
    func fallbackMap(_ node: Node, _ path: String) throws(ConfigError) -> [String: [String]] {
        var out: [String: [String]] = [:]
        if case .mapping = node {
            for (group, list) in try mapping(node, path) {
                out[group] = try stringList(list, "\(path).\(group)")
            }
            return out
        }
        for (i, item) in try sequence(node, path).enumerated() {
            for (group, list) in try mapping(item, "\(path)[\(i)]") {
                out[group, default: []] += try stringList(list, "\(path)[\(i)].\(group)")
            }
        }
        return out
    }

    mutating func unknownKey(_ path: String) {
        warnings.append("unknown key \(path) (ignored)")
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let s): (try? scalar(node, "")).map(\.shown) ?? "\"\(s.string)\""
        case .alias: "an alias"
        }
    }
}
