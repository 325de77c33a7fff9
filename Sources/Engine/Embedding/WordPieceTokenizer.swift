import Foundation

/// BERT's WordPiece tokenizer, token-for-token as Hugging Face `tokenizers` runs a BERT `tokenizer.json`
/// with the template `[CLS] A [SEP]`, no padding and right truncation.
///
/// Pipeline: added special tokens written in the text (`[CLS]`, `[SEP]`, `[MASK]`, ...) are split out first,
/// on the raw text, leftmost-longest (they are not normalized) -> each remaining segment goes through
/// `BertNormalizer` and `BertPreTokenizer` -> WordPiece per word (greedy longest-match-first; pieces after
/// the first carry the `##` prefix; a word with no full segmentation, or longer than
/// `max_input_chars_per_word` code points, becomes one `[UNK]`) -> truncated to `maxLength - 2` ids ->
/// `[CLS]` ... `[SEP]`.
///
/// NOTE: `tokenizer.json`'s own truncation (128) and fixed padding (128) are ignored: sentence-transformers
/// overrides both with `max_seq_length` from sentence_bert_config.json and no padding.
/// Vocabulary keys are UTF-8 bytes, not `String`, because Swift compares strings by canonical equivalence
/// while the Rust tokenizer compares bytes.
public struct WordPieceTokenizer: Sendable {
    /// Longest output, [CLS] and [SEP] included.
    public let maxLength: Int
    public let clsID: Int32
    public let sepID: Int32
    public let unkID: Int32
    /// Token texts by id.
    public let tokens: [String]
    let vocab: [[UInt8]: Int32]
    /// Added special tokens (UTF-8, id), longest first.
    let specials: [([UInt8], Int32)]
    let normalizer: BertNormalizer
    let prefix: [UInt8]
    let maxInputCharsPerWord: Int

    /// Builds a tokenizer from an explicit vocabulary (tests and `load`).
    init(tokens: [String], unk: String = "[UNK]", cls: String = "[CLS]", sep: String = "[SEP]",
         specials: [String], normalizer: BertNormalizer = BertNormalizer(), prefix: String = "##",
         maxInputCharsPerWord: Int = 100, maxLength: Int) throws(EngineError) {
        var vocab: [[UInt8]: Int32] = [:]
        for (i, t) in tokens.enumerated() where vocab[Array(t.utf8)] == nil { vocab[Array(t.utf8)] = Int32(i) }
        func id(_ t: String) throws(EngineError) -> Int32 {
            guard let i = vocab[Array(t.utf8)] else {
                throw EngineError(.loadFailed, "tokenizer vocabulary has no '\(t)' token")
            }
            return i
        }
        guard maxLength >= 2 else { throw EngineError(.badHyperparameter, "max sequence length \(maxLength) < 2") }
        self.tokens = tokens
        self.vocab = vocab
        unkID = try id(unk)
        clsID = try id(cls)
        sepID = try id(sep)
        var sp: [([UInt8], Int32)] = []
        for s in specials where !s.isEmpty { sp.append((Array(s.utf8), try id(s))) }
        self.specials = sp.sorted { $0.0.count > $1.0.count }
        self.normalizer = normalizer
        self.prefix = Array(prefix.utf8)
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.maxLength = maxLength
    }

    /// Token ids of `text`: `[CLS]`, at most `maxLength - 2` word pieces, `[SEP]`.
    public func encode(_ text: String) -> [Int32] {
        var ids = encodeWithoutSpecials(text)
        if ids.count > maxLength - 2 { ids.removeSubrange((maxLength - 2)...) }
        return [clsID] + ids + [sepID]
    }

    /// Word-piece ids of `text` without the template and without truncation.
    public func encodeWithoutSpecials(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for segment in splitSpecials(text) {
            switch segment {
            case .special(let id): ids.append(id)
            case .text(let s):
                for word in BertPreTokenizer.split(normalizer.normalize(s)) { wordPiece(word, into: &ids) }
            }
        }
        return ids
    }

    enum Segment: Equatable {
        case text(Substring)
        case special(Int32)
    }

    /// Splits out the added special tokens, leftmost-longest, matching raw UTF-8 bytes.
    func splitSpecials(_ text: String) -> [Segment] {
        guard !specials.isEmpty else { return [.text(text[...])] }
        let utf8 = text.utf8
        var out: [Segment] = []
        var segStart = utf8.startIndex
        var i = utf8.startIndex
        let firstBytes = Set(specials.map { $0.0[0] })
        while i < utf8.endIndex {
            if firstBytes.contains(utf8[i]),
               let (bytes, id) = specials.first(where: { utf8[i...].starts(with: $0.0) }) {
                if segStart < i { out.append(.text(text[segStart..<i])) }
                out.append(.special(id))
                i = utf8.index(i, offsetBy: bytes.count)
                segStart = i
            } else {
                i = utf8.index(after: i)
            }
        }
        if segStart < utf8.endIndex { out.append(.text(text[segStart...])) }
        return out
    }

    /// Greedy longest-match-first WordPiece of one pre-tokenized word.
    func wordPiece(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int32]) {
        if word.count > maxInputCharsPerWord {
            ids.append(unkID)
            return
        }
        // UTF-8 of the word and the byte offset of each code point (plus the end).
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        for s in word {
            offsets.append(bytes.count)
            UTF8.encode(s) { bytes.append($0) }
        }
        offsets.append(bytes.count)
        let n = word.count
        var pieces: [Int32] = []
        var start = 0
        var key: [UInt8] = []
        while start < n {
            var end = n
            var found: Int32?
            while start < end {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(contentsOf: prefix) }
                key.append(contentsOf: bytes[offsets[start]..<offsets[end]])
                if let id = vocab[key] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let found else {
                ids.append(unkID)
                return
            }
            pieces.append(found)
            start = end
        }
        ids.append(contentsOf: pieces)
    }
}
