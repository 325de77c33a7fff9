/// The prefix cache facade for the engine's scheduler: admission with prefix reuse, block reservation,
/// registration of full blocks, release, pinning, reset and stats.
///
/// The manager hands out block ids of the engine's KV pool (`0..<blockCount`, `blockSize` tokens each),
/// tracks each sequence's block table and reference counts, and makes every full block findable by later
/// and concurrent requests the moment its KV is written. It never touches KV numbers.
///
/// Threading: not thread-safe and not `Sendable`; exactly one engine thread owns it (no locks, as in
/// vLLM's single-threaded scheduler).
///
/// Usage by the engine:
/// ```swift
/// let cache = try PrefixCacheManager(config: PrefixCacheConfig(blockCount: 2048, model: fingerprint))
///
/// // Admission: the longest cached prefix, never the whole prompt (the last token is always computed).
/// let keys = BlockExtraKeys(tenant: apiKeyDigest, publicPrefixTokens: systemPromptTokens)
/// let match = try cache.lookup(prompt, keys: keys)
/// guard let admission = try cache.admit(match, reservingTokens: prompt.count) else {
///     return .waitOrPreempt                      // pool full now: preempt the youngest or retry later
/// }                                              // (throws `exceedsPool` if it can never fit)
/// let seq = admission.sequence
/// usage.cachedTokens = admission.cachedTokens    // start prefill at this position
///
/// // Prefill the rest (in chunks if you like), then tell the cache what was computed:
/// forward(prompt[admission.cachedTokens...], blockTable: cache.blockTable(of: seq)!)
/// try cache.commit(seq, tokens: prompt[admission.cachedTokens...])  // full blocks get registered
///
/// // Decode: reserve room for the next input token, run it, commit it.
/// while generating {
///     guard try cache.reserve(seq, totalTokens: cache.computedTokens(of: seq)! + 1) else {
///         preemptYoungest(); continue            // frees that sequence; it re-admits with a hit later
///     }
///     forward([token], blockTable: cache.blockTable(of: seq)!)
///     let outcome = try cache.commit(seq, tokens: [token])
///     if outcome.blockTableChanged { /* re-read blockTable(of:) before the next step */ }
/// }
/// cache.free(seq)                                // on finish or cancel; cached blocks stay hittable
/// ```
///
/// NOTE (duplicates): when a full block is registered and an identical block (same chained hash) is
/// already cached, for example because two requests with the same prompt were prefilled concurrently,
/// the sequence adopts the cached block (ref + 1) and its own copy returns to the free pool at once. The
/// KV is identical up to floating-point reduction order, memory is not wasted on twins, and the tree keeps
/// exactly one block per hash. `CommitOutcome.blockTableChanged` tells the engine to re-read the table.
public final class PrefixCacheManager {
    /// The configuration in force.
    public let config: PrefixCacheConfig
    /// The block hasher (model-seeded root, block size).
    public let hasher: BlockHasher
    let clock: any PinClock
    var pool: BlockPool
    var sequences: [SequenceID: SequenceState] = [:]
    var pins = PinTable()
    var counters = PrefixCacheStats.zero
    private var nextSequence: UInt64 = 1
    /// The LoRA adapter digest each cached block was computed under (nil: the base model), set when the block
    /// is registered; read by `drop(loraDigest:)`.
    var blockAdapters: [[UInt8]?]

    /// Per-sequence bookkeeping.
    struct SequenceState {
        /// Block table: block `i` holds tokens `i*blockSize ..< (i+1)*blockSize`.
        var blocks: [BlockID]
        /// Tokens whose KV has been written.
        var computedTokens: Int
        /// Leading blocks registered in the tree (cached); the rest are private to the sequence.
        var registeredBlocks: Int
        /// Hash of block `registeredBlocks - 1`, or the root.
        var lastHash: BlockHash
        /// Computed tokens of the block after the registered ones (not yet full).
        var pending: [Int]
        /// The request keys every block is hashed with.
        let keys: BlockExtraKeys
    }

    /// Creates a manager for a pool of `config.blockCount` blocks; all blocks start free.
    public init(
        config: PrefixCacheConfig, clock: any PinClock = MonotonicPinClock()
    ) throws(PrefixCacheError) {
        try config.validate()
        self.config = config
        self.hasher = BlockHasher(model: config.model, blockSize: config.blockSize)
        self.clock = clock
        self.pool = BlockPool(blockCount: config.blockCount)
        blockAdapters = Array(repeating: nil, count: config.blockCount)
    }

    /// Tokens per block.
    public var blockSize: Int { config.blockSize }
    /// Blocks in the pool.
    public var blockCount: Int { config.blockCount }
    /// Blocks an allocation could obtain right now (free plus evictable cached blocks).
    public var availableBlocks: Int { pool.availableCount }
    /// Number of running (admitted, not freed) sequences.
    public var sequenceCount: Int { sequences.count }

    /// Finds the longest cached prefix of `prompt` under `keys`. Read-only: takes no references.
    ///
    /// The match covers at most `(prompt.count - 1) / blockSize` full blocks, so at least the last
    /// prompt token is always computed (it produces the logits). Throws for an empty prompt or a token
    /// id that is negative or above `UInt32.max`.
    public func lookup(_ prompt: [Int], keys: BlockExtraKeys = .none) throws(PrefixCacheError) -> PrefixMatch {
        guard !prompt.isEmpty else { throw PrefixCacheError(.emptyPrompt, "the prompt has no tokens") }
        try Self.validate(prompt[...])
        var blocks: [BlockID] = []
        var hashes: [BlockHash] = []
        if config.enabled {
            var parent = hasher.root
            for index in 0..<(prompt.count - 1) / blockSize {
                let hash = hasher.hash(blockAt: index, parent: parent, tokens: prompt[...], keys: keys)
                guard let block = pool.tree.block(for: hash) else { break }
                blocks.append(block)
                hashes.append(hash)
                parent = hash
            }
        }
        return PrefixMatch(
            blocks: blocks, hashes: hashes, keys: keys, blockSize: blockSize, promptTokens: prompt.count)
    }

    /// How many of `hashes` (a prompt's consecutive block hashes, from its first block) are cached, counted
    /// from the first up to the first miss. Read-only; for ordering waiting requests without hashing again.
    public func cachedPrefixBlocks(_ hashes: [BlockHash]) -> Int {
        guard config.enabled else { return 0 }
        var n = 0
        while n < hashes.count, pool.tree.block(for: hashes[n]) != nil { n += 1 }
        return n
    }

    /// Every cached block with its hash (for saving the cache to a second tier at shutdown).
    public func cachedBlocks() -> [RegisteredBlock] {
        pool.tree.index.map { RegisteredBlock(block: Int($0.value), hash: $0.key) }
    }

    /// Admits a sequence: references the matched blocks and reserves blocks for `reservingTokens`
    /// tokens in total (default: the whole prompt). Returns `nil`, changing nothing, when the pool cannot
    /// supply the blocks now (wait, or preempt and retry). Throws `exceedsPool` when the reservation
    /// alone is larger than the pool.
    ///
    /// Cached blocks evicted since `lookup` are dropped from the match (the rest of it stays valid).
    /// Counts the prompt in the query and hit statistics.
    public func admit(_ match: PrefixMatch, reservingTokens: Int? = nil) throws(PrefixCacheError) -> Admission? {
        var valid = 0
        if match.blockSize == blockSize {
            while valid < match.blocks.count, pool.tree.hashes[match.blocks[valid]] == match.hashes[valid] {
                valid += 1
            }
        }
        let reused = match.blocks.prefix(valid)
        let total = max(reservingTokens ?? match.promptTokens, valid * blockSize)
        let needed = blocksFor(tokens: total)
        guard needed <= blockCount else {
            throw PrefixCacheError(
                .exceedsPool, "\(total) tokens need \(needed) blocks but the pool has \(blockCount)")
        }
        let fresh = needed - valid
        guard makeRoom(for: fresh, excluding: reused, pinsMayLapse: sequences.isEmpty) else { return nil }

        for block in reused { pool.acquire(block) }
        var blocks = Array(reused)
        blocks.reserveCapacity(needed)
        for _ in 0..<fresh {
            guard let block = pool.allocate() else { preconditionFailure("makeRoom guaranteed the blocks") }
            blocks.append(block)
        }
        let id = SequenceID(raw: nextSequence)
        nextSequence += 1
        sequences[id] = SequenceState(
            blocks: blocks, computedTokens: valid * blockSize, registeredBlocks: valid,
            lastHash: valid > 0 ? match.hashes[valid - 1] : hasher.root, pending: [], keys: match.keys)
        counters.admissions += 1
        counters.queryTokens += match.promptTokens
        counters.hitTokens += valid * blockSize
        return Admission(sequence: id, cachedTokens: valid * blockSize, blockTable: blocks)
    }

    /// Makes sure `sequence` has blocks for `totalTokens` tokens, allocating (and lazily evicting) as
    /// needed. Returns `false`, changing nothing, when the pool cannot supply them now: preempt another
    /// sequence and retry. Throws `exceedsPool` if the pool could never hold that many tokens.
    public func reserve(_ sequence: SequenceID, totalTokens: Int) throws(PrefixCacheError) -> Bool {
        guard let held = sequences[sequence]?.blocks.count else { throw Self.unknown(sequence) }
        let needed = blocksFor(tokens: totalTokens)
        guard needed <= blockCount else {
            throw PrefixCacheError(
                .exceedsPool, "\(totalTokens) tokens need \(needed) blocks but the pool has \(blockCount)")
        }
        let fresh = needed - held
        guard fresh > 0 else { return true }
        guard makeRoom(for: fresh, excluding: [], pinsMayLapse: sequences.count == 1) else { return false }
        var added: [BlockID] = []
        added.reserveCapacity(fresh)
        for _ in 0..<fresh {
            guard let block = pool.allocate() else { preconditionFailure("makeRoom guaranteed the blocks") }
            added.append(block)
        }
        sequences[sequence]?.blocks.append(contentsOf: added)
        return true
    }

    /// Ends a sequence (finished, cancelled or preempted): releases its blocks last-to-first, so its tail
    /// is evicted before its prefix. Cached blocks stay hittable until evicted. Returns `false` for an
    /// unknown sequence (freeing twice is harmless).
    @discardableResult
    public func free(_ sequence: SequenceID) -> Bool {
        guard let state = sequences.removeValue(forKey: sequence) else { return false }
        for block in state.blocks.reversed() { pool.release(block) }
        return true
    }

    /// The block table of a running sequence, or `nil` if unknown.
    public func blockTable(of sequence: SequenceID) -> [BlockID]? {
        sequences[sequence]?.blocks
    }

    /// Tokens of `sequence` whose KV is written (cached prefix plus committed tokens), or `nil`.
    public func computedTokens(of sequence: SequenceID) -> Int? {
        sequences[sequence]?.computedTokens
    }

    func blocksFor(tokens: Int) -> Int {
        (max(0, tokens) + blockSize - 1) / blockSize
    }

    /// Ensures `count` blocks can be allocated without touching `excluded` (blocks about to be
    /// acquired). Expires pins first; lets the oldest pins lapse only if `pinsMayLapse`.
    func makeRoom(for count: Int, excluding excluded: ArraySlice<BlockID>, pinsMayLapse: Bool) -> Bool {
        guard count > 0 else { return true }
        expirePins()
        func available() -> Int {
            pool.availableCount - excluded.reduce(0) { $0 + (pool.reclaimable.contains($1) ? 1 : 0) }
        }
        while available() < count {
            guard pinsMayLapse, let oldest = pins.oldest else { return false }
            lapse(oldest)
        }
        return true
    }

    static func validate(_ tokens: ArraySlice<Int>) throws(PrefixCacheError) {
        for token in tokens where !BlockHasher.isValidToken(token) {
            throw PrefixCacheError(.invalidToken, "token id \(token) is not in 0...\(UInt32.max)")
        }
    }

    static func unknown(_ sequence: SequenceID) -> PrefixCacheError {
        PrefixCacheError(.unknownSequence, "\(sequence) is not running")
    }
}
