/// The pre-tokenizer families of byte-level BPE vocabularies, selected by `tokenizer.ggml.pre`
/// (SPEC-model.md 7.4; llama.cpp `llama_vocab::impl::load` and `llm_tokenizer_bpe`).
enum PreTokenizerKind: String, Sendable, CaseIterable {
    case `default`, gpt2, llama3, qwen2, smollm

    /// The family for a `tokenizer.ggml.pre` value; nil for a name llama.cpp would reject (or we do not
    /// implement). An absent key or `default` selects DEFAULT; `gpt2` (without the dash) is unknown.
    init?(ggufName name: String?) {
        switch name {
        case nil, "default": self = .default
        case "gpt-2", "phi-2", "roberta-bpe", "modern-bert", "mpt", "olmo": self = .gpt2
        case "llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral": self = .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2": self = .qwen2
        case "smollm": self = .smollm
        default: return nil
        }
    }

    /// The regexes applied in sequence, each splitting every piece of the previous one.
    var stages: [PreTokenizerStage] {
        switch self {
        case .default: return [.punctuationRuns, .gpt2, .numberRuns, .asciiDigitTriples]
        case .gpt2: return [.gpt2]
        case .llama3: return [.llama3]
        case .qwen2: return [.qwen2]
        case .smollm: return [.eachNumber, .gpt2]
        }
    }

    /// Whether a word that is already a whole token skips BPE (llama.cpp `ignore_merges`).
    var ignoreMerges: Bool { self == .llama3 }
    /// add_bos before the `tokenizer.ggml.add_bos_token` key is consulted.
    var addBOSDefault: Bool { self == .llama3 }
    /// Whether decoding runs the `clean_spaces` passes.
    var cleanSpaces: Bool { !(self == .qwen2 || self == .smollm) }
}

/// One regex of a pre-tokenizer list, implemented by hand (SPEC-model.md 7.5). Text between matches is
/// always kept as its own piece, so the pieces concatenate back to the input.
enum PreTokenizerStage: Sendable {
    /// `[\p{P}\$\+<=>\^~\|]+`
    case punctuationRuns
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    case gpt2
    /// Llama 3: case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, `\p{N}{1,3}`, ... `\s+`
    case llama3
    /// Qwen2: Llama 3 with `\p{N}` (one digit per word).
    case qwen2
    /// `\p{N}`
    case eachNumber
    /// `\p{N}+`
    case numberRuns
    /// `[0-9][0-9][0-9]`
    case asciiDigitTriples
}

/// Splits the code points of one raw fragment into words (llama.cpp `unicode_regex_split`).
struct PreTokenizer: Sendable {
    let kind: PreTokenizerKind

    /// Word lengths in code points, in order; they sum to `cps.count`.
    func split(_ cps: [UInt32]) -> [Int] {
        guard !cps.isEmpty else { return [] }
        let flags = cps.map(CodepointFlags.of)
        var pieces = [cps.count]
        for stage in kind.stages {
            var next: [Int] = []
            next.reserveCapacity(pieces.count * 2)
            var start = 0
            for length in pieces {
                var m = PieceMatcher(cps: cps, flags: flags, start: start, end: start + length)
                m.run(stage, into: &next)
                start += length
            }
            pieces = next
        }
        return pieces
    }
}

/// Walks one piece `[start, end)`, emitting word lengths; predicates are false outside the piece.
private struct PieceMatcher {
    let cps: [UInt32]
    let flags: [CodepointFlags]
    let start: Int
    let end: Int
    private var previousEnd: Int

    init(cps: [UInt32], flags: [CodepointFlags], start: Int, end: Int) {
        self.cps = cps
        self.flags = flags
        self.start = start
        self.end = end
        previousEnd = start
    }

    static let outOfRange: UInt32 = 0xFFFF_FFFF

    @inline(__always) func cp(_ i: Int) -> UInt32 { i >= start && i < end ? cps[i] : Self.outOfRange }
    @inline(__always) func fl(_ i: Int) -> CodepointFlags { i >= start && i < end ? flags[i] : [] }

    /// Emits the word `[previousEnd, to)` if non-empty; returns its length.
    @discardableResult
    mutating func emit(_ to: Int, _ out: inout [Int]) -> Int {
        let length = to - previousEnd
        if length > 0 { out.append(length) }
        previousEnd = to
        return length
    }

    mutating func run(_ stage: PreTokenizerStage, into out: inout [Int]) {
        switch stage {
        case .gpt2: gpt2(&out)
        case .llama3: llama3(&out, singleDigits: false)
        case .qwen2: llama3(&out, singleDigits: true)
        case .eachNumber: runs(&out, maxLength: 1) { $1.isNumber }
        case .numberRuns: runs(&out, maxLength: .max) { $1.isNumber }
        case .asciiDigitTriples: asciiDigitTriples(&out)
        case .punctuationRuns: runs(&out, maxLength: .max) { cp, f in Self.isDefaultPunctuation(cp, f) }
        }
        emit(end, &out)
    }

    /// Members of `[\p{P}\$\+<=>\^~\|]` as llama.cpp's collapsed-text std::regex sees them: ASCII
    /// punctuation except the backtick, plus $+<=>^~|, and non-ASCII code points of category P.
    static func isDefaultPunctuation(_ cp: UInt32, _ f: CodepointFlags) -> Bool {
        if cp < 128 {
            switch UInt8(cp) {
            case 0x21...0x2F, 0x3A...0x40, 0x5B...0x5F, 0x7B...0x7E: return true
            default: return false
            }
        }
        return !f.isWhitespace && f.contains(.punctuation)
    }

    /// Leftmost-longest runs of code points satisfying `pred`, cut every `maxLength`.
    private mutating func runs(_ out: inout [Int], maxLength: Int, _ pred: (UInt32, CodepointFlags) -> Bool) {
        var pos = start
        while pos < end {
            guard pred(cps[pos], flags[pos]) else { pos += 1; continue }
            emit(pos, &out)
            var runEnd = pos
            while runEnd < end, runEnd - pos < maxLength, pred(cps[runEnd], flags[runEnd]) { runEnd += 1 }
            emit(runEnd, &out)
            pos = runEnd
        }
    }

    /// `[0-9][0-9][0-9]`: non-overlapping triples of ASCII digits, leftmost first (`12345` → `123`, `45`).
    private mutating func asciiDigitTriples(_ out: inout [Int]) {
        func digit(_ i: Int) -> Bool { i < end && cps[i] >= 0x30 && cps[i] <= 0x39 }
        var pos = start
        while pos < end {
            if digit(pos), digit(pos + 1), digit(pos + 2) {
                emit(pos, &out)
                emit(pos + 3, &out)
                pos += 3
            } else {
                pos += 1
            }
        }
    }

    /// llama.cpp `unicode_regex_split_custom_gpt2`.
    private mutating func gpt2(_ out: inout [Int]) {
        var pos = start
        while pos < end {
            let c = cp(pos), f = fl(pos)
            if c == 0x27, pos + 1 < end {  // 's 't 're 've 'm 'll 'd (case-sensitive)
                let c1 = cp(pos + 1)
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { pos += emit(pos + 2, &out); continue }
                if pos + 2 < end {
                    let c2 = cp(pos + 2)
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                        pos += emit(pos + 3, &out); continue
                    }
                }
            }
            var f2 = c == 0x20 ? fl(pos + 1) : f
            if f2.isLetter || f2.isNumber {  // ` ?\p{L}+` and ` ?\p{N}+`
                let letters = f2.isLetter
                if c == 0x20 { pos += 1 }
                while letters ? f2.isLetter : f2.isNumber { pos += 1; f2 = fl(pos) }
                emit(pos, &out); continue
            }
            if Self.isOther(f2) {  // ` ?[^\s\p{L}\p{N}]+`
                if c == 0x20 { pos += 1 }
                while Self.isOther(f2) { pos += 1; f2 = fl(pos) }
                emit(pos, &out); continue
            }
            var n = 0
            while fl(pos + n).isWhitespace { n += 1 }
            if n > 1, cp(pos + n) != Self.outOfRange { pos += n - 1; emit(pos, &out); continue }  // \s+(?!\S)
            if n > 0 { pos += n; emit(pos, &out); continue }
            pos += 1
            emit(pos, &out)
        }
    }

    /// llama.cpp `unicode_regex_split_custom_llama3` (and its Qwen2 variant with single-digit numbers).
    private mutating func llama3(_ out: inout [Int], singleDigits: Bool) {
        var pos = start
        while pos < end {
            let c = cp(pos), f = fl(pos)
            if c == 0x27, pos + 1 < end {  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                let c1 = Self.asciiLower(cp(pos + 1))
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { pos += emit(pos + 2, &out); continue }
                if pos + 2 < end {
                    let c2 = Self.asciiLower(cp(pos + 2))
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                        pos += emit(pos + 3, &out); continue
                    }
                }
            }
            if !(c == 0x0D || c == 0x0A || f.isNumber), f.isLetter || fl(pos + 1).isLetter {
                pos += 1  // [^\r\n\p{L}\p{N}]?\p{L}+
                while fl(pos).isLetter { pos += 1 }
                emit(pos, &out); continue
            }
            if f.isNumber {
                if singleDigits { pos += 1; emit(pos, &out); continue }  // \p{N}
                var runStart = pos  // \p{N}{1,3}
                while fl(pos).isNumber {
                    pos += 1
                    if pos - runStart >= 3 { emit(pos, &out); runStart = pos }
                }
                emit(pos, &out); continue
            }
            var f2 = c == 0x20 ? fl(pos + 1) : f
            if Self.isOther(f2) {  //  ?[^\s\p{L}\p{N}]+[\r\n]*
                if c == 0x20 { pos += 1 }
                while Self.isOther(f2) { pos += 1; f2 = fl(pos) }
                while cp(pos) == 0x0D || cp(pos) == 0x0A { pos += 1 }
                emit(pos, &out); continue
            }
            var n = 0, lastNewlineEnd = 0
            while fl(pos + n).isWhitespace {
                let w = cp(pos + n)
                if w == 0x0D || w == 0x0A { lastNewlineEnd = pos + n + 1 }
                n += 1
            }
            if lastNewlineEnd > 0 { pos = lastNewlineEnd; emit(pos, &out); continue }  // \s*[\r\n]+
            if n > 1, cp(pos + n) != Self.outOfRange { pos += n - 1; emit(pos, &out); continue }  // \s+(?!\S)
            if n > 0 { pos += n; emit(pos, &out); continue }  // \s+
            pos += 1
            emit(pos, &out)
        }
    }

    /// `[^\s\p{L}\p{N}]` for a code point inside the piece.
    @inline(__always)
    static func isOther(_ f: CodepointFlags) -> Bool {
        f.exists && !f.isWhitespace && !f.isLetter && !f.isNumber
    }

    @inline(__always)
    static func asciiLower(_ c: UInt32) -> UInt32 { c >= 0x41 && c <= 0x5A ? c + 32 : c }
}
