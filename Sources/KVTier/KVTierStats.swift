/// Counters of one tier (monotonic since start).
public struct KVTierCounters: Sendable, Hashable, Codable {
    /// Blocks asked for at admission.
    public var reads = 0
    /// Blocks found and verified (loaded into the pool, or at least offered to the scheduler).
    public var hits = 0
    /// Blocks found but refused by `KVBlockEntry.verify` (corrupt, truncated, forged, another model's):
    /// counted as misses too, and deleted from the tier.
    public var rejected = 0
    /// Calls that failed (backend down, timeout, I/O error); the request went on without the tier.
    public var errors = 0
    /// Blocks written.
    public var writes = 0
    public var writeErrors = 0
    public var bytesRead = 0
    public var bytesWritten = 0

    public init() {}
}

/// A snapshot of a `KVTier`: per-tier counters and the write queue.
public struct KVTierStats: Sendable, Hashable, Codable {
    /// Counters by tier name (`disk`, `redis`), in lookup order.
    public var tiers: [String: KVTierCounters] = [:]
    /// Tier names in lookup order (fastest first).
    public var order: [String] = []
    /// Blocks handed to the write queue.
    public var writesQueued = 0
    /// Blocks not written because the queue was full (the engine never waits for a tier).
    public var writesDropped = 0
    /// Blocks waiting in the write queue now.
    public var pendingWrites = 0
    /// Admission fetches that the scheduler stopped waiting for (slow tier): admitted without them.
    public var fetchTimeouts = 0

    public init() {}
}
