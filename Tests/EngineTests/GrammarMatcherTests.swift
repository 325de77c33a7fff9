import Foundation
import Testing
@testable import Engine

/// The GBNF parser, compiler and matcher against independent references: `NSRegularExpression` for the
/// language a grammar accepts, Swift's own UTF-8 encoder for character classes.
@Suite("Grammar matcher")
struct GrammarMatcherTests {
    /// Every string over `alphabet` up to `maxLength` characters.
    static func strings(_ alphabet: [String], maxLength: Int) -> [String] {
        var out = [""], frontier = [""]
        for _ in 0..<maxLength {
            frontier = frontier.flatMap { s in alphabet.map { s + $0 } }
            out += frontier
        }
        return out
    }

    static func accepts(_ grammar: Grammar, _ text: String) throws -> Bool {
        var m = try GrammarMatcher(grammar)
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return m.isAccepting }
        return m.accept(bytes) && m.isAccepting
    }

    /// (GBNF, an equivalent regex, the alphabet to enumerate)
    static let cases: [(String, String, [String])] = [
        (#"root ::= "a" [b-d]+ ("x" | "yz")?"#, "a[b-d]+(x|yz)?", ["a", "b", "d", "e", "x", "y", "z"]),
        ("root ::= item (\",\" item)*\nitem ::= [0-9]{1,2}", "[0-9]{1,2}(,[0-9]{1,2})*", ["1", "0", ",", "a"]),
        ("root ::= \"(\" root \")\" root | \"\"", "", ["(", ")"]),   // balanced parens: checked below
        (#"root ::= ([^ab] | "ab")*"#, "([^ab]|ab)*", ["a", "b", "c", "é"]),
        ("root ::= x{2,3} y?\nx ::= \"q\" | \"r\"\ny ::=\n  \"!\"", "[qr]{2,3}!?", ["q", "r", "!", "s"]),
    ]

    @Test("accepts exactly the strings the equivalent regex matches", arguments: [0, 1, 3, 4])
    func languageMatchesRegex(_ index: Int) throws {
        let (gbnf, pattern, alphabet) = Self.cases[index]
        let grammar = try Grammar.compile(gbnf: gbnf)
        let regex = try NSRegularExpression(pattern: "^(?:\(pattern))$")
        var accepted = 0
        for s in Self.strings(alphabet, maxLength: 5) {
            let expected = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
            #expect(try Self.accepts(grammar, s) == expected, "\(gbnf) on \(s.debugDescription)")
            if expected { accepted += 1 }
        }
        #expect(accepted > 0)
    }

    @Test("a recursive grammar: balanced parentheses")
    func balancedParentheses() throws {
        let grammar = try Grammar.compile(gbnf: Self.cases[2].0)
        for s in Self.strings(["(", ")"], maxLength: 8) {
            var depth = 0, balanced = true
            for c in s {
                depth += c == "(" ? 1 : -1
                if depth < 0 { balanced = false }
            }
            #expect(try Self.accepts(grammar, s) == (balanced && depth == 0), "\(s)")
        }
    }

    @Test("a refused step leaves the state unchanged; prefixes of valid text are allowed")
    func refusalKeepsState() throws {
        let grammar = try Grammar.compile(gbnf: #"root ::= "{" [a-z]+ "}""#)
        var m = try GrammarMatcher(grammar)
        let ok1 = m.accept(Array("{ab".utf8))
        #expect(ok1)
        let before = m.stacks
        let ok2 = m.accept(Array("1".utf8))
        #expect(!ok2)
        #expect(m.stacks == before)
        let ok3 = m.accept([])
        #expect(!ok3)
        #expect(!m.isAccepting)
        let ok4 = m.accept(Array("}".utf8))
        #expect(ok4)
        #expect(m.isAccepting && m.isFinished)
    }

    @Test("character classes over code points match their UTF-8 bytes, partial characters included")
    func utf8Classes() throws {
        let grammar = try Grammar.compile(gbnf: #"root ::= [^a\u00e9] [\u0100-\u2fff] [\U0001F600-\U0001F64F]"#)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let a = UInt32.random(in: 0...0x10FFFF, using: &rng)
            let b = UInt32.random(in: 0x80...0x3FFF, using: &rng)
            let c = UInt32.random(in: 0x1F5F0...0x1F660, using: &rng)
            guard let sa = Unicode.Scalar(a), let sb = Unicode.Scalar(b), let sc = Unicode.Scalar(c) else { continue }
            let text = String(sa) + String(sb) + String(sc)
            let expected = a != 0x61 && a != 0xE9 && (0x100...0x2FFF).contains(b) && (0x1F600...0x1F64F).contains(c)
            #expect(try Self.accepts(grammar, text) == expected, "U+\(String(a, radix: 16)) U+\(String(b, radix: 16)) U+\(String(c, radix: 16))")
        }
        let m = try GrammarMatcher(grammar)
        #expect(m.allows([0xC3]))                 // the first byte of "é"... or of any other 2-byte character
        #expect(!m.allows([0xC0, 0x80]))          // overlong encodings are not UTF-8
        #expect(!m.allows([0xED, 0xA0, 0x80]))    // nor are surrogates
    }

    @Test("bad grammars are refused with the reason", arguments: [
        ("root ::= root \"a\" | \"b\"", GrammarError.Code.leftRecursion),
        ("root ::= x\nx ::= y \"a\"\ny ::= \"\" | x", .leftRecursion),
        ("root ::= (\"a\"?)*", .leftRecursion),
        ("root ::= missing", .undefinedRule),
        ("start ::= \"a\"", .undefinedRule),
        ("root ::= \"a", .syntax),
        ("root ::= [b-a]", .syntax),
        ("root ::= \"a\"{0,99999}", .tooLarge),
        ("root ::= " + String(repeating: "(", count: 100) + "\"a\"" + String(repeating: ")", count: 100), .tooLarge),
        // Each bounded repetition costs a rule per optional step: five nested {0,4000} need 20,000.
        ("root ::= (((((\"a\"{0,4000}){0,4000}){0,4000}){0,4000}){0,4000})", .tooLarge),
    ])
    func refused(_ gbnf: String, _ code: GrammarError.Code) {
        #expect(throws: GrammarError.self) { try Grammar.compile(gbnf: gbnf) }
        do {
            _ = try Grammar.compile(gbnf: gbnf)
        } catch let e as GrammarError {
            #expect(e.code == code, "\(gbnf): \(e.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("an exponentially ambiguous grammar is refused quickly, not expanded")
    func ambiguityBomb() throws {
        let gbnf = "root ::= " + String(repeating: #"("" | "") "#, count: 40) + #""a""#
        let grammar = try Grammar.compile(gbnf: gbnf)
        let started = Date()
        #expect(throws: GrammarError.self) { try GrammarMatcher(grammar) }
        #expect(Date().timeIntervalSince(started) < 1)
    }

    @Test("text over the size limit is refused before parsing")
    func textLimit() {
        var limits = GrammarLimits()
        limits.maxTextBytes = 100
        let text = "root ::= \"" + String(repeating: "a", count: 200) + "\""
        #expect(throws: GrammarError(.tooLarge, "the grammar is \(text.utf8.count) bytes; at most 100 are accepted")) {
            try Grammar.compile(gbnf: text, limits: limits)
        }
    }

    @Test("nesting in the generated text is bounded by maxStackDepth; ambiguity by maxStacks")
    func runtimeBounds() throws {
        var limits = GrammarLimits()
        limits.maxStackDepth = 20
        let nested = try Grammar.compile(gbnf: "root ::= \"[\" root \"]\" | \"x\"", limits: limits)
        var m = try GrammarMatcher(nested)
        let ok5 = m.accept(Array(String(repeating: "[", count: 5).utf8))
        #expect(ok5)
        let ok6 = m.accept(Array(String(repeating: "[", count: 40).utf8))
        #expect(!ok6)
        // (a | a a)* is ambiguous, but equal stacks merge: the state stays small.
        let ambiguous = try Grammar.compile(gbnf: #"root ::= ("a" | "a" "a")*"#)
        var a = try GrammarMatcher(ambiguous)
        let ok7 = a.accept(Array(String(repeating: "a", count: 200).utf8))
        #expect(ok7)
        #expect(a.stacks.count <= 4)
    }
}
