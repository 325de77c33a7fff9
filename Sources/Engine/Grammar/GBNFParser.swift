// Reference: llama.cpp grammars/README.md (GBNF) and src/llama-grammar.cpp `llama_grammar_parser`.

/// Parses GBNF text (llama.cpp's grammar format) into named rules.
///
/// Supported: `name ::= ...` rules (names of letters, digits, `-`, `_`), alternation `|`, sequences,
/// groups `( )`, `*` `+` `?` `{m}` `{m,}` `{m,n}`, `"literals"` and `[classes]` / `[^classes]` with the escapes
/// `\n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH`, `.` (any character), and `#` comments. A rule ends where the
/// next `name ::=` starts, so rules may span lines (llama.cpp needs parentheses for that; both read the same).
/// Every bound in `GrammarLimits` that parsing can see is checked here.
public struct GBNFParser {
    private let bytes: [UInt8]
    private var i = 0
    private let limits: GrammarLimits
    private var depth = 0

    /// Parses `text`; throws `GrammarError` (syntax errors name the line).
    public static func parse(_ text: String, limits: GrammarLimits = .standard) throws -> GrammarRules {
        guard text.utf8.count <= limits.maxTextBytes else {
            throw GrammarError(.tooLarge, "the grammar is \(text.utf8.count) bytes; at most \(limits.maxTextBytes) are accepted")
        }
        var p = GBNFParser(bytes: Array(text.utf8), limits: limits)
        return try p.parseRules()
    }

    private init(bytes: [UInt8], limits: GrammarLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    private mutating func parseRules() throws -> GrammarRules {
        var rules = GrammarRules()
        var seen: Set<String> = []
        skipSpace(newlines: true)
        while i < bytes.count {
            let name = try parseName()
            skipSpace(newlines: false)
            guard consume("::=") else { throw error("expected '::=' after rule name '\(name)'") }
            guard seen.insert(name).inserted else { throw error("rule '\(name)' is defined twice") }
            skipSpace(newlines: true)
            rules.rules.append((name, try parseAlternation()))
            skipSpace(newlines: true)
        }
        guard !rules.rules.isEmpty else { throw GrammarError(.syntax, "the grammar has no rules") }
        return rules
    }

    private mutating func parseAlternation() throws -> GrammarExpression {
        var choices = [try parseSequence()]
        while peek() == UInt8(ascii: "|") {
            i += 1
            skipSpace(newlines: true)
            choices.append(try parseSequence())
        }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    private mutating func parseSequence() throws -> GrammarExpression {
        var parts: [GrammarExpression] = []
        while true {
            skipSpace(newlines: depth > 0)
            // At the top level a newline may separate the items of one rule; the rule ends at the next `name ::=`.
            if depth == 0, let b = peek(), b == 10 || b == 13 || b == UInt8(ascii: "#") {
                skipSpace(newlines: true)
                if i >= bytes.count || startsRule() { break }
            }
            guard let b = peek(), b != UInt8(ascii: "|"), b != UInt8(ascii: ")") else { break }
            var item = try parsePrimary()
            item = try parseQuantifiers(item)
            parts.append(item)
        }
        return parts.count == 1 ? parts[0] : .sequence(parts)
    }

    private mutating func parsePrimary() throws -> GrammarExpression {
        guard let b = peek() else { throw error("unexpected end of grammar") }
        switch b {
        case UInt8(ascii: "\""):
            i += 1
            var out: [UInt8] = []
            while true {
                guard let c = peek() else { throw error("unterminated string literal") }
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c == 10 { throw error("newline in a string literal") }
                appendUTF8(try parseChar(), to: &out)
            }
            return .literal(out)
        case UInt8(ascii: "["):
            i += 1
            var negated = false
            if peek() == UInt8(ascii: "^") { negated = true; i += 1 }
            var ranges: [ClosedRange<UInt32>] = []
            while true {
                guard let c = peek() else { throw error("unterminated character class") }
                if c == UInt8(ascii: "]") { i += 1; break }
                let lo = try parseChar()
                var hi = lo
                if peek() == UInt8(ascii: "-"), i + 1 < bytes.count, bytes[i + 1] != UInt8(ascii: "]") {
                    i += 1
                    hi = try parseChar()
                }
                guard lo <= hi else { throw error("character range is reversed") }
                ranges.append(lo...hi)
            }
            return .characterClass(ranges: ranges, negated: negated)
        case UInt8(ascii: "("):
            i += 1
            depth += 1
            guard depth <= limits.maxNesting else {
                throw GrammarError(.tooLarge, "the grammar nests parentheses deeper than \(limits.maxNesting)")
            }
            skipSpace(newlines: true)
            let inner = try parseAlternation()
            skipSpace(newlines: true)
            guard peek() == UInt8(ascii: ")") else { throw error("expected ')'") }
            i += 1
            depth -= 1
            return inner
        case UInt8(ascii: "."):
            i += 1
            return .characterClass(ranges: [], negated: true)
        default:
            guard isNameByte(b) else { throw error("unexpected character '\(Character(UnicodeScalar(b)))'") }
            return .rule(try parseName())
        }
    }

    private mutating func parseQuantifiers(_ base: GrammarExpression) throws -> GrammarExpression {
        var item = base
        while let q = peek() {
            switch q {
            case UInt8(ascii: "*"): i += 1; item = .repetition(item, min: 0, max: nil)
            case UInt8(ascii: "+"): i += 1; item = .repetition(item, min: 1, max: nil)
            case UInt8(ascii: "?"): i += 1; item = .repetition(item, min: 0, max: 1)
            case UInt8(ascii: "{"):
                i += 1
                skipSpace(newlines: false)
                let lo = try parseInt()
                skipSpace(newlines: false)
                var hi: Int? = lo
                if peek() == UInt8(ascii: ",") {
                    i += 1
                    skipSpace(newlines: false)
                    hi = peek().map { $0 >= 48 && $0 <= 57 } == true ? try parseInt() : nil
                    skipSpace(newlines: false)
                }
                guard peek() == UInt8(ascii: "}") else { throw error("expected '}'") }
                i += 1
                if let hi, hi < lo { throw error("repetition {\(lo),\(hi)} has max < min") }
                item = .repetition(item, min: lo, max: hi)
            default: return item
            }
        }
        return item
    }

    private mutating func parseInt() throws -> Int {
        var value = 0
        var digits = 0
        while let b = peek(), b >= 48, b <= 57 {
            value = value * 10 + Int(b - 48)
            digits += 1
            i += 1
            guard value <= limits.maxRepetition else {
                throw GrammarError(.tooLarge, "repetition bounds are limited to \(limits.maxRepetition)")
            }
        }
        guard digits > 0 else { throw error("expected a number") }
        return value
    }

    /// One character of a literal or class, escapes decoded, as a code point.
    private mutating func parseChar() throws -> UInt32 {
        guard let b = peek() else { throw error("unexpected end of grammar") }
        if b == UInt8(ascii: "\\") {
            i += 1
            guard let e = peek() else { throw error("unterminated escape") }
            i += 1
            switch e {
            case UInt8(ascii: "n"): return 10
            case UInt8(ascii: "r"): return 13
            case UInt8(ascii: "t"): return 9
            case UInt8(ascii: "x"): return try parseHex(2)
            case UInt8(ascii: "u"): return try parseHex(4)
            case UInt8(ascii: "U"): return try parseHex(8)
            case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "-"),
                 UInt8(ascii: "/"), UInt8(ascii: "^"):
                return UInt32(e)
            default: throw error("unknown escape '\\\(Character(UnicodeScalar(e)))'")
            }
        }
        // A UTF-8 sequence: decode one scalar.
        let length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
        guard i + length <= bytes.count else { throw error("invalid UTF-8") }
        var it = bytes[i..<(i + length)].makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let s) = decoder.decode(&it) else { throw error("invalid UTF-8") }
        i += length
        return s.value
    }

    private mutating func parseHex(_ count: Int) throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<count {
            guard let b = peek(), let d = hexValue(b) else { throw error("expected \(count) hex digits") }
            v = v << 4 | d
            i += 1
        }
        guard v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) else { throw error("\(v) is not a Unicode scalar value") }
        return v
    }

    private func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 48...57: UInt32(b - 48)
        case 97...102: UInt32(b - 87)
        case 65...70: UInt32(b - 55)
        default: nil
        }
    }

    private mutating func parseName() throws -> String {
        let start = i
        while let b = peek(), isNameByte(b) { i += 1 }
        guard i > start else { throw error("expected a rule name") }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private func isNameByte(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == UInt8(ascii: "-")
            || b == UInt8(ascii: "_")
    }

    /// Whether `name ::=` starts at the cursor.
    private func startsRule() -> Bool {
        var j = i
        while j < bytes.count, isNameByte(bytes[j]) { j += 1 }
        guard j > i else { return false }
        while j < bytes.count, bytes[j] == 32 || bytes[j] == 9 { j += 1 }
        return j + 3 <= bytes.count && bytes[j] == 58 && bytes[j + 1] == 58 && bytes[j + 2] == 61
    }

    private mutating func skipSpace(newlines: Bool) {
        while let b = peek() {
            if b == 32 || b == 9 {
                i += 1
            } else if newlines && (b == 10 || b == 13) {
                i += 1
            } else if newlines && b == UInt8(ascii: "#") {
                while let c = peek(), c != 10 { i += 1 }
            } else {
                break
            }
        }
    }

    private func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func consume(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard i + u.count <= bytes.count, Array(bytes[i..<(i + u.count)]) == u else { return false }
        i += u.count
        return true
    }

    private func error(_ message: String) -> GrammarError {
        let line = bytes[..<min(i, bytes.count)].reduce(1) { $1 == 10 ? $0 + 1 : $0 }
        return GrammarError(.syntax, "grammar line \(line): \(message)")
    }

    private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        out.append(contentsOf: UTF8Ranges.encode(scalar))
    }
}
