extension PrefixCacheManager {
    /// Pins the cached blocks covering the first `prefixTokens` tokens of a running sequence for `ttl`
    /// (full registered blocks only), e.g. at a `cache_control` breakpoint once the prefix is computed.
    /// Returns `nil` when nothing can be pinned (no full registered block, `ttl <= 0`, or a zero cap).
    @discardableResult
    public func pin(_ sequence: SequenceID, prefixTokens: Int, ttl: Duration) throws(PrefixCacheError) -> PinReceipt? {
        guard let state = sequences[sequence] else { throw Self.unknown(sequence) }
        let count = min(max(0, prefixTokens) / blockSize, state.registeredBlocks)
        return pinPath(Array(state.blocks.prefix(count)), ttl: ttl)
    }

    /// Pins the cached part of `tokens` under `keys` (for example a server-configured public system
    /// prompt) for `ttl`. Every full block may be pinned, the last one included. Returns `nil` when
    /// nothing is cached or nothing can be pinned.
    @discardableResult
    public func pin(tokens: [Int], keys: BlockExtraKeys = .none, ttl: Duration) throws(PrefixCacheError) -> PinReceipt? {
        try Self.validate(tokens[...])
        var path: [BlockID] = []
        var parent = hasher.root
        for index in 0..<tokens.count / blockSize {
            let hash = hasher.hash(blockAt: index, parent: parent, tokens: tokens[...], keys: keys)
            guard let block = pool.tree.block(for: hash) else { break }
            path.append(block)
            parent = hash
        }
        return pinPath(path, ttl: ttl)
    }

    /// Removes a pin before its expiry. Returns `false` if it already lapsed.
    @discardableResult
    public func unpin(_ id: PinID) -> Bool {
        guard let record = pins.pin(id) else { return false }
        lapse(record)
        return true
    }

    /// Lets every pin whose TTL has passed lapse (earliest expiry first). Called by every operation that
    /// allocates, pins or reports, so explicit calls are only needed to make expiry visible sooner.
    public func expirePins() {
        guard let next = pins.nextExpiry, next <= clock.now() else { return }
        for record in pins.expired(at: clock.now()) { lapse(record) }
    }

    /// Pins `path` (a root path of cached blocks) within the cap, lapsing the oldest pins if needed.
    private func pinPath(_ path: [BlockID], ttl: Duration) -> PinReceipt? {
        expirePins()
        let cap = config.maxPinnedBlocks
        let path = Array(path.prefix(cap))
        guard let tail = path.last, ttl > .zero else { return nil }
        let expiresAt = clock.now() + ttl
        counters.pinsCreated += 1
        if pins.pin(endingAt: tail) != nil {
            let record = pins.refresh(endingAt: tail, expiresAt: expiresAt)
            return PinReceipt(id: record.id, pinnedTokens: path.count * blockSize, expiresAt: record.expiresAt)
        }
        func newlyPinned() -> Int { path.reduce(0) { $0 + (pool.pinCounts[$1] == 0 ? 1 : 0) } }
        while pool.pinnedCount + newlyPinned() > cap, let oldest = pins.oldest {
            lapse(oldest)
        }
        for block in path { pool.pin(block) }
        let record = pins.add(path: path, expiresAt: expiresAt)
        return PinReceipt(id: record.id, pinnedTokens: path.count * blockSize, expiresAt: expiresAt)
    }

    /// Ends a pin: unpins its blocks tail-to-root, so unreferenced ones become reclaimable child first.
    func lapse(_ record: PinTable.Record) {
        pins.remove(record)
        for block in record.path.reversed() { pool.unpin(block) }
        counters.pinsLapsed += 1
    }
}
