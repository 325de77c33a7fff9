import Foundation

/// The optional up-front classifier of a cascade (`router_settings.cascades[].classifier`): a prompt whose
/// features say the lower tiers would likely fail goes straight to `routeTo` (default: the top tier), and the
/// reason is reported in `x-cascade-classifier`. Pure: the request body in, a reason or nil out.
///
/// The features are deliberately cheap heuristics over the prompt text (system and user turns for chat, the
/// prompt for completions):
/// - `min_prompt_chars`: the text is at least this many characters;
/// - `code`: a fenced block (three backticks), or at least two lines that start like source code
///   (`def`, `class`, `import`, `function`, `#include`, `SELECT`, ...) or end in `{`, `}` or `;`;
/// - `math`: LaTeX commands or inline maths (`\frac`, `\int`, `$...$`), maths symbols (∫ ∑ √ ≤ ≥ ≠),
///   or an equation with a variable next to a number and `=` (`3x + 2 = 11`).
public struct CascadeClassifier: Sendable, Equatable {
    public var minPromptChars: Int?
    public var code = false
    public var math = false
    /// The tier chosen prompts go to (nil: the cascade's last tier).
    public var routeTo: String?

    public init(minPromptChars: Int? = nil, code: Bool = false, math: Bool = false, routeTo: String? = nil) {
        self.minPromptChars = minPromptChars
        self.code = code
        self.math = math
        self.routeTo = routeTo
    }

    /// Why the request skips the lower tiers (`code`, `math`, `prompt 2400 chars >= 2000`), or nil.
    public func reason(for body: JSONValue) -> String? {
        let text = Self.promptText(body)
        if let minimum = minPromptChars, text.count >= minimum { return "prompt \(text.count) chars >= \(minimum)" }
        if code, Self.looksLikeCode(text) { return "code" }
        if math, Self.looksLikeMath(text) { return "math" }
        return nil
    }

    /// System and user text of a chat body (string content or text parts), or a completion's prompt.
    static func promptText(_ body: JSONValue) -> String {
        if case .array(let messages)? = body["messages"] {
            return messages.compactMap { message -> String? in
                guard case .string(let role)? = message["role"], ["system", "developer", "user"].contains(role) else { return nil }
                switch message["content"] {
                case .string(let s)?: return s
                case .array(let parts)?:
                    return parts.compactMap { if case .string(let t)? = $0["text"] { t } else { nil } }.joined(separator: "\n")
                default: return nil
                }
            }.joined(separator: "\n")
        }
        switch body["prompt"] {
        case .string(let s)?: return s
        case .array(let items)?: return items.compactMap { if case .string(let s) = $0 { s } else { nil } }.joined(separator: "\n")
        default: return ""
        }
    }

    static let codeStarts = ["def ", "class ", "import ", "from ", "function ", "func ", "fn ", "return ", "const ", "let ",
                             "var ", "public ", "private ", "#include", "package ", "for (", "while (", "if (", "select ",
                             "insert into", "#!/", "print(", "console.log("]

    static func looksLikeCode(_ text: String) -> Bool {
        if text.contains("```") { return true }
        var hits = 0
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            let lower = t.lowercased()
            if codeStarts.contains(where: lower.hasPrefix) || t.hasSuffix("{") || t.hasSuffix(";") || t == "}" {
                hits += 1
                if hits >= 2 { return true }
            }
        }
        return false
    }

    static let mathMarks = ["\\frac", "\\int", "\\sum", "\\sqrt", "\\lim", "\\cdot", "\\pi", "∫", "∑", "√", "≤", "≥", "≠", "∞", "∂"]

    static func looksLikeMath(_ text: String) -> Bool {
        if mathMarks.contains(where: { text.contains($0) }) { return true }
        // Inline TeX: $...$ with something between.
        if let open = text.firstIndex(of: "$"), let close = text[text.index(after: open)...].firstIndex(of: "$"),
           text.distance(from: open, to: close) > 1, !text[open..<close].contains(" ") || text[open..<close].contains("=") {
            return true
        }
        // An equation with a variable next to a number: "3x + 2 = 11", "x^2 = 4", "2y=6".
        guard text.contains("=") else { return false }
        let scalars = Array(text.unicodeScalars)
        for i in scalars.indices.dropLast() {
            let a = scalars[i], b = scalars[i + 1]
            if CharacterSet.decimalDigits.contains(a), CharacterSet.lowercaseLetters.contains(b),
               i + 2 >= scalars.count || !CharacterSet.letters.contains(scalars[i + 2]) { return true }
            if CharacterSet.letters.contains(a), b == "^" { return true }
        }
        return false
    }
}
