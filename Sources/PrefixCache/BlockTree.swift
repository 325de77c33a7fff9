/// The radix tree of cached blocks: one node per cached full block, each under its parent's node.
///
/// Nodes are the block ids themselves (preallocated metadata, no node objects). A node knows its hash,
/// its parent block (or the root) and how many cached children it has. Children are found through one
/// map keyed by the chained hash: because a block hash commits to its parent's hash, finding hash `h` in
/// the map is the same as finding `h` among the parent's children, and a lookup walks the tree from the
/// root by following the prompt's hash chain.
///
/// Structural rule: only leaves (no cached children) may be removed, so the cached set is always
/// ancestor-closed: every cached block is reachable from the root, and no block is ever stranded without
/// its prefix (the flat-map defect of hash-only caches).
struct BlockTree: Sendable {
    /// Parent value meaning "child of the root".
    static let root: Int32 = -1

    /// Hash of each cached block, `nil` when the block is not cached. [blockCount]
    private(set) var hashes: [BlockHash?]
    /// Parent block of each cached block, or `root`. Meaningless for uncached blocks. [blockCount]
    private(set) var parents: [Int32]
    /// Number of cached children of each block. [blockCount]
    private(set) var childCounts: [Int32]
    /// Chained hash -> cached block id; exactly one block per cached hash.
    private(set) var index: [BlockHash: Int32]

    /// Creates an empty tree for `blockCount` blocks.
    init(blockCount: Int) {
        hashes = Array(repeating: nil, count: blockCount)
        parents = Array(repeating: Self.root, count: blockCount)
        childCounts = Array(repeating: 0, count: blockCount)
        index = [:]
        index.reserveCapacity(blockCount)
    }

    /// Number of cached blocks.
    var count: Int { index.count }

    /// Whether `block` is cached (a node of the tree).
    func isCached(_ block: Int) -> Bool { hashes[block] != nil }

    /// Whether `block` is cached and has no cached children.
    func isLeaf(_ block: Int) -> Bool { hashes[block] != nil && childCounts[block] == 0 }

    /// The cached block holding `hash`, if any.
    func block(for hash: BlockHash) -> Int? {
        index[hash].map(Int.init)
    }

    /// The parent block of a cached block, or `nil` for a child of the root.
    func parent(of block: Int) -> Int? {
        let p = parents[block]
        return p == Self.root ? nil : Int(p)
    }

    /// Adds `block` as a node with `hash` under `parent` (`nil` = root). The block must be uncached, the
    /// hash absent, and the parent cached.
    mutating func insert(_ block: Int, hash: BlockHash, parent: Int?) {
        precondition(hashes[block] == nil, "block \(block) is already cached")
        precondition(index[hash] == nil, "hash \(hash) is already cached")
        if let parent {
            precondition(hashes[parent] != nil, "parent block \(parent) is not cached")
            childCounts[parent] += 1
            parents[block] = Int32(parent)
        } else {
            parents[block] = Self.root
        }
        hashes[block] = hash
        index[hash] = Int32(block)
    }

    /// Removes leaf `block` from the tree; its parent loses one child.
    mutating func removeLeaf(_ block: Int) {
        guard let hash = hashes[block] else { preconditionFailure("block \(block) is not cached") }
        precondition(childCounts[block] == 0, "block \(block) has cached children: not a leaf")
        if let parent = parent(of: block) { childCounts[parent] -= 1 }
        index[hash] = nil
        hashes[block] = nil
        parents[block] = Self.root
    }
}
