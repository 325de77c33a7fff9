/// One piece of the input after special-token partitioning: raw text to encode, or a single token id.
enum TextFragment: Equatable, Sendable {
    /// Byte range of the input that the encoder still has to tokenize.
    case raw(Range<Int>)
    /// A special or user-defined token found verbatim in the input.
    case token(Int)
}

/// llama.cpp `tokenizer_st_partition` (SPEC-model.md 4.2 step 1, 7.3 step 2).
///
/// Candidates are every token with the CONTROL, USER_DEFINED or UNKNOWN attribute, longest text first.
/// For each candidate in turn, every non-overlapping occurrence (leftmost first) inside a still-raw part of
/// the text becomes a token fragment. Without `parseSpecial`, CONTROL / UNKNOWN candidates are skipped, so
/// USER_DEFINED tokens (Gemma's "\n", space runs, HTML tags) are split out even then.
///
/// NOTE: instead of llama.cpp's linked list of fragments (one `find` per candidate per fragment, which
/// costs candidates × text length for Gemma's 6,400 candidates), we keep one ownership mark per byte and
/// visit only the positions where the candidate's first two bytes occur. A match must lie on bytes that are
/// all still raw, which is exactly "inside one raw fragment". Equal-length candidates are taken in id
/// order (llama.cpp's `std::sort` leaves that order unspecified).
struct SpecialTokenPartition: Sendable {
    private let candidates: [Int32]

    init(vocabulary: Vocabulary) {
        let wanted: TokenAttributes = [.control, .userDefined, .unknown]
        var ids: [Int32] = []
        for id in 0..<vocabulary.count where !vocabulary.attributes[id].isDisjoint(with: wanted) {
            if vocabulary.length(of: id) > 0 { ids.append(Int32(id)) }
        }
        // Stable: longest first, then id order.
        ids.sort { a, b in
            let la = vocabulary.length(of: Int(a)), lb = vocabulary.length(of: Int(b))
            return la != lb ? la > lb : a < b
        }
        candidates = ids
    }

    /// Splits `text` into fragments; an empty text gives no fragments.
    func partition(_ text: [UInt8], vocabulary: Vocabulary, parseSpecial: Bool) -> [TextFragment] {
        let n = text.count
        guard n > 0 else { return [] }
        // owner[i]: -1 raw, -2 removed by lstrip/rstrip, -3 inside a token, >= 0 id of the token starting at i.
        var owner = [Int32](repeating: -1, count: n)
        var index = CandidatePositions(text)
        var found = false
        for cand in candidates {
            let id = Int(cand)
            let attrs = vocabulary.attributes[id]
            if !parseSpecial, !attrs.isDisjoint(with: [.control, .unknown]) { continue }
            let token = vocabulary.bytes(of: id)
            let len = token.count
            guard len <= n else { continue }
            let positions = index.positions(startingWith: token)
            var nextAllowed = 0
            for p32 in positions {
                let p = Int(p32)
                guard p >= nextAllowed, p + len <= n, owner[p] == -1 else { continue }
                var match = true
                var k = 0
                for b in token {
                    if text[p + k] != b || owner[p + k] != -1 { match = false; break }
                    k += 1
                }
                guard match else { continue }
                found = true
                owner[p] = cand
                for k in 1..<max(1, len) { owner[p + k] = -3 }
                nextAllowed = p + len
                if attrs.contains(.lstrip) {
                    var j = p - 1
                    while j >= 0, owner[j] == -1, Self.isSpace(text[j]) { owner[j] = -2; j -= 1 }
                }
                if attrs.contains(.rstrip) {
                    var j = p + len
                    while j < n, owner[j] == -1, Self.isSpace(text[j]) { owner[j] = -2; j += 1 }
                    nextAllowed = j
                }
            }
        }
        guard found else { return [.raw(0..<n)] }
        var fragments: [TextFragment] = []
        var i = 0
        while i < n {
            let o = owner[i]
            if o >= 0 {
                fragments.append(.token(Int(o)))
                i += vocabulary.length(of: Int(o))
            } else if o == -1 {
                var j = i + 1
                while j < n, owner[j] == -1 { j += 1 }
                fragments.append(.raw(i..<j))
                i = j
            } else {
                i += 1
            }
        }
        return fragments
    }

    /// Start positions of one- and two-byte prefixes in the text, built on first use.
    private struct CandidatePositions {
        let text: [UInt8]
        var byByte = [[Int32]?](repeating: nil, count: 256)
        var byPair: [UInt16: [Int32]] = [:]

        init(_ text: [UInt8]) { self.text = text }

        /// Every position where `token`'s first two bytes (or its only byte) occur, ascending.
        mutating func positions(startingWith token: ArraySlice<UInt8>) -> [Int32] {
            let b0 = token[token.startIndex]
            if byByte[Int(b0)] == nil {
                var list: [Int32] = []
                for i in 0..<text.count where text[i] == b0 { list.append(Int32(i)) }
                byByte[Int(b0)] = list
            }
            let first = byByte[Int(b0)]!
            guard token.count >= 2 else { return first }
            let b1 = token[token.startIndex + 1]
            let key = UInt16(b0) << 8 | UInt16(b1)
            if let list = byPair[key] { return list }
            let list = first.filter { Int($0) + 1 < text.count && text[Int($0) + 1] == b1 }
            byPair[key] = list
            return list
        }
    }

    /// C `isspace` in the "C" locale.
    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
}
