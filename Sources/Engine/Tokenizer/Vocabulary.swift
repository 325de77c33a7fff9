/// Per-token attributes, bit-compatible with llama.cpp's `llama_token_attr`.
struct TokenAttributes: OptionSet, Sendable, Hashable {
    let rawValue: UInt16
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)
    static let lstrip = TokenAttributes(rawValue: 1 << 7)
    static let rstrip = TokenAttributes(rawValue: 1 << 8)

    /// The attribute llama.cpp derives from a GGUF `tokenizer.ggml.token_type` value
    /// (1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE; anything else is UNDEFINED = []).
    init(tokenType: Int) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []
        }
    }

    init(rawValue: UInt16) { self.rawValue = rawValue }
}

/// Special token ids and the flags that steer encoding and decoding (llama.cpp `llama_vocab::impl` fields).
struct SpecialTokens: Sendable {
    var bos: Int?
    var eos: Int?
    var eot: Int?
    var eom: Int?
    var unk: Int?
    var pad: Int?
    /// End-of-generation ids (llama.cpp `special_eog_ids`).
    var eog: Set<Int> = []
    var addBOS = false
    var addEOS = false
    /// SPM: prepend " " to a raw fragment that starts the text or follows a special token; every type:
    /// strip one leading space from the first decoded piece.
    var addSpacePrefix = false
    /// BPE: run the `clean_spaces` passes when decoding.
    var cleanSpaces = false
}

/// The token table of a model: texts (as raw UTF-8 bytes), scores, attributes and an exact text→id map.
struct Vocabulary: Sendable {
    /// Number of tokens.
    let count: Int
    /// Token i's text is `textBytes[textStarts[i] ..< textStarts[i + 1]]`.
    private let textBytes: [UInt8]
    private let textStarts: [Int32]
    /// SPM merge priorities (0 when the file has no scores).
    let scores: [Float]
    /// Attributes after llama.cpp's load-time fix-ups.
    private(set) var attributes: [TokenAttributes]
    /// Exact text→id lookup over all tokens of any type (llama.cpp `token_to_id`; the last duplicate wins).
    let index: ByteStringTable
    var specials = SpecialTokens()

    /// Builds the table. An empty text becomes `[EMPTY_<i>]` as in llama.cpp; `scores` / `types` may be nil
    /// (then 0 and NORMAL) but must otherwise have one entry per token.
    init(texts: [String], scores: [Float]?, types: [Int]?) {
        self.init(count: texts.count, scores: scores, types: types) { i, bytes in bytes.append(contentsOf: texts[i].utf8) }
    }

    /// Builds the table from raw UTF-8 texts (e.g. views into a GGUF file): `text(i)` is token i's bytes.
    init(count: Int, text: (Int) -> UnsafeRawBufferPointer, scores: [Float]?, types: [Int]?) {
        self.init(count: count, scores: scores, types: types) { i, bytes in bytes.append(contentsOf: text(i)) }
    }

    /// The shared builder: `appendText(i, &bytes)` appends token i's UTF-8 text.
    private init(count: Int, scores: [Float]?, types: [Int]?, appendText: (Int, inout [UInt8]) -> Void) {
        self.count = count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 8)
        var starts: [Int32] = [0]
        starts.reserveCapacity(count + 1)
        var table = ByteStringTable(minimumCapacity: count)
        for i in 0..<count {
            let start = bytes.count
            appendText(i, &bytes)
            if bytes.count == start { bytes.append(contentsOf: "[EMPTY_\(i)]".utf8) }
            starts.append(Int32(bytes.count))
            bytes.withUnsafeBufferPointer { all in
                table.insert(UnsafeBufferPointer(rebasing: all[start...]), value: Int32(i), overwrite: true)
            }
        }
        textBytes = bytes
        textStarts = starts
        index = table
        self.scores = scores ?? [Float](repeating: 0, count: count)
        attributes = types.map { $0.map(TokenAttributes.init(tokenType:)) }
            ?? [TokenAttributes](repeating: .normal, count: count)
    }

    /// The bytes of token `id`'s text (`id` must be in range).
    @inline(__always)
    func bytes(of id: Int) -> ArraySlice<UInt8> {
        textBytes[Int(textStarts[id])..<Int(textStarts[id + 1])]
    }

    /// Token `id`'s text as a String (invalid UTF-8 is replaced).
    func text(of id: Int) -> String {
        String(decoding: bytes(of: id), as: UTF8.self)
    }

    /// Byte length of token `id`'s text.
    func length(of id: Int) -> Int { Int(textStarts[id + 1] - textStarts[id]) }

    /// The id whose text is exactly `key`, if any.
    @inline(__always)
    func id(for key: UnsafeBufferPointer<UInt8>) -> Int? {
        index.value(for: key).map(Int.init)
    }

    /// The id whose text is exactly `text`, if any.
    func id(for text: String) -> Int? {
        var t = text
        return t.withUTF8 { id(for: $0) }
    }

    /// `id` if it is a valid token id, else nil (llama.cpp ignores out-of-range special ids).
    func validID(_ id: Int?) -> Int? {
        guard let id, id >= 0, id < count else { return nil }
        return id
    }

    mutating func setAttributes(_ attrs: TokenAttributes, of id: Int) { attributes[id] = attrs }

    mutating func addAttributes(_ attrs: TokenAttributes, to id: Int) { attributes[id].formUnion(attrs) }
}

extension Vocabulary {
    /// Texts llama.cpp treats as end-of-turn when the file has no `eot_token_id` (first found wins).
    static let eotTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                           "<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>"]
    /// Texts whose tokens always end generation (llama.cpp's EOG text list).
    static let eogTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                           "<|calls|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
                           "<|end_of_text|>", "<end_of_utterance>", "</s>"]
    /// Fill-in-the-middle marker texts; llama.cpp makes them CONTROL, and pad/repo/sep also end generation.
    static let fimTexts: [(kind: String, texts: [String])] = [
        ("pre", ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"]),
        ("suf", ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"]),
        ("mid", ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"]),
        ("pad", ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"]),
        ("rep", ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
        ("sep", ["<|file_sep|>", "<file_sep>", "<|file_separator|>"]),
    ]

    /// The id of the first text in `texts` that is a token.
    func firstID(among texts: [String]) -> Int? {
        for text in texts { if let id = id(for: text) { return id } }
        return nil
    }

    /// llama.cpp's load-time fix-ups by token text (SPEC-model.md 4.1, 7.1): auto-detect EOT / EOM / FIM
    /// tokens, build the EOG set, and force the CONTROL attribute onto every such token.
    ///
    /// NOTE: llama.cpp walks an unordered map, so "first found" among several EOT-like texts is
    /// hash order; we take the first text of the list that exists. Only `eot` itself depends on it.
    mutating func applySpecialTokenFixups(eotFromFile: Bool, eomFromFile: Bool) {
        func forceControl(_ id: Int) {
            if !attributes[id].contains(.control) { attributes[id] = .control }
        }
        if !eotFromFile, specials.eot == nil,
           let id = firstID(among: Self.eotTexts) {
            specials.eot = id
            forceControl(id)
        }
        if !eomFromFile, specials.eom == nil, let id = self.id(for: "<|eom_id|>") {
            specials.eom = id
            forceControl(id)
        }
        var eog = Set<Int>()
        for (kind, texts) in Self.fimTexts {
            guard let id = firstID(among: texts) else { continue }
            forceControl(id)
            if kind == "pad" || kind == "rep" || kind == "sep" { eog.insert(id) }
        }
        for text in Self.eogTexts {
            guard let id = self.id(for: text) else { continue }
            eog.insert(id)
            forceControl(id)
        }
        for id in [specials.eos, specials.eot, specials.eom].compactMap({ $0 }) { eog.insert(id) }
        specials.eog = eog
        // CONTROL tokens named "<unused…>" are also UNUSED (no visible effect on encoding or decoding).
        for id in 0..<count where attributes[id].contains(.control) {
            if text(of: id).contains("unused") { attributes[id].insert(.unused) }
        }
    }
}
