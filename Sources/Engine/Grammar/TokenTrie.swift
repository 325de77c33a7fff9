/// Every token's bytes in one trie, built once per vocabulary, so a grammar mask walks shared prefixes once
/// and skips a whole subtree as soon as its prefix is refused: over Gemma's 262k tokens most subtrees die at
/// their first byte.
///
/// Nodes are stored breadth-first with each node's children contiguous. Tokens with no bytes (control
/// tokens) are in no node: a grammar never allows them; end-of-generation ids are decided by the caller.
public final class TokenTrie: Sendable {
    public let vocabularySize: Int
    /// Node 0 is the root (the empty prefix).
    let byte: [UInt8]          // [nodes] the byte leading to the node
    let firstChild: [Int32]    // [nodes]
    let childCount: [Int32]    // [nodes]
    let tokenStart: [Int32]    // [nodes] the node's tokens: tokens[tokenStart ..< tokenStart + tokenCount]
    let tokenCount: [Int32]    // [nodes]
    let tokens: [Int32]        // [tokens with bytes]
    /// Every token's bytes (empty for control tokens), for the per-token check.
    public let pieces: [[UInt8]]

    public var nodeCount: Int { byte.count }

    /// Builds the trie of `tokenizer.pieceBytes(id, special: false)` for every id.
    public init(tokenizer: any Tokenizer) {
        let n = tokenizer.vocabularySize
        vocabularySize = n
        let pieces = (0..<n).map { tokenizer.pieceBytes($0, special: false) }
        self.pieces = pieces
        let order = (0..<n).filter { !pieces[$0].isEmpty }.sorted { a, b in
            pieces[a].lexicographicallyPrecedes(pieces[b]) || (pieces[a] == pieces[b] && a < b)
        }
        var byte: [UInt8] = [0], firstChild: [Int32] = [0], childCount: [Int32] = [0]
        var tokenStart: [Int32] = [0], tokenCount: [Int32] = [0], tokens: [Int32] = []
        tokens.reserveCapacity(order.count)
        // Breadth-first: (node, range of `order`, depth).
        var queue: [(node: Int, lo: Int, hi: Int, depth: Int)] = [(0, 0, order.count, 0)]
        var head = 0
        while head < queue.count {
            let (node, lo, hi, d) = queue[head]
            head += 1
            var i = lo
            tokenStart[node] = Int32(tokens.count)
            while i < hi, pieces[order[i]].count == d {
                tokens.append(Int32(order[i]))
                i += 1
            }
            tokenCount[node] = Int32(tokens.count) - tokenStart[node]
            firstChild[node] = Int32(byte.count)
            while i < hi {
                let b = pieces[order[i]][d]
                var j = i
                while j < hi, pieces[order[j]][d] == b { j += 1 }
                byte.append(b); firstChild.append(0); childCount.append(0); tokenStart.append(0); tokenCount.append(0)
                queue.append((byte.count - 1, i, j, d + 1))
                childCount[node] += 1
                i = j
            }
        }
        self.byte = byte
        self.firstChild = firstChild
        self.childCount = childCount
        self.tokenStart = tokenStart
        self.tokenCount = tokenCount
        self.tokens = tokens
    }
}
