// Binary heaps over parallel (logit, id) buffers: partial selection for top_k, lazy sorting for top_p,
// and LogProbs.top. No allocation: everything happens in the caller's buffers.

/// The sampler's total order: higher logit first, then smaller token id.
///
/// NOTE: ids are unique, so this is a strict total order as long as no logit is NaN; candidate
/// loading maps NaN to -infinity for that reason. Ties therefore never depend on sort stability.
@inline(__always)
func ranksBefore(_ la: Float, _ ia: Int32, _ lb: Float, _ ib: Int32) -> Bool {
    la > lb || (la == lb && ia < ib)
}

/// Heap primitives on `count` entries of two parallel buffers.
///
/// `bestOnTop == true` keeps the highest-ranked entry at index 0 (a max-heap); `false` keeps the
/// lowest-ranked one there (the bounded min-heap of a top-k selection).
struct CandidateHeap {
    let logits: UnsafeMutablePointer<Float>
    let ids: UnsafeMutablePointer<Int32>
    let bestOnTop: Bool

    @inline(__always)
    private func above(_ a: Int, _ b: Int) -> Bool {
        bestOnTop
            ? ranksBefore(logits[a], ids[a], logits[b], ids[b])
            : ranksBefore(logits[b], ids[b], logits[a], ids[a])
    }

    @inline(__always)
    private func swapAt(_ a: Int, _ b: Int) {
        let l = logits[a]
        logits[a] = logits[b]
        logits[b] = l
        let i = ids[a]
        ids[a] = ids[b]
        ids[b] = i
    }

    /// Restores the heap property below `start` in a heap of `count` entries.
    @inline(__always)
    func siftDown(from start: Int, count: Int) {
        var i = start
        while true {
            var child = 2 * i + 1
            if child >= count { return }
            if child + 1 < count && above(child + 1, child) { child += 1 }
            if !above(child, i) { return }
            swapAt(i, child)
            i = child
        }
    }

    /// Builds a heap from the first `count` entries in O(count).
    func heapify(count: Int) {
        var start = count / 2 - 1
        while start >= 0 {
            siftDown(from: start, count: count)
            start -= 1
        }
    }

    /// Heapsorts a heap of `count` entries: with the worst on top this leaves them best first.
    func sortHeap(count: Int) {
        var end = count
        while end > 1 {
            popTop(count: end)
            end -= 1
        }
    }

    /// Removes the top entry of a heap of `count` entries, parking it at index `count - 1`.
    @inline(__always)
    func popTop(count: Int) {
        swapAt(0, count - 1)
        siftDown(from: 0, count: count - 1)
    }
}

/// Moves the `k` best of the first `count` entries to the front, sorted best first, in place.
///
/// O(count + (count - k) * log k) worst case and close to O(count) in practice: most entries lose
/// a single comparison against the worst of the current best `k`. Requires `0 < k <= count`.
func selectBest(_ k: Int, logits: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int32>, count: Int) {
    precondition(k > 0 && k <= count)
    // Entries at k... are read before anything can overwrite them: the heap lives in 0..<k.
    let heap = CandidateHeap(logits: logits, ids: ids, bestOnTop: false)
    heap.heapify(count: k)
    var j = k
    while j < count {
        if ranksBefore(logits[j], ids[j], logits[0], ids[0]) {
            logits[0] = logits[j]
            ids[0] = ids[j]
            heap.siftDown(from: 0, count: k)
        }
        j += 1
    }
    heap.sortHeap(count: k)
}

/// The `k` best of `source` (ids are indices, NaN reads as -infinity), best first, written to
/// `logits[0..<k]` / `ids[0..<k]`. Requires `0 < k <= source.count`.
func selectBest(
    _ k: Int, of source: UnsafeBufferPointer<Float>, logits: UnsafeMutablePointer<Float>,
    ids: UnsafeMutablePointer<Int32>
) {
    precondition(k > 0 && k <= source.count && source.count <= Int(Int32.max))
    for i in 0..<k {
        logits[i] = source[i].isNaN ? -.infinity : source[i]
        ids[i] = Int32(truncatingIfNeeded: i)
    }
    let heap = CandidateHeap(logits: logits, ids: ids, bestOnTop: false)
    heap.heapify(count: k)
    var j = k
    while j < source.count {
        let l = source[j].isNaN ? -Float.infinity : source[j]
        if ranksBefore(l, Int32(truncatingIfNeeded: j), logits[0], ids[0]) {
            logits[0] = l
            ids[0] = Int32(truncatingIfNeeded: j)
            heap.siftDown(from: 0, count: k)
        }
        j += 1
    }
    heap.sortHeap(count: k)
}
