import Testing
@testable import Engine

/// The hand-written pre-tokenizer matchers (SPEC-model.md 7.5) on the spec's examples, plus the invariant
/// that the words always concatenate back to the input.
@Suite("BPE pre-tokenizers")
struct TokenizerPreTokenizerTests {
    static func words(_ text: String, _ kind: PreTokenizerKind) -> [String] {
        let cps = text.unicodeScalars.map(\.value)
        var start = 0
        return PreTokenizer(kind: kind).split(cps).map { length in
            defer { start += length }
            return String(String.UnicodeScalarView(cps[start..<(start + length)].map { Unicode.Scalar($0)! }))
        }
    }

    @Test("shared examples", arguments: [PreTokenizerKind.gpt2, .llama3, .qwen2])
    func sharedExamples(_ kind: PreTokenizerKind) {
        #expect(Self.words("Hello  world", kind) == ["Hello", " ", " world"])
        #expect(Self.words("x   ", kind) == ["x", "   "])
        #expect(Self.words("", kind) == [])
    }

    @Test("Llama 3 / Qwen2 rules")
    func llama3Rules() {
        #expect(Self.words("你好，世界", .qwen2) == ["你好", "，世界"])
        #expect(Self.words("1234567", .llama3) == ["123", "456", "7"])
        #expect(Self.words("1234567", .qwen2) == ["1", "2", "3", "4", "5", "6", "7"])
        #expect(Self.words("Line one.\r\n", .llama3) == ["Line", " one", ".\r\n"])
        #expect(Self.words("I'm you'RE", .qwen2) == ["I", "'m", " you", "'RE"])
        #expect(Self.words("a\n\n  b", .llama3) == ["a", "\n\n", " ", " b"])
        #expect(Self.words("e\u{301}t", .llama3) == ["e", "\u{301}t"])  // a combining mark is not a letter
        #expect(Self.words("x\u{A0}y", .llama3) == ["x", "\u{A0}y"])
        #expect(Self.words("x\u{200B}y", .llama3) == ["x", "\u{200B}y"])  // U+200B is not whitespace
    }

    @Test("GPT-2, SmolLM and DEFAULT rules")
    func gpt2Rules() {
        #expect(Self.words("I'm you'RE", .gpt2) == ["I", "'m", " you", "'", "RE"])  // case-sensitive
        #expect(Self.words("a 1234567!!", .gpt2) == ["a", " 1234567", "!!"])
        #expect(Self.words("a 12", .smollm) == ["a", " ", "1", "2"])
        #expect(Self.words("a+b=c 12345", .default) == ["a", "+", "b", "=", "c", " ", "123", "45"])
        #expect(Self.words("x`y", .default) == ["x", "`", "y"])
    }

    @Test("words concatenate to the input", arguments: PreTokenizerKind.allCases)
    func concatenation(_ kind: PreTokenizerKind) {
        let alphabet: [Unicode.Scalar] = ["a", "Z", "7", " ", " ", "\n", "\r", "\t", "'", "s", "R", "e", ".", "!",
                                          "$", "`", "\u{A0}", "\u{3000}", "你", "½", "\u{301}", "🚀", "\u{200B}",
                                          "\u{0}", "é", "Ⅻ", "，", "_", "-"]
        var rng = TokenizerTestRNG(seed: 42)
        for _ in 0..<500 {
            let length = Int(rng.next() % 24)
            let text = String(String.UnicodeScalarView((0..<length).map { _ in
                alphabet[Int(rng.next() % UInt64(alphabet.count))]
            }))
            let words = Self.words(text, kind)
            #expect(words.joined() == text)
            #expect(!words.contains(""))
        }
    }
}

/// A small deterministic generator for property tests.
struct TokenizerTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
