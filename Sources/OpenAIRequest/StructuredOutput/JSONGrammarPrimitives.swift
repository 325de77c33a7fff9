// Reference: llama.cpp common/json-schema-to-grammar.cpp (PRIMITIVE_RULES, STRING_FORMAT_RULES,
// `_generate_min_max_int`) and grammars/json.gbnf.

import Engine

/// Grammar building blocks for JSON text: literals, whitespace, strings, numbers, and the free-form value.
enum JSONGrammarPrimitives {
    typealias E = GrammarExpression

    static func lit(_ s: String) -> E { .literal(Array(s.utf8)) }
    static func cls(_ ranges: [ClosedRange<UInt32>], negated: Bool = false) -> E {
        .characterClass(ranges: ranges, negated: negated)
    }

    static let digit = cls([0x30...0x39])
    static let hex = cls([0x30...0x39, 0x61...0x66, 0x41...0x46])

    /// Whitespace between tokens, bounded so a model cannot loop on it: "", " ", or a newline and up to 20
    /// blanks.
    static let space: E = .repetition(.alternation([lit(" "), .sequence([lit("\n"), .repetition(cls([0x20...0x20, 0x09...0x09]), min: 0, max: 20)])]), min: 0, max: 1)

    /// One character of a JSON string body: anything but `"`, `\` and controls, or an escape (`\u` escapes of
    /// surrogates are left out, so every escape is one code point and string lengths count right).
    static let stringChar: E = .alternation([
        cls([0x00...0x1F, 0x22...0x22, 0x5C...0x5C, 0x7F...0x7F], negated: true),
        .sequence([lit("\\"), .alternation([
            cls([0x22...0x22, 0x5C...0x5C, 0x2F...0x2F, 0x62...0x62, 0x66...0x66, 0x6E...0x6E, 0x72...0x72, 0x74...0x74]),
            .sequence([lit("u"), .alternation([
                .sequence([cls([0x30...0x39, 0x61...0x63, 0x41...0x43, 0x65...0x66, 0x45...0x46]), hex, hex, hex]),
                .sequence([cls([0x64...0x64, 0x44...0x44]), cls([0x30...0x37]), hex, hex]),
            ])]),
        ])]),
    ])

    static let integral: E = .alternation([lit("0"), .sequence([cls([0x31...0x39]), .repetition(digit, min: 0, max: 15)])])
    static let number: E = .sequence([
        .repetition(lit("-"), min: 0, max: 1), integral,
        .repetition(.sequence([lit("."), .repetition(digit, min: 1, max: 16)]), min: 0, max: 1),
        .repetition(.sequence([cls([0x65...0x65, 0x45...0x45]), .repetition(cls([0x2B...0x2B, 0x2D...0x2D]), min: 0, max: 1),
                               .repetition(digit, min: 1, max: 3)]), min: 0, max: 1),
    ])
    static let integer: E = .sequence([.repetition(lit("-"), min: 0, max: 1), integral])

    /// The rules of free-form JSON (`value`, `object`, `array`, `string`, `number`, `space`, `char`) with
    /// `root` = `rootRule`.
    static func freeFormRules() -> [(name: String, expression: E)] {
        [
            ("space", space),
            ("char", stringChar),
            ("string", .sequence([lit("\""), .repetition(.rule("char"), min: 0, max: nil), lit("\""), .rule("space")])),
            ("number", .sequence([number, .rule("space")])),
            ("value", .alternation([.rule("object"), .rule("array"), .rule("string"), .rule("number"),
                                    .sequence([.alternation([lit("true"), lit("false"), lit("null")]), .rule("space")])])),
            ("object", .sequence([lit("{"), .rule("space"),
                                  .repetition(.sequence([.rule("string"), lit(":"), .rule("space"), .rule("value"),
                                                         .repetition(.sequence([lit(","), .rule("space"), .rule("string"), lit(":"), .rule("space"), .rule("value")]), min: 0, max: nil)]), min: 0, max: 1),
                                  lit("}"), .rule("space")])),
            ("array", .sequence([lit("["), .rule("space"),
                                 .repetition(.sequence([.rule("value"), .repetition(.sequence([lit(","), .rule("space"), .rule("value")]), min: 0, max: nil)]), min: 0, max: 1),
                                 lit("]"), .rule("space")])),
        ]
    }

    /// `string` formats with a grammar (others are refused by the schema converter).
    static func format(_ name: String) -> E? {
        let date = E.sequence([digit, digit, digit, digit, lit("-"),
                               .alternation([.sequence([lit("0"), cls([0x31...0x39])]), .sequence([lit("1"), cls([0x30...0x32])])]), lit("-"),
                               .alternation([.sequence([lit("0"), cls([0x31...0x39])]), .sequence([cls([0x31...0x32]), digit]),
                                             .sequence([lit("3"), cls([0x30...0x31])])])])
        let hour = E.alternation([.sequence([cls([0x30...0x31]), digit]), .sequence([lit("2"), cls([0x30...0x33])])])
        let minute = E.sequence([cls([0x30...0x35]), digit])
        let time = E.sequence([hour, lit(":"), minute, lit(":"), minute,
                               .repetition(.sequence([lit("."), digit, digit, digit]), min: 0, max: 1),
                               .alternation([lit("Z"), .sequence([cls([0x2B...0x2B, 0x2D...0x2D]), hour, lit(":"), minute])])])
        switch name {
        case "date": return date
        case "time": return time
        case "date-time": return .sequence([date, lit("T"), time])
        case "uuid":
            func h(_ n: Int) -> E { .repetition(hex, min: n, max: n) }
            return .sequence([h(8), lit("-"), h(4), lit("-"), h(4), lit("-"), h(4), lit("-"), h(12)])
        default: return nil
        }
    }

    /// Decimal integers in `lo...hi` (nil: unbounded), as JSON writes them (no leading zeros, `-0` never).
    /// nil when the range is empty.
    static func integerRange(lo: Int?, hi: Int?) -> E? {
        var choices: [E] = []
        if lo.map({ $0 < 0 }) ?? true {
            let nearest = min(hi ?? -1, -1)           // the negative value closest to zero
            if lo.map({ $0 <= nearest }) ?? true {
                choices.append(.sequence([lit("-"), natural(from: -nearest, to: lo.map { -$0 })]))
            }
        }
        if hi.map({ $0 >= 0 }) ?? true {
            let a = max(lo ?? 0, 0)
            if hi.map({ a <= $0 }) ?? true { choices.append(natural(from: a, to: hi)) }
        }
        if choices.isEmpty { return nil }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    static let maxDigits = 18

    /// Decimal numbers (no exponent) between whole-number bounds, each inclusive or exclusive (nil:
    /// unbounded). Negative values are `-` and a magnitude in the mirrored interval. nil when empty.
    static func numberRange(lo: (Int, Bool)?, hi: (Int, Bool)?) -> E? {
        var choices: [E] = []
        // v >= 0 (or > 0 when the lower bound is an exclusive 0 or more).
        if hi.map({ $0.0 > 0 || ($0.0 == 0 && !$0.1) }) ?? true {
            let l = lo.map { $0.0 >= 0 ? $0 : (0, false) } ?? (0, false)
            if let e = nonNegative(from: l, to: hi) { choices.append(e) }
        }
        // v < 0: magnitude in (max(-hi, 0) ..., -lo].
        if lo.map({ $0.0 < 0 }) ?? true {
            let mLo: (Int, Bool) = hi.map { $0.0 < 0 ? (-$0.0, $0.1) : (0, true) } ?? (0, true)
            if let e = nonNegative(from: mLo, to: lo.map { (-$0.0, $0.1) }) { choices.append(.sequence([lit("-"), e])) }
        }
        if choices.isEmpty { return nil }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    /// Non-negative decimals in the interval from `l` (>= 0) to `h` (nil: unbounded): the whole part `l` with a
    /// fraction (non-zero when `l` is exclusive), whole parts strictly between with any fraction, the whole
    /// part `h` with a zero fraction (unless exclusive).
    private static func nonNegative(from l: (Int, Bool), to h: (Int, Bool)?) -> E? {
        let fraction = E.repetition(.sequence([lit("."), .repetition(digit, min: 1, max: 16)]), min: 0, max: 1)
        let nonZeroFraction = E.sequence([lit("."), .repetition(digit, min: 0, max: 15), cls([0x31...0x39])])
        let zeroFraction = E.repetition(.sequence([lit("."), .repetition(lit("0"), min: 1, max: 16)]), min: 0, max: 1)
        let (a, aOpen) = l
        guard let h else {
            return .alternation([.sequence([lit(String(a)), aOpen ? nonZeroFraction : fraction]),
                                 .sequence([natural(from: a + 1, to: nil), fraction])])
        }
        let (b, bOpen) = h
        if a > b { return nil }
        if a == b { return aOpen || bOpen ? nil : .sequence([lit(String(a)), zeroFraction]) }
        var choices: [E] = [.sequence([lit(String(a)), aOpen ? nonZeroFraction : fraction])]
        if a + 1 <= b - 1 { choices.append(.sequence([natural(from: a + 1, to: b - 1), fraction])) }
        if !bOpen { choices.append(.sequence([lit(String(b)), zeroFraction])) }
        return .alternation(choices)
    }

    /// Naturals in `a...b` (b nil: unbounded, up to `maxDigits` digits).
    static func natural(from a: Int, to b: Int?) -> E {
        let da = String(a).count
        var choices: [E] = []
        let top = b ?? (pow10(da) - 1)
        for d in da...String(top).count {
            let lo = max(a, d == 1 ? 0 : pow10(d - 1)), hi = min(top, pow10(d) - 1)
            if lo <= hi { choices.append(sameLength(Array(String(lo).utf8), Array(String(hi).utf8))) }
        }
        if b == nil && da < maxDigits {
            choices.append(.sequence([cls([0x31...0x39]), .repetition(digit, min: da, max: maxDigits - 1)]))
        }
        return choices.count == 1 ? choices[0] : .alternation(choices)
    }

    private static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }

    /// Digit strings of one length between `x` and `y` (ASCII digits, same count).
    private static func sameLength(_ x: [UInt8], _ y: [UInt8]) -> E {
        let x0 = UInt32(x[0]), y0 = UInt32(y[0])
        if x.count == 1 { return cls([x0...y0]) }
        let xr = Array(x.dropFirst()), yr = Array(y.dropFirst())
        if x0 == y0 { return .sequence([.literal([x[0]]), sameLength(xr, yr)]) }
        let anyRest = E.repetition(digit, min: xr.count, max: xr.count)
        if xr.allSatisfy({ $0 == 0x30 }) && yr.allSatisfy({ $0 == 0x39 }) { return .sequence([cls([x0...y0]), anyRest]) }
        var choices: [E] = [.sequence([.literal([x[0]]), sameLength(xr, [UInt8](repeating: 0x39, count: xr.count))])]
        if x0 + 1 <= y0 - 1 { choices.append(.sequence([cls([(x0 + 1)...(y0 - 1)]), anyRest])) }
        choices.append(.sequence([.literal([y[0]]), sameLength([UInt8](repeating: 0x30, count: yr.count), yr)]))
        return .alternation(choices)
    }
}
