import Crypto

/// Pure block hashing: the chained, model-seeded SHA-256 of full KV blocks.
///
/// Canonical byte encodings (all integers little-endian):
/// ```
/// root  = SHA-256( "pfx-root" | u32 len(fingerprint) | fingerprint | u32 blockSize )
/// block = SHA-256( "pfx1" | parent hash (32 bytes) | u32 tokenCount | tokenCount x u32 token id
///                  | u32 keyCount | keyCount x (kind u8 | u32 len | bytes) )
/// ```
/// The first block's parent is `root`. Every field is either fixed-size or length-prefixed, so no two
/// different inputs share an encoding; because each hash commits to its parent, a block hash also commits
/// to every token before it, hence to its absolute position (RoPE is part of the KV, so a block is only
/// valid at one position). Any process or language following this text computes the same hashes.
///
/// Reference: vLLM `hash_block_tokens` (parent hash, token ids, extra keys), with tagged extra keys and a
/// model-derived root instead of a random or constant seed.
public struct BlockHasher: Sendable {
    /// Tokens per block (a power of two).
    public let blockSize: Int
    /// The parent hash of block 0, derived from the model fingerprint and block size.
    public let root: BlockHash

    static let rootTag: [UInt8] = Array("pfx-root".utf8)
    static let blockTag: [UInt8] = Array("pfx1".utf8)

    /// Creates a hasher for one model and block size.
    public init(model: ModelFingerprint, blockSize: Int) {
        self.blockSize = blockSize
        var buffer = Self.rootTag
        ByteEncoding.appendLengthPrefixed(model.bytes, to: &buffer)
        ByteEncoding.appendU32(blockSize, to: &buffer)
        self.root = BlockHash(SHA256.hash(data: buffer))
    }

    /// Whether `token` can be encoded as a u32 token id.
    @inline(__always)
    public static func isValidToken(_ token: Int) -> Bool {
        token >= 0 && token <= Int(UInt32.max)
    }

    /// Hashes one full block. `tokens` must hold exactly `blockSize` valid token ids and `extraKeys`
    /// must be canonically sorted (as `BlockExtraKeys.extraKeys(forBlock:blockSize:)` returns them).
    public func hash(parent: BlockHash, tokens: ArraySlice<Int>, extraKeys: [ExtraKey]) -> BlockHash {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(44 + 4 * tokens.count + extraKeys.reduce(0) { $0 + 5 + $1.value.count })
        buffer.append(contentsOf: Self.blockTag)
        parent.append(to: &buffer)
        ByteEncoding.appendU32(tokens.count, to: &buffer)
        for token in tokens { ByteEncoding.appendU32(token, to: &buffer) }
        ByteEncoding.appendU32(extraKeys.count, to: &buffer)
        for key in extraKeys { key.encode(into: &buffer) }
        return BlockHash(SHA256.hash(data: buffer))
    }

    /// Hash of block `index` of a request, given its parent hash: picks the block's tokens from `tokens`
    /// (absolute positions) and its extra keys from `keys`.
    public func hash(
        blockAt index: Int, parent: BlockHash, tokens: ArraySlice<Int>, keys: BlockExtraKeys
    ) -> BlockHash {
        let start = tokens.startIndex + index * blockSize
        return hash(
            parent: parent, tokens: tokens[start..<start + blockSize],
            extraKeys: keys.extraKeys(forBlock: index, blockSize: blockSize))
    }

    /// Hashes of all full blocks of `tokens` (a partial last block is never hashed), in order.
    public func blockHashes(of tokens: [Int], keys: BlockExtraKeys) -> [BlockHash] {
        let count = tokens.count / blockSize
        var hashes: [BlockHash] = []
        hashes.reserveCapacity(count)
        var parent = root
        for index in 0..<count {
            parent = hash(blockAt: index, parent: parent, tokens: tokens[...], keys: keys)
            hashes.append(parent)
        }
        return hashes
    }
}
