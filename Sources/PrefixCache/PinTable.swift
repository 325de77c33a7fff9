/// Live pins: each protects one cached root path of blocks from eviction until it expires.
///
/// A pin is identified by the last block of its path (the tree makes the path from the root unique), so
/// pinning the same prefix again refreshes the existing pin (later expiry, counted as young again), as
/// Anthropic's `cache_control` refreshes a cache entry on use. Pins lapse in three ways: TTL expiry
/// (earliest first), the pool-share cap (oldest refresh first), and pool pressure when a sequence could
/// not run at all otherwise (oldest refresh first).
struct PinTable: Sendable {
    /// One pin.
    struct Record: Sendable {
        /// The pin's handle.
        let id: PinID
        /// Pinned blocks from the root down (a prefix of some block table).
        let path: [BlockID]
        /// Clock time at which the pin expires.
        var expiresAt: Duration
        /// Logical time of creation or last refresh; smaller is older.
        var refreshedAt: UInt64
    }

    /// Pins by the last block of their path.
    private(set) var byTail: [BlockID: Record] = [:]
    /// Tail block of each pin.
    private var tails: [PinID: BlockID] = [:]
    private var nextID: UInt64 = 1
    private var tick: UInt64 = 0
    /// Earliest expiry among live pins (`nil` when none); lets expiry checks exit in O(1).
    private(set) var nextExpiry: Duration?

    /// Number of live pins.
    var count: Int { byTail.count }

    /// The pin refreshed longest ago.
    var oldest: Record? { byTail.values.min { $0.refreshedAt < $1.refreshedAt } }

    /// The pin whose path ends at `tail`, if any.
    func pin(endingAt tail: BlockID) -> Record? { byTail[tail] }

    /// The pin with handle `id`, if live.
    func pin(_ id: PinID) -> Record? { tails[id].flatMap { byTail[$0] } }

    /// Pins whose expiry is at or before `now`, earliest expiry first.
    func expired(at now: Duration) -> [Record] {
        guard let next = nextExpiry, next <= now else { return [] }
        return byTail.values.filter { $0.expiresAt <= now }
            .sorted { ($0.expiresAt, $0.refreshedAt) < ($1.expiresAt, $1.refreshedAt) }
    }

    /// Adds a pin over `path` (non-empty, no pin ending at its tail yet).
    mutating func add(path: [BlockID], expiresAt: Duration) -> Record {
        tick += 1
        let record = Record(id: PinID(raw: nextID), path: path, expiresAt: expiresAt, refreshedAt: tick)
        nextID += 1
        byTail[path[path.count - 1]] = record
        tails[record.id] = path[path.count - 1]
        nextExpiry = min(nextExpiry ?? expiresAt, expiresAt)
        return record
    }

    /// Extends the pin ending at `tail` to at least `expiresAt` and marks it young.
    mutating func refresh(endingAt tail: BlockID, expiresAt: Duration) -> Record {
        guard var record = byTail[tail] else { preconditionFailure("no pin ends at block \(tail)") }
        tick += 1
        record.expiresAt = max(record.expiresAt, expiresAt)
        record.refreshedAt = tick
        byTail[tail] = record
        recomputeNextExpiry()
        return record
    }

    /// Removes a pin from the table (the caller unpins its blocks).
    mutating func remove(_ record: Record) {
        byTail[record.path[record.path.count - 1]] = nil
        tails[record.id] = nil
        recomputeNextExpiry()
    }

    private mutating func recomputeNextExpiry() {
        nextExpiry = byTail.values.lazy.map(\.expiresAt).min()
    }
}
