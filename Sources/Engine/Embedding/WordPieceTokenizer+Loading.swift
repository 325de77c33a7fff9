import Foundation

extension WordPieceTokenizer {
    /// Loads the tokenizer of a sentence-transformers model folder: `tokenizer.json` (vocabulary, normalizer
    /// flags, added special tokens, WordPiece settings), or `vocab.txt` (one token per line, id = line
    /// number) plus `tokenizer_config.json`'s `do_lower_case` when there is no tokenizer.json.
    /// Throws `EngineError(.loadFailed)` naming the file and the problem.
    public static func load(directory: String, maxLength: Int) throws(EngineError) -> WordPieceTokenizer {
        let json = directory + "/tokenizer.json"
        if FileManager.default.fileExists(atPath: json) {
            return try load(tokenizerJSON: json, maxLength: maxLength)
        }
        let txt = directory + "/vocab.txt"
        guard FileManager.default.fileExists(atPath: txt) else {
            throw EngineError(.loadFailed, "\(directory): neither tokenizer.json nor vocab.txt found")
        }
        let text: String
        do { text = try String(contentsOfFile: txt, encoding: .utf8) } catch {
            throw EngineError(.loadFailed, "cannot read \(txt)", underlying: error)
        }
        var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        if lines.last == "" { lines.removeLast() }
        var normalizer = BertNormalizer()
        if let config = try? jsonObject(directory + "/tokenizer_config.json"),
           let lower = config["do_lower_case"] as? Bool {
            normalizer.lowercase = lower
            normalizer.stripAccents = lower
        }
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter { lines.contains($0) }
        return try WordPieceTokenizer(tokens: lines, specials: specials, normalizer: normalizer, maxLength: maxLength)
    }

    /// Loads a BERT `tokenizer.json` (WordPiece model, BertNormalizer, BertPreTokenizer).
    public static func load(tokenizerJSON path: String, maxLength: Int) throws(EngineError) -> WordPieceTokenizer {
        let root = try jsonObject(path)
        func fail(_ what: String) -> EngineError { EngineError(.loadFailed, "\(path): \(what)") }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "WordPiece",
              let vocab = model["vocab"] as? [String: Any] else {
            throw fail("model is not a WordPiece model with a vocab")
        }
        var tokens = [String](repeating: "", count: vocab.count)
        for (token, value) in vocab {
            guard let id = value as? Int, id >= 0, id < vocab.count, tokens[id].isEmpty else {
                throw fail("vocab id of '\(token)' is not a unique integer in 0..<\(vocab.count)")
            }
            tokens[id] = token
        }
        var normalizer = BertNormalizer()
        if let norm = root["normalizer"] as? [String: Any] {
            guard norm["type"] as? String == "BertNormalizer" else {
                throw fail("normalizer \(norm["type"] ?? "?") is not supported (only BertNormalizer)")
            }
            normalizer.cleanText = norm["clean_text"] as? Bool ?? true
            normalizer.handleChineseChars = norm["handle_chinese_chars"] as? Bool ?? true
            normalizer.lowercase = norm["lowercase"] as? Bool ?? true
            normalizer.stripAccents = norm["strip_accents"] as? Bool ?? normalizer.lowercase
        }
        if let pre = root["pre_tokenizer"] as? [String: Any], pre["type"] as? String != "BertPreTokenizer" {
            throw fail("pre-tokenizer \(pre["type"] ?? "?") is not supported (only BertPreTokenizer)")
        }
        let added = (root["added_tokens"] as? [[String: Any]]) ?? []
        var specials: [String] = []
        for t in added {
            guard let content = t["content"] as? String, let id = t["id"] as? Int else {
                throw fail("added token without content or id")
            }
            guard id >= 0, id < tokens.count, tokens[id] == content else {
                throw fail("added token '\(content)' id \(id) does not match the vocabulary")
            }
            specials.append(content)
        }
        var cls = "[CLS]", sep = "[SEP]"
        if let post = root["post_processor"] as? [String: Any],
           let single = post["single"] as? [[String: Any]] {
            let names = single.compactMap { ($0["SpecialToken"] as? [String: Any])?["id"] as? String }
            if names.count == 2 { (cls, sep) = (names[0], names[1]) }
        }
        return try WordPieceTokenizer(
            tokens: tokens, unk: model["unk_token"] as? String ?? "[UNK]", cls: cls, sep: sep, specials: specials,
            normalizer: normalizer, prefix: model["continuing_subword_prefix"] as? String ?? "##",
            maxInputCharsPerWord: model["max_input_chars_per_word"] as? Int ?? 100, maxLength: maxLength)
    }

    /// A JSON file whose root is an object.
    static func jsonObject(_ path: String) throws(EngineError) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError(.loadFailed, "cannot read \(path)")
        }
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: data) } catch {
            throw EngineError(.loadFailed, "\(path) is not valid JSON", underlying: error)
        }
        guard let object = value as? [String: Any] else {
            throw EngineError(.loadFailed, "\(path): the root is not a JSON object")
        }
        return object
    }
}
