extension PrefixCacheManager {
    /// Drops every pin and every cached block no running sequence references, at once, and returns how
    /// many blocks were dropped. Blocks of running sequences stay valid and cached (their prefixes stay
    /// cached too, so the tree stays ancestor-closed). Counters are kept.
    @discardableResult
    public func reset() -> Int {
        while let record = pins.oldest { lapse(record) }
        let dropped = pool.dropReclaimable()
        counters.resetDrops += dropped
        return dropped
    }

    /// Drops the cached blocks computed under the LoRA adapter whose content digest is `loraDigest` (an
    /// unloaded adapter: nothing can hit them any more) that no running sequence references and no pin covers,
    /// and returns how many were dropped. Every block after an adapter block in a chain is under the same
    /// adapter (the key is hashed into every block), so removing leaves first keeps the tree ancestor-closed;
    /// blocks still in use are left to the normal LRU once their sequences end.
    @discardableResult
    public func drop(loraDigest: [UInt8]) -> Int {
        var dropped = 0
        var candidates = (0..<blockCount).filter { blockAdapters[$0] == loraDigest && pool.tree.isCached($0) }
        while true {
            let leaves = candidates.filter { pool.reclaimable.contains($0) && pool.tree.isLeaf($0) }
            guard !leaves.isEmpty else { break }
            for block in leaves {
                pool.drop(block)
                blockAdapters[block] = nil
            }
            dropped += leaves.count
            let gone = Set(leaves)
            candidates.removeAll { gone.contains($0) }
        }
        counters.resetDrops += dropped
        return dropped
    }

    /// Current counters and pool occupancy (expires due pins first).
    public func stats() -> PrefixCacheStats {
        expirePins()
        var stats = counters
        stats.evictions = pool.evictionCount
        stats.activePins = pins.count
        stats.pinnedBlocks = pool.pinnedCount
        stats.blockCount = blockCount
        stats.blocksInUse = pool.usedCount
        stats.blocksFree = pool.free.count
        stats.blocksReclaimable = pool.reclaimable.count
        stats.blocksParked = pool.parkedCount
        stats.blocksCached = pool.tree.count
        stats.sequences = sequences.count
        return stats
    }

    /// Checks every invariant of the pool, the sequences and the pins; returns one line per violation
    /// (empty when consistent). O(blocks + tokens held); for tests and debugging, not the hot path.
    ///
    /// Beyond `BlockPool`'s own checks: each block's ref count equals the number of block tables holding
    /// it; each sequence's registered blocks form a cached chain from the root whose last hash is the
    /// sequence's; its pending tokens fit the block after them; each block's pin count equals the pins
    /// covering it; live pins respect the cap.
    public func checkInvariants() -> [String] {
        var problems = pool.violations()
        var holders = Array(repeating: Int32(0), count: blockCount)
        for (id, state) in sequences {
            for block in state.blocks { holders[block] += 1 }
            if Set(state.blocks).count != state.blocks.count {
                problems.append("\(id) holds a block twice")
            }
            if state.computedTokens > state.blocks.count * blockSize {
                problems.append("\(id) computed past its reserved blocks")
            }
            if config.enabled {
                if state.registeredBlocks != state.computedTokens / blockSize
                    || state.pending.count != state.computedTokens % blockSize
                {
                    problems.append("\(id) registration lags its computed tokens")
                }
                for index in 0..<state.registeredBlocks {
                    let block = state.blocks[index]
                    guard pool.tree.isCached(block) else {
                        problems.append("\(id) registered block \(block) is not cached")
                        continue
                    }
                    let expectedParent = index == 0 ? nil : state.blocks[index - 1]
                    if pool.tree.parent(of: block) != expectedParent {
                        problems.append("\(id) block \(block) is not under its predecessor")
                    }
                }
                let last = state.registeredBlocks == 0
                    ? hasher.root : pool.tree.hashes[state.blocks[state.registeredBlocks - 1]]
                if last != state.lastHash { problems.append("\(id) chain hash is stale") }
            }
        }
        var covering = Array(repeating: Int32(0), count: blockCount)
        for record in pins.byTail.values {
            for block in record.path { covering[block] += 1 }
            for (index, block) in record.path.enumerated() {
                let expected = index == 0 ? nil : record.path[index - 1]
                if !pool.tree.isCached(block) || pool.tree.parent(of: block) != expected {
                    problems.append("pin \(record.id.raw) path is not a cached root path")
                    break
                }
            }
        }
        for block in 0..<blockCount {
            if pool.refCounts[block] != holders[block] {
                problems.append("block \(block) ref \(pool.refCounts[block]) but \(holders[block]) holders")
            }
            if pool.pinCounts[block] != covering[block] {
                problems.append("block \(block) pin count \(pool.pinCounts[block]) but \(covering[block]) pins")
            }
        }
        if pool.pinnedCount > config.maxPinnedBlocks {
            problems.append("pinned blocks \(pool.pinnedCount) exceed the cap \(config.maxPinnedBlocks)")
        }
        return problems
    }
}
