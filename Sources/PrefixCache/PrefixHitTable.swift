/// Admissions that reused a cached prefix, counted per prefix (named by the hash of its last block), for the
/// "top prefixes" of the admin stats and the dashboard. Bounded: at `capacity` distinct prefixes, a new one
/// replaces one of the least-hit entries (space-saving style), so the heavy hitters stay.
public struct PrefixHitTable: Sendable {
    /// One prefix: its last block's hash, its length and the admissions that reused it.
    public struct Entry: Sendable, Hashable {
        public let hash: BlockHash
        public let tokens: Int
        public var hits: Int
    }

    public let capacity: Int
    private var entries: [BlockHash: Entry] = [:]

    public init(capacity: Int = 1024) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Counts one reuse of the prefix ending with the block `hash` (`tokens` long).
    public mutating func record(_ hash: BlockHash, tokens: Int) {
        if entries[hash] != nil {
            entries[hash]?.hits += 1
            return
        }
        var hits = 1
        if entries.count >= capacity, let weakest = entries.values.min(by: { $0.hits < $1.hits }) {
            entries[weakest.hash] = nil
            hits = weakest.hits + 1   // the newcomer inherits the evicted count as an upper bound
        }
        entries[hash] = Entry(hash: hash, tokens: tokens, hits: hits)
    }

    /// The `n` most reused prefixes, most hits first (longer first among equals).
    public func top(_ n: Int) -> [Entry] {
        Array(entries.values.sorted { $0.hits != $1.hits ? $0.hits > $1.hits : $0.tokens > $1.tokens }.prefix(n))
    }

    /// Forgets every entry.
    public mutating func removeAll() { entries.removeAll() }
}
