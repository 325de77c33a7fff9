import Foundation

/// The `BertNormalizer` and `BertPreTokenizer` stages of Hugging Face `tokenizers`
/// (tokenizers/src/normalizers/bert.rs, tokenizers/src/pre_tokenizers/bert.rs).
///
/// Normalizer order: clean text (drop U+0000, U+FFFD and "other" code points Cc/Cf/Cn/Co/Cs except
/// \t \n \r; every White_Space code point becomes a space), spaces around CJK ideographs, strip accents
/// (NFD, then drop Mn), lowercase (per code point, full mapping). `strip_accents: null` in tokenizer.json
/// means "same as lowercase".
///
/// NOTE: the Rust crate classifies code points with the `unicode_categories` tables (an older Unicode
/// version); we use the standard library's current tables, so a code point assigned in a recent Unicode
/// version (which Rust treats as unassigned, Cn, and drops) may tokenize as `[UNK]` here instead.
struct BertNormalizer: Sendable {
    var cleanText = true
    var handleChineseChars = true
    var stripAccents = true
    var lowercase = true

    /// The normalized code points of `text`.
    func normalize(_ text: Substring) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
                if Self.isWhitespace(s) {
                    out.append(" ")
                    continue
                }
            }
            if handleChineseChars && Self.isChineseChar(s.value) {
                out.append(" ")
                out.append(s)
                out.append(" ")
            } else {
                out.append(s)
            }
        }
        if stripAccents && out.contains(where: { !$0.isASCII }) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: out)
            let nfd = String(view).decomposedStringWithCanonicalMapping
            out = nfd.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(out.count)
            for s in out {
                if s.isASCII {
                    lowered.append(s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32)! : s)
                } else {
                    lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                }
            }
            out = lowered
        }
        return out
    }

    /// \t \n \r and Unicode White_Space.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// Unicode "other" (Cc, Cf, Cn, Co, Cs), except \t \n \r which count as whitespace.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// CJK ideograph blocks, verbatim from `is_chinese_char` in tokenizers (note 0x2B920, not 0x2B820).
    static func isChineseChar(_ c: UInt32) -> Bool {
        switch c {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}

/// `BertPreTokenizer`: split on whitespace (removed) and on every punctuation code point (kept as its own
/// word). Punctuation is ASCII punctuation (all of !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~, symbols included) or
/// Unicode general category P*.
enum BertPreTokenizer {
    static func split(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for (i, s) in scalars.enumerated() {
            if BertNormalizer.isWhitespace(s) {
                if start < i { words.append(scalars[start..<i]) }
                start = i + 1
            } else if isPunctuation(s) {
                if start < i { words.append(scalars[start..<i]) }
                words.append(scalars[i..<(i + 1)])
                start = i + 1
            }
        }
        if start < scalars.count { words.append(scalars[start...]) }
        return words
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 128 {
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }
}
