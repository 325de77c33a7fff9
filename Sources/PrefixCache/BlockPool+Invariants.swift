extension BlockPool {
    /// Checks every structural invariant of the pool and returns a description of each violation (empty
    /// when consistent). O(blockCount); meant for tests and debug assertions, not for the hot path.
    ///
    /// Checked: ref and pin counts are non-negative; queue links agree in both directions and with the
    /// counts; each block is in exactly the queue its state implies (free = uncached and unreferenced,
    /// reclaimable = cached, unreferenced, unpinned); `used + free + reclaimable + parked == total`;
    /// every cached hash maps to exactly one block and back; every cached block's parent is cached
    /// (ancestor-closed, so reachable from the root) and child counts are exact; a referenced or pinned
    /// block's parent is referenced or pinned as well; the reclaimable head is a leaf and every
    /// reclaimable block sits behind all of its reclaimable children.
    func violations() -> [String] {
        var problems: [String] = []
        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { problems.append(message()) }
        }
        let freeList = free.elements
        let reclaimList = reclaimable.elements
        check(freeList.count == free.count, "free queue count \(free.count) != \(freeList.count) linked")
        check(reclaimList.count == reclaimable.count, "reclaimable count mismatch")
        check(Array(free.elementsReversed.reversed()) == freeList, "free queue prev/next links disagree")
        check(
            Array(reclaimable.elementsReversed.reversed()) == reclaimList,
            "reclaimable queue prev/next links disagree")

        var position = Array(repeating: -1, count: blockCount)
        for (i, block) in reclaimList.enumerated() { position[block] = i }
        var used = 0, pinned = 0, parked = 0
        var children = Array(repeating: Int32(0), count: blockCount)
        for block in 0..<blockCount {
            let ref = refCounts[block], pins = pinCounts[block], cached = tree.isCached(block)
            check(ref >= 0, "block \(block) has ref \(ref)")
            check(pins >= 0, "block \(block) has pin count \(pins)")
            check(pins == 0 || cached, "uncached block \(block) is pinned")
            if ref > 0 { used += 1 }
            if pins > 0 { pinned += 1 }
            if ref == 0 && cached && pins > 0 { parked += 1 }
            let shouldBeFree = ref == 0 && !cached
            let shouldBeReclaimable = ref == 0 && cached && pins == 0
            check(free.contains(block) == shouldBeFree, "block \(block) free-queue membership is wrong")
            check(
                reclaimable.contains(block) == shouldBeReclaimable,
                "block \(block) reclaimable membership is wrong")
            check(!(free.contains(block) && reclaimable.contains(block)), "block \(block) queued twice")
            guard cached, let hash = tree.hashes[block] else { continue }
            check(tree.block(for: hash) == block, "hash of block \(block) does not map back to it")
            if let parent = tree.parent(of: block) {
                children[parent] += 1
                check(tree.isCached(parent), "cached block \(block) has uncached parent \(parent)")
                if ref > 0 { check(refCounts[parent] > 0, "block \(block) in use but parent \(parent) is not") }
                if pins > 0 { check(pinCounts[parent] > 0, "block \(block) pinned but parent \(parent) is not") }
                if position[block] >= 0 && position[parent] >= 0 {
                    check(
                        position[parent] > position[block],
                        "reclaimable parent \(parent) is ahead of its child \(block)")
                }
            }
        }
        for block in 0..<blockCount {
            check(tree.childCounts[block] == children[block], "child count of block \(block) is wrong")
        }
        check(tree.count == tree.index.count, "index size disagrees")
        check(
            tree.index.count == (0..<blockCount).filter { tree.isCached($0) }.count,
            "index holds hashes of uncached blocks")
        check(used == usedCount, "used count \(usedCount) != \(used)")
        check(pinned == pinnedCount, "pinned count \(pinnedCount) != \(pinned)")
        check(
            used + free.count + reclaimable.count + parked == blockCount,
            "used \(used) + free \(free.count) + reclaimable \(reclaimable.count) + parked \(parked) "
                + "!= total \(blockCount)")
        if let head = reclaimable.first {
            check(tree.isLeaf(head), "reclaimable head \(head) is not a leaf")
        }
        return problems
    }
}
