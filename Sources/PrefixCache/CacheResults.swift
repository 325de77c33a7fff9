/// A block id: index of one block in the engine's KV pool.
public typealias BlockID = Int

/// Opaque handle of a sequence tracked by a `PrefixCacheManager`.
public struct SequenceID: Hashable, Sendable, CustomStringConvertible {
    let raw: UInt64

    /// `seq-N`.
    public var description: String { "seq-\(raw)" }
}

/// Opaque result of `PrefixCacheManager.lookup`: the longest cached prefix of a prompt.
///
/// Looking up takes no references, so a match is only a proposal: pass it to `admit` before any other
/// mutating call, or look up again. `admit` re-validates it anyway and keeps the still-cached part.
public struct PrefixMatch: Sendable {
    /// Cached block ids, in prompt order.
    let blocks: [BlockID]
    /// Hashes of `blocks`, to detect eviction between lookup and admission.
    let hashes: [BlockHash]
    /// The request keys the prompt was hashed with.
    let keys: BlockExtraKeys
    /// Tokens per block.
    let blockSize: Int
    /// Prompt length in tokens.
    public let promptTokens: Int

    /// Prompt tokens whose KV can be reused (a multiple of the block size, always `< promptTokens`).
    public var cachedTokens: Int { blocks.count * blockSize }
    /// Number of reusable blocks.
    public var cachedBlocks: Int { blocks.count }
}

/// The result of admitting a sequence.
public struct Admission: Sendable {
    /// Handle for every later call about this sequence.
    public let sequence: SequenceID
    /// Prompt tokens reused from the cache: start computing at this position. Report it as
    /// `usage.prompt_tokens_details.cached_tokens`.
    public let cachedTokens: Int
    /// The sequence's block table after admission (cached prefix, then newly reserved blocks).
    public let blockTable: [BlockID]
}

/// What `commit` did with the newly computed tokens.
public struct CommitOutcome: Sendable, Hashable {
    /// Blocks that became full and were registered (findable by other requests from now on).
    public var registeredBlocks: Int
    /// Of those, blocks whose identical twin was already cached: the sequence adopted the cached block
    /// and its own copy went back to the free pool. The block table changed: re-read it.
    public var deduplicatedBlocks: Int
    /// The blocks registered with the sequence's own KV (not the deduplicated ones), in order: what a second
    /// tier should store.
    public var newBlocks: [RegisteredBlock] = []

    /// Whether `blockTable(of:)` differs from before the commit.
    public var blockTableChanged: Bool { deduplicatedBlocks > 0 }
}

/// Receipt of a pin: which prefix is protected from eviction, and until when.
public struct PinReceipt: Sendable, Hashable {
    /// Handle for `unpin`; the same for every pin of the same cached prefix (re-pinning refreshes).
    public let id: PinID
    /// Tokens covered (full cached blocks only; 0 when nothing could be pinned).
    public let pinnedTokens: Int
    /// Clock time (`PinClock.now()`) at which the pin expires.
    public let expiresAt: Duration
}

/// Opaque handle of a pin.
public struct PinID: Hashable, Sendable {
    let raw: UInt64
}

/// A block that was just registered in the prefix cache: its id in the KV pool and its chained hash.
public struct RegisteredBlock: Sendable, Hashable {
    public let block: BlockID
    public let hash: BlockHash
}
