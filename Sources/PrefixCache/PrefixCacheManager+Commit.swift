extension PrefixCacheManager {
    /// Records that the KV of `tokens` (the next tokens of `sequence`, in order) has been written, and
    /// registers every block that thereby became full, during prefill and decode alike, so that
    /// concurrent and later requests hit it at once. Partial blocks are never registered.
    ///
    /// Throws `notReserved` (changing nothing) if the tokens go past the reserved blocks, `invalidToken`
    /// for an unencodable id, `unknownSequence` for an unknown handle. When the outcome says
    /// `blockTableChanged`, re-read `blockTable(of:)` (see the duplicates note on the type).
    @discardableResult
    public func commit(_ sequence: SequenceID, tokens: ArraySlice<Int>) throws(PrefixCacheError) -> CommitOutcome {
        guard var state = sequences.removeValue(forKey: sequence) else { throw Self.unknown(sequence) }
        defer { sequences[sequence] = state }
        try Self.validate(tokens)
        let capacity = state.blocks.count * blockSize
        guard state.computedTokens + tokens.count <= capacity else {
            throw PrefixCacheError(
                .notReserved,
                "\(sequence) has blocks for \(capacity) tokens; committing \(tokens.count) after "
                    + "\(state.computedTokens) needs reserve(totalTokens:) first")
        }
        state.computedTokens += tokens.count
        var outcome = CommitOutcome(registeredBlocks: 0, deduplicatedBlocks: 0)
        guard config.enabled else { return outcome }
        for token in tokens {
            state.pending.append(token)
            if state.pending.count == blockSize {
                register(&state, outcome: &outcome)
            }
        }
        return outcome
    }

    /// Convenience for `commit(_:tokens:)` with an array.
    @discardableResult
    public func commit(_ sequence: SequenceID, tokens: [Int]) throws(PrefixCacheError) -> CommitOutcome {
        try commit(sequence, tokens: tokens[...])
    }

    /// Registers the sequence's next block, which `state.pending` has just filled.
    private func register(_ state: inout SequenceState, outcome: inout CommitOutcome) {
        let index = state.registeredBlocks
        let hash = hasher.hash(
            parent: state.lastHash, tokens: state.pending[...],
            extraKeys: state.keys.extraKeys(forBlock: index, blockSize: blockSize))
        let own = state.blocks[index]
        if let twin = pool.tree.block(for: hash) {
            // An identical block is cached already: adopt it, return ours to the free pool.
            pool.acquire(twin)
            pool.release(own)
            state.blocks[index] = twin
            outcome.deduplicatedBlocks += 1
            counters.deduplicatedBlocks += 1
        } else {
            pool.cache(own, hash: hash, parent: index == 0 ? nil : state.blocks[index - 1])
            blockAdapters[own] = state.keys.lora?.digest
            outcome.newBlocks.append(RegisteredBlock(block: own, hash: hash))
        }
        state.registeredBlocks += 1
        state.lastHash = hash
        state.pending.removeAll(keepingCapacity: true)
        outcome.registeredBlocks += 1
        counters.registeredBlocks += 1
    }
}
