/// Incremental detokenizer for streaming generated text.
///
/// Feed ids one at a time with `append(_:)`; each call returns the text that became complete, which never
/// ends in half a UTF-8 character (a character split across byte tokens, or across several byte-level BPE
/// tokens, is held back until its last byte arrives). `finish()` returns whatever is left, rendering an
/// incomplete trailing sequence as U+FFFD.
///
/// The text is the concatenation of `pieceBytes(id, special:)` — what llama-server streams: no BOS/EOS
/// removal, no leading-space strip and no `clean_spaces`. For vocabularies without `add_space_prefix` and
/// `clean_spaces` (Gemma, Qwen2) the concatenated output equals `decode(ids, removeSpecial: false,
/// special:)`. Bytes that can never become valid UTF-8 are replaced exactly as `decode` replaces them.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: any Tokenizer
    private let special: Bool
    /// Bytes not yet returned: at most the start of one unfinished UTF-8 sequence.
    private var pending: [UInt8] = []

    /// - Parameters:
    ///   - tokenizer: the tokenizer whose pieces are concatenated.
    ///   - special: render CONTROL / UNKNOWN tokens as their text (llama-server `--special`).
    public init(tokenizer: any Tokenizer, special: Bool = false) {
        self.tokenizer = tokenizer
        self.special = special
    }

    /// Adds one token and returns the newly completed text (possibly empty). Out-of-range ids add nothing.
    public mutating func append(_ id: Int) -> String {
        pending.append(contentsOf: tokenizer.pieceBytes(id, special: special))
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns the remaining text (incomplete trailing bytes become U+FFFD) and resets the state.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix that can be decoded now: everything except a trailing, still-completable
    /// UTF-8 sequence. Cutting before a lead byte is safe because no earlier sequence can extend into it,
    /// so decoding the pieces separately gives the same text (and the same U+FFFDs) as decoding them whole.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Find the last lead byte among the final 3 bytes.
        var i = n - 1
        while i >= 0, i >= n - 4 {
            let b = bytes[i]
            if b & 0xC0 != 0x80 {
                // Not a continuation byte: ASCII, a lead byte, or an invalid byte.
                guard b >= 0xC2, b <= 0xF4 else { return n }
                let need = UTF8Scan.sequenceLength(b)
                let have = n - i
                if have >= need { return n }
                // Check that the bytes present are a valid prefix (second-byte ranges of RFC 3629).
                if have >= 2 {
                    let b1 = bytes[i + 1]
                    let (lo, hi): (UInt8, UInt8) = b == 0xE0 ? (0xA0, 0xBF) : b == 0xED ? (0x80, 0x9F)
                        : b == 0xF0 ? (0x90, 0xBF) : b == 0xF4 ? (0x80, 0x8F) : (0x80, 0xBF)
                    guard b1 >= lo, b1 <= hi else { return n }
                }
                return i
            }
            i -= 1
        }
        return n
    }
}
