import Foundation
import Testing
@testable import Engine

/// Decoding: round-trips of the reference texts, piece bytes, out-of-range ids, clean_spaces, streaming.
@Suite("Tokenizer decoding")
struct TokenizerDecodeTests {
    typealias Model = TokenizerFixtures.Model

    /// Which reference texts survive decode(encode(x)) follows from llama.cpp's semantics:
    /// - tiny-qwen2-bpe: every text (no normalisation, no clean_spaces for qwen2, byte-level pieces restore
    ///   every byte).
    /// - Gemma: every text except "▁already marked": SPM escapes " " as "▁" and decodes every "▁" as " ",
    ///   so a literal U+2581 in the input comes back as a space. BOS is removed by removeSpecial, and byte
    ///   fallback restores everything else.
    /// - tiny-llama-spm (add_space_prefix = true): the same "▁" exception; every text when encoded without
    ///   BOS, because detokenize strips the prefix space only from a first piece that is not a removed BOS.
    ///   With BOS the text comes back with one extra leading space (checked too).
    @Test("decode(encode(x)) == x for every reference text", arguments: Model.allCases)
    func roundTrip(_ model: Model) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(model)
        let reference = try TokenizerFixtures.reference(model)
        var ok = 0
        for c in reference.tokenize {
            let withBOS = tokenizer.encode(c.text, addSpecial: true, parseSpecial: false)
            let withoutBOS = tokenizer.encode(c.text, addSpecial: false, parseSpecial: false)
            let decodedPlain = tokenizer.decode(withoutBOS, removeSpecial: false, special: false)
            // SPM: a literal "▁" decodes as " " (the only text that does not round-trip).
            let text = model == .qwen2BPE ? c.text : c.text.replacingOccurrences(of: "▁", with: " ")
            #expect(decodedPlain == text, "\(model) round-trip without BOS: \(c.text.debugDescription)")
            let decoded = tokenizer.decode(withBOS, removeSpecial: true, special: false)
            let expected = model == .llamaSPM && !text.isEmpty ? " " + text : text
            #expect(decoded == expected, "\(model) round-trip with BOS removed: \(c.text.debugDescription)")
            if decodedPlain == c.text && decoded == expected { ok += 1 }
        }
        print("[\(model.rawValue)] exact round-trips: \(ok)/\(reference.tokenize.count)")
        #expect(ok == reference.tokenize.count - (model == .qwen2BPE ? 0 : 1))
    }

    @Test("ids_parse_special decode back to the text with special = true (Gemma, Qwen2)")
    func specialRoundTrip() throws {
        for model in [Model.gemma, .qwen2BPE] {
            let tokenizer = try TokenizerFixtures.tokenizer(model)
            for c in try TokenizerFixtures.reference(model).tokenize where !c.text.contains("▁") {
                #expect(tokenizer.decode(c.ids_parse_special, removeSpecial: true, special: true) == c.text)
            }
        }
    }

    @Test("pieces: byte tokens, control tokens, out-of-range ids")
    func pieces() throws {
        let gemma = try TokenizerFixtures.tokenizer(.gemma)
        #expect(gemma.pieceBytes(238 + 0x0A, special: false) == [0x0A])
        #expect(gemma.pieceBytes(26352, special: false) == Array(" Hello".utf8))
        #expect(gemma.pieceBytes(106, special: false) == [])
        #expect(gemma.pieceBytes(106, special: true) == Array("<end_of_turn>".utf8))
        #expect(gemma.pieceBytes(107, special: false) == [0x0A])  // USER_DEFINED "\n" is always shown
        #expect(gemma.pieceBytes(-5, special: true) == [] && gemma.pieceBytes(1 << 40, special: true) == [])
        #expect(gemma.decode([2, 9259, -1, 999_999_999, 1902], removeSpecial: false, special: false) == "Hello world")

        let qwen = try TokenizerFixtures.tokenizer(.qwen2BPE)
        #expect(qwen.pieceBytes(220, special: false) == [0x20])  // "Ġ"
        #expect(qwen.pieceBytes(160, special: false) == [0xE4])  // first byte of 你
        #expect(qwen.pieceBytes(2002, special: false) == [])
        #expect(qwen.pieceBytes(2002, special: true) == Array("<|im_end|>".utf8))
        #expect(qwen.pieceBytes(5000, special: true) == [])
        // A lone continuation byte decodes to U+FFFD instead of crashing.
        #expect(qwen.decode([121], removeSpecial: false, special: false) == "\u{FFFD}")
    }

    @Test("clean_spaces passes (llama.cpp detokenize)")
    func cleanSpaces() {
        func clean(_ s: String) -> String {
            var bytes = Array(s.utf8)
            SpaceCleaner.clean(&bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(clean("Hello , world . Yes ! No ?") == "Hello, world. Yes! No?")
        #expect(clean("a ' b") == "a'b")
        #expect(clean("it 's I 'm we 're you 've don 't I 'd we 'll") == "it's I'm we're you've don 't I 'd we 'll")
        #expect(clean("") == "" && clean(" ") == " " && clean(" .") == ".")
    }

    @Test("streaming never emits half a character", arguments: [Model.gemma, .qwen2BPE])
    func streaming(_ model: Model) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(model)
        for text in ["你好，世界", "emoji 🚀🔥👍🏽 mixed", "🏳️\u{200D}🌈 café 日本語のテキスト"] {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            var chunks: [String] = []
            for id in ids { chunks.append(stream.append(id)) }
            chunks.append(stream.finish())
            for chunk in chunks { #expect(!chunk.unicodeScalars.contains("\u{FFFD}"), "\(model): \(chunk.debugDescription)") }
            #expect(chunks.joined() == text)
            #expect(chunks.joined() == tokenizer.decode(ids, removeSpecial: false, special: false))
            if model == .qwen2BPE {  // byte-level pieces: CJK characters span several tokens
                #expect(ids.count > chunks.filter { !$0.isEmpty }.count, "some token must be held back")
            }
        }
    }

    @Test("streaming a multi-token CJK character and an emoji, token by token")
    func streamingByteTokens() throws {
        let qwen = try TokenizerFixtures.tokenizer(.qwen2BPE)
        var s = StreamingDetokenizer(tokenizer: qwen)
        #expect([160, 121].map { s.append($0) } == ["", ""])  // E4 BD …
        #expect(s.append(254) == "你")
        let gemma = try TokenizerFixtures.tokenizer(.gemma)
        var g = StreamingDetokenizer(tokenizer: gemma)
        #expect([478, 397, 404].map { g.append($0) } == ["", "", ""])  // F0 9F A6 …
        #expect(g.append(391) == "🦙")
        #expect(g.append(33443) == " café")
        // An unfinished sequence is flushed as U+FFFD by finish(), like decode does.
        #expect([478, 397].map { g.append($0) } == ["", ""])
        #expect(g.finish() == "\u{FFFD}")
        #expect(gemma.decode([478, 397], removeSpecial: false, special: false) == "\u{FFFD}")
        // An invalid byte is not held back forever.
        #expect(g.append(238 + 0xFF) == "\u{FFFD}")
        #expect(g.append(-1) == "" && g.finish() == "")
    }

    @Test("completePrefixLength holds back only a completable tail")
    func prefixLength() {
        #expect(StreamingDetokenizer.completePrefixLength([]) == 0)
        #expect(StreamingDetokenizer.completePrefixLength([0x41, 0xE4, 0xBD]) == 1)
        #expect(StreamingDetokenizer.completePrefixLength([0xE4, 0xBD, 0xA0]) == 3)
        #expect(StreamingDetokenizer.completePrefixLength([0xF0, 0x9F, 0xA6]) == 0)
        #expect(StreamingDetokenizer.completePrefixLength([0xE0, 0x80]) == 2)  // never valid: flush
        #expect(StreamingDetokenizer.completePrefixLength([0xBD, 0xBD]) == 2)  // stray continuations
        #expect(StreamingDetokenizer.completePrefixLength([0xC3]) == 0)
    }
}
