import Engine

/// A JSON Schema `pattern` (an ECMA-262 regex subset) as a grammar for the body of a JSON string: the
/// characters it matches, written with JSON's escapes.
///
/// Supported: literals, `.`, classes `[...]` / `[^...]` with ranges, `\d \D \w \W \s \S`, escaped
/// punctuation, `\n \r \t \uHHHH`, groups `( )` and `(?: )`, `|`, quantifiers `* + ? {m} {m,} {m,n}` (a lazy
/// `?` suffix is accepted: it does not change what matches), `^` at the start and `$` at the end. A pattern
/// without `^` / `$` may have any text before / after its match, as JSON Schema says. Refused with a message:
/// backreferences, lookaround, named groups, word boundaries, possessive quantifiers, patterns over
/// `maxLength` characters or nesting groups deeper than `maxNesting`. Quantified sub-patterns that can match
/// nothing (`(a*)*`) are refused when the grammar is compiled (left recursion).
struct RegexGrammar {
    typealias E = GrammarExpression
    static let maxLength = 1000
    static let maxNesting = 32

    private let scalars: [UInt32]
    private var i = 0
    private var depth = 0

    /// The grammar of the JSON-escaped strings `pattern` matches (without the quotes).
    static func expression(_ pattern: String) throws -> E {
        let scalars = pattern.unicodeScalars.map(\.value)
        guard scalars.count <= maxLength else {
            throw RegexError("the pattern has \(scalars.count) characters; at most \(maxLength) are accepted")
        }
        var p = RegexGrammar(scalars: scalars)
        let anchoredStart = p.peek() == 0x5E
        if anchoredStart { p.i += 1 }
        let body = try p.alternation()
        var anchoredEnd = false
        if p.peek() == 0x24 {
            anchoredEnd = true
            p.i += 1
        }
        guard p.i == scalars.count else {
            throw RegexError("unexpected '\(Character(Unicode.Scalar(scalars[p.i]) ?? "?"))' at \(p.i) (only a leading '^' and a trailing '$' are supported)")
        }
        let any = E.repetition(jsonChar([], negated: true), min: 0, max: nil)
        return .sequence((anchoredStart ? [] : [any]) + [body] + (anchoredEnd ? [] : [any]))
    }

    private init(scalars: [UInt32]) {
        self.scalars = scalars
    }

    struct RegexError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    private func peek() -> UInt32? { i < scalars.count ? scalars[i] : nil }

    private mutating func alternation() throws -> E {
        var choices = [try sequence()]
        while peek() == 0x7C {   // |
            i += 1
            choices.append(try sequence())
        }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    private mutating func sequence() throws -> E {
        var parts: [E] = []
        while let c = peek(), c != 0x7C, c != 0x29 {   // | )
            if c == 0x24 && i == scalars.count - 1 && depth == 0 { break }   // trailing $
            var atom = try self.atom()
            atom = try quantifiers(atom)
            parts.append(atom)
        }
        return parts.count == 1 ? parts[0] : .sequence(parts)
    }

    private mutating func atom() throws -> E {
        let c = scalars[i]
        i += 1
        switch c {
        case 0x28:   // (
            if peek() == 0x3F {   // ?
                guard i + 1 < scalars.count, scalars[i + 1] == 0x3A else {
                    throw RegexError("lookaround and named groups are not supported")
                }
                i += 2
            }
            depth += 1
            guard depth <= Self.maxNesting else { throw RegexError("groups nest deeper than \(Self.maxNesting)") }
            let inner = try alternation()
            guard peek() == 0x29 else { throw RegexError("unbalanced '('") }
            i += 1
            depth -= 1
            return inner
        case 0x5B: return try characterClass()
        case 0x2E: return jsonChar([0x0A...0x0A, 0x0D...0x0D], negated: true)   // .
        case 0x5C:
            let (ranges, negated) = try escape(inClass: false)
            return jsonChar(ranges, negated: negated)
        case 0x5E, 0x24: throw RegexError("'^' and '$' are supported only at the start and end of the pattern")
        case 0x2A, 0x2B, 0x3F, 0x7B: throw RegexError("a quantifier with nothing to repeat at \(i - 1)")
        default: return jsonChar([c...c], negated: false)
        }
    }

    private mutating func quantifiers(_ base: E) throws -> E {
        guard let q = peek() else { return base }
        var result: E
        switch q {
        case 0x2A: i += 1; result = .repetition(base, min: 0, max: nil)
        case 0x2B: i += 1; result = .repetition(base, min: 1, max: nil)
        case 0x3F: i += 1; result = .repetition(base, min: 0, max: 1)
        case 0x7B:
            i += 1
            let lo = try number()
            var hi: Int? = lo
            if peek() == 0x2C {
                i += 1
                hi = peek() == 0x7D ? nil : try number()
            }
            guard peek() == 0x7D else { throw RegexError("malformed '{m,n}' quantifier") }
            i += 1
            if let hi, hi < lo { throw RegexError("quantifier {\(lo),\(hi)} has max < min") }
            result = .repetition(base, min: lo, max: hi)
        default: return base
        }
        if peek() == 0x3F { i += 1 }   // lazy: same language
        if let p = peek(), p == 0x2B || p == 0x2A || p == 0x7B {
            throw RegexError("possessive or stacked quantifiers are not supported")
        }
        return result
    }

    private mutating func number() throws -> Int {
        var v = 0, digits = 0
        while let c = peek(), c >= 0x30, c <= 0x39 {
            v = v * 10 + Int(c - 0x30)
            digits += 1
            i += 1
            guard v <= 1000 else { throw RegexError("quantifier bounds are limited to 1000") }
        }
        guard digits > 0 else { throw RegexError("malformed '{m,n}' quantifier") }
        return v
    }

    private mutating func characterClass() throws -> E {
        var negated = false
        if peek() == 0x5E { negated = true; i += 1 }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard let c = peek() else { throw RegexError("unterminated '['") }
            if c == 0x5D && !first { i += 1; break }
            first = false
            i += 1
            var lo: UInt32
            if c == 0x5C {
                let (set, neg) = try escape(inClass: true)
                if neg || set.count != 1 || set[0].count != 1 {
                    ranges += neg ? UTF8Ranges.normalize(set, negated: true) : set
                    continue
                }
                lo = set[0].lowerBound
            } else {
                lo = c
            }
            if peek() == 0x2D, i + 1 < scalars.count, scalars[i + 1] != 0x5D {
                i += 1
                var hi = scalars[i]
                i += 1
                if hi == 0x5C {
                    let (set, neg) = try escape(inClass: true)
                    guard !neg, set.count == 1, set[0].count == 1 else { throw RegexError("a class range ends in a set") }
                    hi = set[0].lowerBound
                }
                guard lo <= hi else { throw RegexError("reversed class range") }
                ranges.append(lo...hi)
            } else {
                ranges.append(lo...lo)
            }
        }
        return jsonChar(ranges, negated: negated)
    }

    /// The set an escape stands for (the backslash is consumed).
    private mutating func escape(inClass: Bool) throws -> ([ClosedRange<UInt32>], Bool) {
        guard let c = peek() else { throw RegexError("a trailing backslash") }
        i += 1
        let digits: [ClosedRange<UInt32>] = [0x30...0x39]
        let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
        let space: [ClosedRange<UInt32>] = [0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x2028...0x2029, 0xFEFF...0xFEFF]
        switch Character(Unicode.Scalar(c) ?? " ") {
        case "d": return (digits, false)
        case "D": return (digits, true)
        case "w": return (word, false)
        case "W": return (word, true)
        case "s": return (space, false)
        case "S": return (space, true)
        case "n": return ([0x0A...0x0A], false)
        case "r": return ([0x0D...0x0D], false)
        case "t": return ([0x09...0x09], false)
        case "u":
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let h = peek(), let d = Character(Unicode.Scalar(h) ?? " ").hexDigitValue else {
                    throw RegexError("'\\u' needs 4 hex digits")
                }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return ([v...v], false)
        case "b" where inClass: return ([0x08...0x08], false)
        default:
            if c >= 0x30 && c <= 0x39 { throw RegexError("backreferences are not supported") }
            if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) {
                throw RegexError("'\\\(Character(Unicode.Scalar(c)!))' is not supported")
            }
            return ([c...c], false)
        }
    }

    /// One character of the set, as JSON string text: plain where JSON allows it, escaped for `"`, `\` and
    /// `\n \r \t`; other control characters are left out (the grammar then allows a subset, never more).
    static func jsonChar(_ ranges: [ClosedRange<UInt32>], negated: Bool) -> E {
        let set = UTF8Ranges.normalize(ranges, negated: negated)
        func has(_ v: UInt32) -> Bool { set.contains { $0.contains(v) } }
        var plain: [ClosedRange<UInt32>] = []
        for r in set {
            var lo = max(r.lowerBound, 0x20)
            while lo <= r.upperBound {
                if lo == 0x22 || lo == 0x5C { lo += 1; continue }
                var hi = r.upperBound
                if lo < 0x22 && hi >= 0x22 { hi = 0x21 } else if lo < 0x5C && hi >= 0x5C { hi = 0x5B }
                plain.append(lo...hi)
                lo = hi + 1
            }
        }
        var choices: [E] = []
        if !plain.isEmpty { choices.append(.characterClass(ranges: plain, negated: false)) }
        for (v, esc) in [(UInt32(0x22), "\\\""), (0x5C, "\\\\"), (0x0A, "\\n"), (0x0D, "\\r"), (0x09, "\\t")] where has(v) {
            choices.append(.literal(Array(esc.utf8)))
        }
        if choices.isEmpty { return .characterClass(ranges: [], negated: false) }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    private func jsonChar(_ ranges: [ClosedRange<UInt32>], negated: Bool) -> E { Self.jsonChar(ranges, negated: negated) }
}
