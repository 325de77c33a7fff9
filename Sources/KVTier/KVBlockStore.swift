import PrefixCache

/// A second-tier store of KV blocks (disk, Redis): opaque entries under block hashes, for one
/// `KVBlockLayout`'s namespace. Stores move bytes only; `KVTier` encodes and verifies them
/// (`KVBlockEntry`), so a store never decides what enters attention.
///
/// Every method may be called concurrently. A store that cannot reach its backend throws; `KVTier` counts
/// the error and carries on without the tier (local only), never failing a request.
public protocol KVBlockStore: Sendable {
    /// `disk` or `redis`: the source name in statistics and metrics.
    var tierName: String { get }
    /// The entries of `hashes`, in order (`nil` = absent), in as few round trips as the backend allows.
    func read(_ hashes: [BlockHash]) async throws -> [[UInt8]?]
    /// Stores `entry` under `hash` (replacing any entry there).
    func write(_ hash: BlockHash, _ entry: [UInt8]) async throws
    /// Deletes the entry of `hash` if present (used for entries that failed verification).
    func remove(_ hash: BlockHash) async throws
    /// Deletes every entry of this store's namespace; returns how many.
    func removeAll() async throws -> Int
}
