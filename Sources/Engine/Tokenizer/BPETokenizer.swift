/// Byte-level BPE (`tokenizer.ggml.model = "gpt2"`: Qwen2, Llama 3, SmolLM, GPT-2), as llama.cpp's
/// `llm_tokenizer_bpe_session` does it (SPEC-model.md 7.3-7.8).
///
/// Encoding: special-token partition → per raw fragment, pre-tokenize into words → byte-encode each word
/// (GPT-2 alphabet) → merge adjacent symbols by lowest merge rank → look the symbols up by text.
struct BPETokenizer: VocabularyTokenizer {
    let vocabulary: Vocabulary
    /// Merge rank by key `left ‖ 0xFF ‖ right` (0xFF never occurs in UTF-8, so keys are unambiguous).
    let mergeRanks: ByteStringTable
    let preTokenizer: PreTokenizer
    let partitioner: SpecialTokenPartition

    init(vocabulary: Vocabulary, merges: [String], preTokenizer: PreTokenizerKind) {
        self.vocabulary = vocabulary
        var ranks = ByteStringTable(minimumCapacity: merges.count)
        for (rank, merge) in merges.enumerated() {
            // Split at the first space at byte index >= 1 (a literal-space left side still works); a merge
            // without one would register ("", "") which can never match, so it is skipped.
            var key = Array(merge.utf8)
            guard key.count > 1, let space = key[1...].firstIndex(of: 0x20) else { continue }
            key[space] = 0xFF
            ranks.insert(key[...], value: Int32(rank), overwrite: false)  // the first (lowest) rank wins
        }
        mergeRanks = ranks
        self.preTokenizer = PreTokenizer(kind: preTokenizer)
        partitioner = SpecialTokenPartition(vocabulary: vocabulary)
    }

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int] {
        let bytes = Array(text.utf8)
        var out: [Int] = []
        let specials = vocabulary.specials
        if addSpecial, specials.addBOS, let bos = specials.bos { out.append(bos) }
        for fragment in partitioner.partition(bytes, vocabulary: vocabulary, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id): out.append(id)
            case .raw(let range): encodeFragment(bytes[range], into: &out)
            }
        }
        if addSpecial, specials.addEOS, let eos = specials.eos { out.append(eos) }
        return out
    }

    func appendPiece(_ id: Int, special: Bool, into out: inout [UInt8]) {
        let attrs = vocabulary.attributes[id]
        if !special, !attrs.isDisjoint(with: [.control, .unknown]) { return }
        if !attrs.isDisjoint(with: [.control, .unknown, .userDefined]) {
            out.append(contentsOf: vocabulary.bytes(of: id))
        } else if attrs.contains(.normal) {
            ByteLevel.decodeToken(vocabulary.bytes(of: id), into: &out)
        } else if attrs.contains(.byte) {
            out.append(SPMTokenizer.byteValue(of: vocabulary.bytes(of: id)))
        }
    }

    /// Pre-tokenizes one raw fragment and merges each word.
    private func encodeFragment(_ bytes: ArraySlice<UInt8>, into out: inout [Int]) {
        let cps = bytes.withUnsafeBufferPointer { UTF8Scan.codepoints($0) }
        var start = 0
        var word: [UInt8] = []
        var scratch: [UInt8] = []
        for length in preTokenizer.split(cps) {
            word.removeAll(keepingCapacity: true)
            var utf8: [UInt8] = []
            for cp in cps[start..<(start + length)] {
                utf8.removeAll(keepingCapacity: true)
                ByteLevel.appendUTF8(cp, to: &utf8)
                for b in utf8 { word.append(contentsOf: ByteLevel.encoded[Int(b)]) }
            }
            start += length
            mergeWord(word, scratch: &scratch, into: &out)
        }
    }

    /// BPE of one byte-encoded word (llama.cpp `llm_tokenizer_bpe_session::tokenize`, SPEC-model.md 7.6).
    private func mergeWord(_ word: [UInt8], scratch: inout [UInt8], into out: inout [Int]) {
        if preTokenizer.kind.ignoreMerges, let id = word.withUnsafeBufferPointer({ vocabulary.id(for: $0) }) {
            out.append(id)
            return
        }
        // Symbols: the UTF-8 characters of the encoded word, as a doubly linked list over byte spans.
        let spans = UTF8Scan.characterSpans(word)
        let starts = spans.starts
        var lens = spans.lens
        let count = starts.count
        var prev = (0..<count).map { $0 - 1 }
        var next = (0..<count).map { $0 + 1 == count ? -1 : $0 + 1 }
        var queue = MergeQueue<BPEBigram>(capacity: count)

        func addBigram(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: word[starts[left]..<(starts[left] + lens[left])])
            scratch.append(0xFF)
            scratch.append(contentsOf: word[starts[right]..<(starts[right] + lens[right])])
            guard let rank = mergeRanks.value(for: scratch[...]) else { return }
            queue.push(BPEBigram(rank: rank, left: Int32(left), right: Int32(right),
                                 size: Int32(lens[left] + lens[right])))
        }

        for i in 1..<max(1, count) { addBigram(i - 1, i) }
        while let bigram = queue.pop() {
            let l = Int(bigram.left), r = Int(bigram.right)
            // Stale: a side was consumed, or changed (both spans are contiguous from fixed starts, so
            // comparing the size is the same as llama.cpp comparing the text).
            guard lens[l] > 0, lens[r] > 0, lens[l] + lens[r] == Int(bigram.size) else { continue }
            lens[l] += lens[r]
            lens[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            addBigram(prev[l], l)
            addBigram(l, next[l])
        }
        word.withUnsafeBufferPointer { w in
            for i in 0..<count where lens[i] > 0 {
                let symbol = UnsafeBufferPointer(rebasing: w[starts[i]..<(starts[i] + lens[i])])
                if let id = vocabulary.id(for: symbol) {
                    out.append(id)
                } else {
                    // Fallback: each raw byte looked up as a one-byte text; missing ones are dropped.
                    for b in symbol {
                        if let id = [b].withUnsafeBufferPointer({ vocabulary.id(for: $0) }) { out.append(id) }
                    }
                }
            }
        }
    }
}

/// A BPE work-queue entry: lowest rank first, then the smallest left index (llama.cpp `llm_bigram_bpe`).
struct BPEBigram: MergeCandidate {
    var rank: Int32
    var left: Int32
    var right: Int32
    var size: Int32

    static func precedes(_ a: BPEBigram, _ b: BPEBigram) -> Bool {
        a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
    }
}
