/// An intrusive doubly linked list of block ids with head and tail sentinels.
///
/// The links live in two preallocated arrays indexed by block id (`prev[b]`, `next[b]`), so append,
/// pop-front, remove-from-anywhere and membership are all O(1) with no allocation after `init`. A block is
/// in the list exactly when its links are not `unlinked`. Sentinels are the slots `capacity` (head) and
/// `capacity + 1` (tail), so no operation needs a special case for the empty list or the ends.
///
/// Reference: vLLM v1 `FreeKVCacheBlockQueue` (prev/next pointers stored in the block itself).
struct FreeBlockQueue: Sendable {
    private static let unlinked: Int32 = -1

    /// Link to the previous element (or the head sentinel), per block id plus two sentinels.
    private var prev: [Int32]
    /// Link to the next element (or the tail sentinel), per block id plus two sentinels.
    private var next: [Int32]
    /// Number of block ids the queue can hold: ids `0..<capacity`.
    let capacity: Int
    /// Number of ids currently linked.
    private(set) var count: Int = 0

    private var head: Int { capacity }
    private var tail: Int { capacity + 1 }

    /// Creates an empty queue for block ids `0..<capacity`.
    init(capacity: Int) {
        precondition(capacity >= 0 && capacity < Int(Int32.max) - 2, "FreeBlockQueue capacity out of range")
        self.capacity = capacity
        prev = Array(repeating: Self.unlinked, count: capacity + 2)
        next = Array(repeating: Self.unlinked, count: capacity + 2)
        next[capacity] = Int32(capacity + 1)
        prev[capacity + 1] = Int32(capacity)
    }

    /// Whether the queue is empty.
    var isEmpty: Bool { count == 0 }

    /// The oldest element, if any.
    var first: Int? {
        let id = Int(next[head])
        return id == tail ? nil : id
    }

    /// The newest element, if any.
    var last: Int? {
        let id = Int(prev[tail])
        return id == head ? nil : id
    }

    /// Whether `id` is linked in this queue. O(1).
    func contains(_ id: Int) -> Bool {
        next[id] != Self.unlinked
    }

    /// Links `id` at the tail. `id` must not be in the queue.
    mutating func append(_ id: Int) {
        precondition(id >= 0 && id < capacity, "block id out of range")
        precondition(!contains(id), "block \(id) is already queued")
        let before = Int(prev[tail])
        prev[id] = Int32(before)
        next[id] = Int32(tail)
        next[before] = Int32(id)
        prev[tail] = Int32(id)
        count += 1
    }

    /// Unlinks and returns the head element, or `nil` when empty.
    mutating func popFirst() -> Int? {
        guard let id = first else { return nil }
        remove(id)
        return id
    }

    /// Unlinks `id` from wherever it is. `id` must be in the queue.
    mutating func remove(_ id: Int) {
        precondition(contains(id), "block \(id) is not queued")
        let before = Int(prev[id])
        let after = Int(next[id])
        next[before] = Int32(after)
        prev[after] = Int32(before)
        prev[id] = Self.unlinked
        next[id] = Self.unlinked
        count -= 1
    }

    /// The elements from head to tail (O(count); for checks and tests).
    var elements: [Int] {
        var out: [Int] = []
        out.reserveCapacity(count)
        var id = Int(next[head])
        while id != tail {
            out.append(id)
            id = Int(next[id])
        }
        return out
    }

    /// The elements from tail to head, following the `prev` links (for link-consistency checks).
    var elementsReversed: [Int] {
        var out: [Int] = []
        out.reserveCapacity(count)
        var id = Int(prev[tail])
        while id != head {
            out.append(id)
            id = Int(prev[id])
        }
        return out
    }
}
