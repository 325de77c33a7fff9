/// A snapshot of the prefix cache counters and pool occupancy, for `/v1/cache/prefix` and Prometheus.
///
/// Pool occupancy always sums: `blocksInUse + blocksFree + blocksReclaimable + blocksParked ==
/// blockCount`.
public struct PrefixCacheStats: Sendable, Hashable, Codable {
    /// Prompt tokens looked up at admission (counted once per successful admission).
    public var queryTokens: Int
    /// Prompt tokens served from the cache at admission.
    public var hitTokens: Int
    /// Admissions counted in `queryTokens`.
    public var admissions: Int
    /// Full blocks registered in the tree (prefill and decode).
    public var registeredBlocks: Int
    /// Registrations that found an identical cached block and adopted it instead (deduplication).
    public var deduplicatedBlocks: Int
    /// Cached blocks evicted to make room for new ones.
    public var evictions: Int
    /// Cached blocks dropped by `reset()`.
    public var resetDrops: Int
    /// Pins created or refreshed.
    public var pinsCreated: Int
    /// Pins that expired (TTL) or lapsed (cap, pool pressure, reset).
    public var pinsLapsed: Int
    /// Live pins.
    public var activePins: Int
    /// Blocks covered by at least one live pin.
    public var pinnedBlocks: Int
    /// Total blocks in the pool.
    public var blockCount: Int
    /// Blocks referenced by running sequences.
    public var blocksInUse: Int
    /// Blocks with no content, reused before any eviction.
    public var blocksFree: Int
    /// Cached, unreferenced, unpinned blocks (hittable until evicted).
    public var blocksReclaimable: Int
    /// Cached, unreferenced blocks kept by a pin.
    public var blocksParked: Int
    /// All cached blocks (in use or not).
    public var blocksCached: Int
    /// Running sequences.
    public var sequences: Int

    /// `hitTokens / queryTokens`, or 0 before any query.
    public var hitRate: Double {
        queryTokens == 0 ? 0 : Double(hitTokens) / Double(queryTokens)
    }
}

extension PrefixCacheStats {
    /// All counters zero.
    static let zero = PrefixCacheStats(
        queryTokens: 0, hitTokens: 0, admissions: 0, registeredBlocks: 0, deduplicatedBlocks: 0,
        evictions: 0, resetDrops: 0, pinsCreated: 0, pinsLapsed: 0, activePins: 0, pinnedBlocks: 0,
        blockCount: 0, blocksInUse: 0, blocksFree: 0, blocksReclaimable: 0, blocksParked: 0,
        blocksCached: 0, sequences: 0)
}
