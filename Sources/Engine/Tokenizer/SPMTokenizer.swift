/// SentencePiece-style BPE (`tokenizer.ggml.model = "llama"`: Gemma, Llama 1/2, tiny-llama-spm), as
/// llama.cpp's `llm_tokenizer_spm_session` does it (SPEC-model.md 4.2, 4.3).
///
/// Encoding: special-token partition → per raw fragment, optional space prefix and " " → "▁" → split into
/// UTF-8 characters → repeatedly merge the adjacent pair whose concatenation is the best-scoring vocabulary
/// token → emit tokens, falling back to `<0xNN>` byte tokens for text that is not in the vocabulary.
struct SPMTokenizer: VocabularyTokenizer {
    let vocabulary: Vocabulary
    let partitioner: SpecialTokenPartition
    /// Token for each byte value (`<0xNN>`, else the one-byte text, else unk), -1 if none.
    private let byteTokens: [Int]

    init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
        partitioner = SpecialTokenPartition(vocabulary: vocabulary)
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokens = (0..<256).map { b in
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // "<0xNN>"
            if let id = vocabulary.index.value(for: name[...]) { return Int(id) }
            if let id = vocabulary.index.value(for: [UInt8(b)][...]) { return Int(id) }
            return vocabulary.specials.unk ?? -1
        }
    }

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int] {
        let bytes = Array(text.utf8)
        let specials = vocabulary.specials
        var out: [Int] = []
        if addSpecial, specials.addBOS, let bos = specials.bos { out.append(bos) }
        var previousWasSpecial = true  // a first raw fragment gets the space prefix too
        var escaped: [UInt8] = []
        for fragment in partitioner.partition(bytes, vocabulary: vocabulary, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                out.append(id)
                previousWasSpecial = true
            case .raw(let range):
                escaped.removeAll(keepingCapacity: true)
                if specials.addSpacePrefix, previousWasSpecial { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
                for b in bytes[range] {
                    if b == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(b) }
                }
                encodeEscaped(escaped, into: &out)
                previousWasSpecial = false
            }
        }
        if addSpecial, specials.addEOS, let eos = specials.eos { out.append(eos) }
        return out
    }

    func appendPiece(_ id: Int, special: Bool, into out: inout [UInt8]) {
        let attrs = vocabulary.attributes[id]
        if !special, !attrs.isDisjoint(with: [.control, .unknown]) { return }
        let text = vocabulary.bytes(of: id)
        if !attrs.isDisjoint(with: [.control, .unknown, .userDefined]) {
            out.append(contentsOf: text)
        } else if attrs.contains(.normal) {
            // "▁" (E2 96 81) → " "
            var i = text.startIndex
            while i < text.endIndex {
                if text[i] == 0xE2, i + 2 < text.endIndex, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                    out.append(0x20)
                    i += 3
                } else {
                    out.append(text[i])
                    i += 1
                }
            }
        } else if attrs.contains(.byte) {
            out.append(Self.byteValue(of: text))
        }
    }

    /// llama.cpp `token_to_byte`: `strtol(text + 3, 16)` of a `<0xNN>` text, truncated to a byte.
    static func byteValue(of text: ArraySlice<UInt8>) -> UInt8 {
        var value = 0
        for c in text.dropFirst(3) {
            let digit: Int
            switch c {
            case 0x30...0x39: digit = Int(c) - 0x30
            case 0x41...0x46: digit = Int(c) - 0x41 + 10
            case 0x61...0x66: digit = Int(c) - 0x61 + 10
            default: return UInt8(truncatingIfNeeded: value)
            }
            value = (value & 0xFFFF) * 16 + digit
        }
        return UInt8(truncatingIfNeeded: value)
    }

    /// The merge loop over one escaped fragment (llama.cpp `llm_tokenizer_spm_session::tokenize`).
    private func encodeEscaped(_ text: [UInt8], into out: inout [Int]) {
        guard !text.isEmpty else { return }
        let spans = UTF8Scan.characterSpans(text)
        let starts = spans.starts
        var lens = spans.lens
        let count = starts.count
        var prev = (0..<count).map { $0 - 1 }
        var next = (0..<count).map { $0 + 1 == count ? -1 : $0 + 1 }
        var queue = MergeQueue<SPMBigram>(capacity: count)
        // rev_merge: text of every pushed bigram → (left, right), last write wins.
        var revMerge = ByteStringTable(minimumCapacity: count)
        var revPairs: [(Int, Int)] = []

        text.withUnsafeBufferPointer { t in
            func addBigram(_ left: Int, _ right: Int) {
                guard left >= 0, right >= 0 else { return }
                let span = UnsafeBufferPointer(rebasing: t[starts[left]..<(starts[left] + lens[left] + lens[right])])
                guard let id = vocabulary.id(for: span) else { return }
                queue.push(SPMBigram(score: vocabulary.scores[id], left: Int32(left), right: Int32(right),
                                     size: Int32(span.count)))
                revPairs.append((left, right))
                revMerge.insert(span, value: Int32(revPairs.count - 1), overwrite: true)
            }

            for i in 1..<max(1, count) { addBigram(i - 1, i) }
            while let bigram = queue.pop() {
                let l = Int(bigram.left), r = Int(bigram.right)
                guard lens[l] > 0, lens[r] > 0, lens[l] + lens[r] == Int(bigram.size) else { continue }
                lens[l] += lens[r]
                lens[r] = 0
                next[l] = next[r]
                if next[r] >= 0 { prev[next[r]] = l }
                addBigram(prev[l], l)
                addBigram(l, next[l])
            }

            func resegment(_ i: Int, depth: Int) {
                let span = UnsafeBufferPointer(rebasing: t[starts[i]..<(starts[i] + lens[i])])
                if let id = vocabulary.id(for: span) {
                    out.append(id)
                    return
                }
                // NOTE: for well-formed UTF-8 a leftover symbol is one character and no bigram text equals a
                // single character, so this branch is only reachable with ill-formed input; the depth guard
                // keeps such input from recursing forever.
                if depth < 64, let pair = revMerge.value(for: span) {
                    let (a, b) = revPairs[Int(pair)]
                    resegment(a, depth: depth + 1)
                    resegment(b, depth: depth + 1)
                    return
                }
                for byte in span where byteTokens[Int(byte)] >= 0 { out.append(byteTokens[Int(byte)]) }
            }

            var i = 0
            while i != -1 {
                resegment(i, depth: 0)
                i = next[i]
            }
        }
    }
}

/// An SPM work-queue entry: highest score first, then the smallest left index (llama.cpp `llm_bigram_spm`).
struct SPMBigram: MergeCandidate {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32

    static func precedes(_ a: SPMBigram, _ b: SPMBigram) -> Bool {
        a.score > b.score || (a.score == b.score && a.left < b.left)
    }
}
