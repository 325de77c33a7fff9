/// Owner of all block metadata: reference counts, pin counts, the radix tree of cached blocks, the free
/// queue of never-cached blocks and the LRU queue of reclaimable cached blocks.
///
/// Block id `b` names the KV stored at index `b` of the engine's KV pool; this type never touches the KV.
/// Every block is in exactly one state:
///
/// | state        | ref | cached | pinned | where it is                  |
/// |--------------|-----|--------|--------|------------------------------|
/// | in use       | > 0 | any    | any    | some sequences' block tables |
/// | free         | 0   | no     | -      | `free` queue                 |
/// | reclaimable  | 0   | yes    | no     | `reclaimable` queue (LRU)    |
/// | parked       | 0   | yes    | yes    | nowhere: kept by its pin     |
///
/// ## Eviction order
/// 1. A new block comes from `free` (never-cached or already-dropped blocks) while there is one: a cached
///    block is only evicted when nothing else is free (lazy eviction).
/// 2. Otherwise the head of `reclaimable` is evicted: the cached block whose last user let go of it
///    longest ago (LRU, recency = moment of the last release or pin lapse). A hit on a reclaimable block
///    takes it out of the queue in O(1); when released again it goes to the tail.
/// 3. The head is always a leaf of the tree, so eviction is leaf-first and never strands a descendant.
///    Why: (a) every holder of a cached block also holds its parent (sequences hold whole chains; a pin
///    covers a root path), so a parent is reclaimable only when all its cached children are referenced by
///    nobody and unpinned, i.e. themselves reclaimable; (b) blocks enter the queue only at the tail and a
///    child always enters before its parent (a sequence releases its blocks last-to-first, a pin lapses
///    tail-to-root, and a child cannot be released while its parent sits in the queue because its holder
///    would hold the parent too). So a parent always sits behind all its cached children; when the last
///    child is evicted the parent is the next leaf in line, exactly as SGLang's leaf-only LRU would pick.
///
/// NOTE: queue order gives leaf-first LRU in O(1) per operation, with no heap and no scan; the invariant
/// checker (`violations()`) verifies the "head is a leaf" property after every operation in the
/// randomized tests.
struct BlockPool: Sendable {
    /// Total number of blocks (the engine's KV pool size in blocks).
    let blockCount: Int
    /// Sequences (and internal holds) referencing each block. [blockCount]
    private(set) var refCounts: [Int32]
    /// Live pins covering each block. [blockCount]
    private(set) var pinCounts: [Int32]
    /// The radix tree of cached blocks.
    private(set) var tree: BlockTree
    /// Blocks with ref 0 that hold no cached content; reused before any eviction.
    private(set) var free: FreeBlockQueue
    /// Cached, unreferenced, unpinned blocks in release order (head = least recently used, a leaf).
    private(set) var reclaimable: FreeBlockQueue
    /// Number of blocks with ref > 0.
    private(set) var usedCount = 0
    /// Number of blocks with a live pin.
    private(set) var pinnedCount = 0
    /// Number of cached blocks evicted to satisfy an allocation since creation.
    private(set) var evictionCount = 0

    /// Creates a pool of `blockCount` free blocks, handed out in id order.
    init(blockCount: Int) {
        self.blockCount = blockCount
        refCounts = Array(repeating: 0, count: blockCount)
        pinCounts = Array(repeating: 0, count: blockCount)
        tree = BlockTree(blockCount: blockCount)
        free = FreeBlockQueue(capacity: blockCount)
        reclaimable = FreeBlockQueue(capacity: blockCount)
        for id in 0..<blockCount { free.append(id) }
    }

    /// Blocks an allocation can obtain right now (free plus reclaimable by eviction).
    var availableCount: Int { free.count + reclaimable.count }

    /// Cached blocks with ref 0 kept only by a pin.
    var parkedCount: Int { blockCount - usedCount - free.count - reclaimable.count }

    /// Takes a block for new content (ref = 1), evicting the LRU reclaimable leaf if no block is free.
    /// Returns `nil` when neither exists.
    mutating func allocate() -> Int? {
        let block: Int
        if let id = free.popFirst() {
            block = id
        } else if let id = reclaimable.popFirst() {
            tree.removeLeaf(id)  // traps if the head were not a leaf: see "Eviction order"
            evictionCount += 1
            block = id
        } else {
            return nil
        }
        refCounts[block] = 1
        usedCount += 1
        return block
    }

    /// Adds a reference to a cached block (a prefix hit), taking it out of the reclaimable queue.
    mutating func acquire(_ block: Int) {
        precondition(tree.isCached(block), "only cached blocks are shared")
        if refCounts[block] == 0 {
            usedCount += 1
            if reclaimable.contains(block) { reclaimable.remove(block) }
        }
        refCounts[block] += 1
    }

    /// Drops one reference. At ref 0 a cached block becomes reclaimable (or parked if pinned) and an
    /// uncached block becomes free.
    mutating func release(_ block: Int) {
        precondition(refCounts[block] > 0, "block \(block) released more often than acquired")
        refCounts[block] -= 1
        guard refCounts[block] == 0 else { return }
        usedCount -= 1
        if tree.isCached(block) {
            if pinCounts[block] == 0 { reclaimable.append(block) }
        } else {
            free.append(block)
        }
    }

    /// Makes a referenced, uncached, full block findable under `parent` (`nil` = root).
    mutating func cache(_ block: Int, hash: BlockHash, parent: Int?) {
        precondition(refCounts[block] > 0, "only a block in use can be registered")
        tree.insert(block, hash: hash, parent: parent)
    }

    /// Adds a pin to a cached block: it cannot be evicted while any pin covers it.
    mutating func pin(_ block: Int) {
        precondition(tree.isCached(block), "only cached blocks can be pinned")
        pinCounts[block] += 1
        guard pinCounts[block] == 1 else { return }
        pinnedCount += 1
        if refCounts[block] == 0 { reclaimable.remove(block) }
    }

    /// Removes a pin; an unreferenced block whose last pin goes becomes reclaimable at the tail.
    mutating func unpin(_ block: Int) {
        precondition(pinCounts[block] > 0, "block \(block) unpinned more often than pinned")
        pinCounts[block] -= 1
        guard pinCounts[block] == 0 else { return }
        pinnedCount -= 1
        if refCounts[block] == 0 { reclaimable.append(block) }
    }

    /// Uncaches one reclaimable leaf block (it goes to the free pool).
    mutating func drop(_ block: Int) {
        precondition(reclaimable.contains(block) && tree.isLeaf(block), "block \(block) is not a reclaimable leaf")
        reclaimable.remove(block)
        tree.removeLeaf(block)
        free.append(block)
    }

    /// Uncaches every reclaimable block (leaf first, in queue order) and returns how many were dropped.
    /// Blocks in use or parked stay cached.
    mutating func dropReclaimable() -> Int {
        var dropped = 0
        while let block = reclaimable.popFirst() {
            tree.removeLeaf(block)
            free.append(block)
            dropped += 1
        }
        return dropped
    }
}
