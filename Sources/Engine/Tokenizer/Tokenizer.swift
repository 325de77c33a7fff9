/// A text tokenizer that reproduces llama.cpp's `llama_tokenize` / `llama_token_to_piece` /
/// `llama_detokenize` token-for-token (SPEC-model.md sections 4 and 7).
///
/// Implementations are immutable values: every method is a pure function of the vocabulary loaded from the
/// model file, so one instance may be shared freely between tasks. Build one with `TokenizerLoader.load(from:)`.
public protocol Tokenizer: Sendable {
    /// Number of tokens in the vocabulary (valid ids are `0 ..< vocabularySize`).
    var vocabularySize: Int { get }
    /// Beginning-of-sequence token id, nil if the vocabulary has none.
    var bosID: Int? { get }
    /// End-of-sequence token id, nil if the vocabulary has none.
    var eosID: Int? { get }
    /// Every id that ends generation (llama.cpp `special_eog_ids`): eos, eot, eom and EOG-looking texts.
    var eogIDs: Set<Int> { get }
    /// Whether `encode(_:addSpecial: true, ...)` prepends `bosID`.
    var addBOS: Bool { get }
    /// Whether `encode(_:addSpecial: true, ...)` appends `eosID`.
    var addEOS: Bool { get }
    /// llama.cpp `tokenize(text, add_special, parse_special)`.
    ///
    /// `addSpecial` adds BOS / EOS as the vocabulary asks; `parseSpecial` lets CONTROL / UNKNOWN token texts
    /// written in `text` become their single ids (USER_DEFINED tokens are always split out).
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int]
    /// Raw bytes of one token as llama.cpp `token_to_piece(id, special)`: BYTE tokens give their byte,
    /// CONTROL / UNKNOWN tokens are empty unless `special`. Out-of-range ids give `[]`.
    func pieceBytes(_ id: Int, special: Bool) -> [UInt8]
    /// llama.cpp `detokenize(ids, remove_special, unparse_special)`. Invalid UTF-8 in the concatenated
    /// pieces is replaced with U+FFFD; out-of-range ids contribute nothing.
    func decode(_ ids: [Int], removeSpecial: Bool, special: Bool) -> String
    /// Text of a token exactly as stored in the vocabulary (for debugging and logprob output); "" if out of range.
    func tokenText(_ id: Int) -> String
}

/// The parts of a tokenizer that are the same for every vocabulary type: ids, flags and detokenization.
/// Concrete tokenizers supply the encoder and `appendPiece`.
protocol VocabularyTokenizer: Tokenizer {
    var vocabulary: Vocabulary { get }
    /// llama.cpp `token_to_piece(id, lstrip, special)` appended to `out`; `id` is in range.
    func appendPiece(_ id: Int, special: Bool, into out: inout [UInt8])
}

extension VocabularyTokenizer {
    var vocabularySize: Int { vocabulary.count }
    var bosID: Int? { vocabulary.specials.bos }
    var eosID: Int? { vocabulary.specials.eos }
    var eogIDs: Set<Int> { vocabulary.specials.eog }
    var addBOS: Bool { vocabulary.specials.addBOS }
    var addEOS: Bool { vocabulary.specials.addEOS }

    func tokenText(_ id: Int) -> String {
        guard id >= 0, id < vocabulary.count else { return "" }
        return vocabulary.text(of: id)
    }

    func pieceBytes(_ id: Int, special: Bool) -> [UInt8] {
        guard id >= 0, id < vocabulary.count else { return [] }
        var out: [UInt8] = []
        appendPiece(id, special: special, into: &out)
        return out
    }

    /// llama.cpp `llama_vocab::impl::detokenize`: optional BOS/EOS removal, the leading-space strip of
    /// `add_space_prefix` vocabularies, and the three `clean_spaces` passes.
    func decode(_ ids: [Int], removeSpecial: Bool, special: Bool) -> String {
        let specials = vocabulary.specials
        var slice = ids[...]
        // NOTE: llama.cpp strips one leading space of the first piece when add_space_prefix is set, except
        // when that first token is a BOS that remove_special dropped.
        var removeSpace = specials.addSpacePrefix
        if removeSpecial, specials.addBOS, let bos = specials.bos, slice.first == bos {
            removeSpace = false
            slice = slice.dropFirst()
        }
        if removeSpecial, specials.addEOS, let eos = specials.eos, slice.last == eos {
            slice = slice.dropLast()
        }
        var bytes: [UInt8] = []
        for id in slice {
            let start = bytes.count
            if id >= 0, id < vocabulary.count { appendPiece(id, special: special, into: &bytes) }
            if removeSpace, bytes.count > start, bytes[start] == 0x20 { bytes.remove(at: start) }
            removeSpace = false
        }
        if specials.cleanSpaces { SpaceCleaner.clean(&bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// llama.cpp's `clean_spaces` post-processing of detokenized bytes (three in-place passes, ported literally
/// because the second pass overwrites the byte after `" ' "` and later comparisons see that overwrite).
enum SpaceCleaner {
    static func clean(_ text: inout [UInt8]) {
        let space = UInt8(ascii: " "), quote = UInt8(ascii: "'")
        // Pass 1: " ?", " !", " .", " ," lose their space.
        var total = text.isEmpty ? 0 : 1
        for i in 1..<max(1, text.count) {
            let x = text[i]
            if text[i - 1] == space, x == UInt8(ascii: "?") || x == UInt8(ascii: "!")
                || x == UInt8(ascii: ".") || x == UInt8(ascii: ",") {
                total -= 1
            }
            text[total] = x
            total += 1
        }
        text.removeLast(text.count - total)
        // Pass 2: " ' " becomes "'".
        let total2 = text.count
        total = total2 == 0 ? 0 : 1
        var i = 1
        while i < total2 {
            let x = text[i]
            if x == quote, i + 1 < total2, text[i - 1] == space, text[i + 1] == space {
                total -= 1
                i += 1
                text[i] = 0
            }
            text[total] = x
            total += 1
            i += 1
        }
        text.removeLast(text.count - total)
        // Pass 3: the space before 's, 'm, 're, 've goes (not before 't, 'd, 'll).
        let total3 = text.count
        total = total3 == 0 ? 0 : 1
        for i in 1..<max(1, total3) {
            let x = text[i]
            if text[i - 1] == space, x == quote, i + 1 < total3 {
                let x1 = text[i + 1]
                if x1 == UInt8(ascii: "t") || x1 == UInt8(ascii: "d") {
                    // kept, as in llama.cpp
                } else if x1 == UInt8(ascii: "s") || x1 == UInt8(ascii: "m") {
                    total -= 1
                } else if i + 2 < total3 {
                    let x2 = text[i + 2]
                    if (x1 == UInt8(ascii: "r") || x1 == UInt8(ascii: "v")) && x2 == UInt8(ascii: "e") {
                        total -= 1
                    }
                }
            }
            text[total] = x
            total += 1
        }
        text.removeLast(text.count - total)
    }
}
