import Tensor

/// Builds the tokenizer a GGUF file describes from its `tokenizer.ggml.*` metadata, applying llama.cpp's
/// defaults and load-time fix-ups (`llama_vocab::impl::load`; SPEC-model.md 4.1, 7.1, 7.4, 7.7).
public enum TokenizerLoader {
    /// Reads the vocabulary and returns an SPM (`tokenizer.ggml.model = "llama"`) or byte-level BPE
    /// (`"gpt2"`) tokenizer.
    ///
    /// - Throws: `TokenizerError` naming the problem: an unknown or missing `tokenizer.ggml.model`, an
    ///   unknown `tokenizer.ggml.pre`, missing tokens or merges, per-token arrays of the wrong length,
    ///   `add_bos_token` / `add_eos_token` without a valid id, or a metadata value of the wrong type.
    public static func load(from file: GGUFFile) throws(TokenizerError) -> any Tokenizer {
        do {
            return try build(file)
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError(.invalidMetadata, "cannot read the tokenizer metadata", underlying: error)
        }
    }

    private static func build(_ file: GGUFFile) throws -> any Tokenizer {
        guard let model = try file.optionalString("tokenizer.ggml.model") else {
            throw TokenizerError(.unknownModel, "tokenizer.ggml.model is missing")
        }
        let isSPM: Bool
        switch model {
        case "llama": isSPM = true
        case "gpt2": isSPM = false
        default:
            throw TokenizerError(.unknownModel,
                                 "unknown tokenizer.ggml.model '\(model)' (supported: 'llama' = SentencePiece, 'gpt2' = byte-level BPE)")
        }
        var preKind = PreTokenizerKind.default
        if !isSPM {
            let pre = try file.optionalString("tokenizer.ggml.pre")
            guard let kind = PreTokenizerKind(ggufName: pre) else {
                throw TokenizerError(.unknownPreTokenizer, "unknown pre-tokenizer type '\(pre ?? "")' in tokenizer.ggml.pre")
            }
            preKind = kind
        }
        // NOTE: the token texts go from the mapped file straight into the vocabulary's byte table; a
        // transient [String] of 262144 tokens (Gemma) would cost tens of MB of peak RSS.
        let built = try file.withStringArrayBytes("tokenizer.ggml.tokens") { count, text in
            guard count > 0 else { throw TokenizerError(.missingTokens, "tokenizer.ggml.tokens is missing or empty") }
            let scores = try file.optionalFloats("tokenizer.ggml.scores")
            let types = try file.optionalInts("tokenizer.ggml.token_type")
            if let scores, scores.count != count {
                throw TokenizerError(.inconsistentMetadata, "tokenizer.ggml.scores has \(scores.count) entries for \(count) tokens")
            }
            if let types, types.count != count {
                throw TokenizerError(.inconsistentMetadata, "tokenizer.ggml.token_type has \(types.count) entries for \(count) tokens")
            }
            return Vocabulary(count: count, text: text, scores: scores, types: types)
        }
        guard var vocab = built else {
            throw TokenizerError(.missingTokens, "tokenizer.ggml.tokens is missing or empty")
        }
        var merges: [String] = []
        if !isSPM {
            guard let m = try file.optionalStrings("tokenizer.ggml.merges") else {
                throw TokenizerError(.missingMerges, "byte-level BPE vocabulary without tokenizer.ggml.merges")
            }
            merges = m
        }

        var s = SpecialTokens()
        if isSPM {
            s.bos = 1; s.eos = 2; s.unk = 0
            s.addBOS = true; s.addSpacePrefix = true
        } else {
            s.bos = 11; s.eos = 11
            s.addBOS = preKind.addBOSDefault; s.cleanSpaces = preKind.cleanSpaces
        }
        s.bos = vocab.validID(s.bos); s.eos = vocab.validID(s.eos); s.unk = vocab.validID(s.unk)
        if let v = try file.optionalBool("tokenizer.ggml.add_space_prefix") { s.addSpacePrefix = v }
        let eotKey = try file.optionalInt("tokenizer.ggml.eot_token_id")
        let eomKey = try file.optionalInt("tokenizer.ggml.eom_token_id")
        // A key that is present but out of range keeps the default (llama.cpp warns "bad special token").
        func override(_ key: String, _ value: inout Int?) throws {
            if let id = vocab.validID(try file.optionalInt(key)) { value = id }
        }
        try override("tokenizer.ggml.bos_token_id", &s.bos)
        try override("tokenizer.ggml.eos_token_id", &s.eos)
        try override("tokenizer.ggml.unknown_token_id", &s.unk)
        try override("tokenizer.ggml.padding_token_id", &s.pad)
        s.eot = vocab.validID(eotKey)
        s.eom = vocab.validID(eomKey)
        if let v = try file.optionalBool("tokenizer.ggml.add_bos_token") { s.addBOS = v }
        if let v = try file.optionalBool("tokenizer.ggml.add_eos_token") { s.addEOS = v }
        vocab.specials = s
        vocab.applySpecialTokenFixups(eotFromFile: s.eot != nil, eomFromFile: s.eom != nil)
        try applyNameAttributes(file, &vocab)

        if vocab.specials.addBOS, vocab.specials.bos == nil {
            throw TokenizerError(.missingSpecialToken, "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set")
        }
        if vocab.specials.addEOS, vocab.specials.eos == nil {
            throw TokenizerError(.missingSpecialToken, "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set")
        }
        if isSPM { return SPMTokenizer(vocabulary: vocab) }
        return BPETokenizer(vocabulary: vocab, merges: merges, preTokenizer: preKind)
    }

    /// llama.cpp sets LSTRIP/RSTRIP only by model name: for Phi-3 every special-token candidate and `</s>`
    /// strip whitespace on their right, except `<unk>`, `<s>` and `<|endoftext|>`.
    private static func applyNameAttributes(_ file: GGUFFile, _ vocab: inout Vocabulary) throws {
        let name = (try file.optionalString("general.name") ?? "").lowercased()
        guard name.contains("phi-3") || name.contains("phi3") else { return }
        let wanted: TokenAttributes = [.control, .userDefined, .unknown]
        for id in 0..<vocab.count where !vocab.attributes[id].isDisjoint(with: wanted) {
            vocab.addAttributes(.rstrip, to: id)
        }
        if let id = vocab.id(for: "</s>") { vocab.addAttributes(.rstrip, to: id) }
        for text in ["<unk>", "<s>", "<|endoftext|>"] {
            if let id = vocab.id(for: text) {
                vocab.setAttributes(vocab.attributes[id].subtracting(.rstrip), of: id)
            }
        }
    }
}
