/// A merge candidate ordered the way llama.cpp's `std::priority_queue` comparator orders it.
protocol MergeCandidate {
    /// True when `a` must be popped before `b`.
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

/// A binary max-heap of merge candidates (the work queue of both BPE-style encoders).
///
/// NOTE: candidates that compare equal in both directions (same priority and same left index) can only be
/// a live entry and a stale one for the same pair, so their relative order does not change the result.
struct MergeQueue<Element: MergeCandidate> {
    private var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }

    init(capacity: Int = 0) { items.reserveCapacity(capacity) }

    mutating func push(_ e: Element) {
        items.append(e)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Element.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var parent = 0
        let n = items.count
        while true {
            let l = 2 * parent + 1, r = l + 1
            var best = parent
            if l < n, Element.precedes(items[l], items[best]) { best = l }
            if r < n, Element.precedes(items[r], items[best]) { best = r }
            if best == parent { break }
            items.swapAt(parent, best)
            parent = best
        }
        return top
    }
}
