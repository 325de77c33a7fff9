import Testing
@testable import PrefixCache

/// Property tests: long seeded sequences of engine-like operations, with every invariant checked after
/// each one and a shadow KV pool proving that every prefix hit returns exactly the tokens, positions and
/// isolation keys the request would have computed itself.
@Suite("Randomized operation sequences")
struct RandomizedOperationTests {
    /// What the "engine" wrote into one block: tokens by slot, plus the block's index and the identity of
    /// the keys it was hashed with (salt only where the salt applies).
    struct ShadowBlock: Equatable {
        var tokens: [Int?]
        var index: Int
        var keyIdentity: String
    }

    struct Running {
        let id: SequenceID
        let tokens: [Int]  // prompt followed by the tokens it will "generate"
        let keyIndex: Int
    }

    static let keyChoices: [BlockExtraKeys] = [
        .none, BlockExtraKeys(tenant: "alice"), BlockExtraKeys(tenant: "bob"),
        BlockExtraKeys(tenant: "alice", publicPrefixTokens: 8), BlockExtraKeys(tenant: "bob", publicPrefixTokens: 8),
        BlockExtraKeys(lora: LoRAKey(name: "adapter", digest: [1])),
    ]
    static let systemPrompts: [[Int]] = [[], run(1000, 8), run(2000, 13)]

    /// The identity of the keys that block `index` is hashed with, for the shadow comparison.
    static func keyIdentity(_ keys: BlockExtraKeys, block index: Int, blockSize: Int) -> String {
        keys.extraKeys(forBlock: index, blockSize: blockSize).map { "\($0.kind):\($0.value)" }.joined(separator: ",")
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func invariantsHoldAfterEveryOperation(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let clock = ManualClock()
        let blockSize = 4
        let cache = try makeManager(blocks: 64, blockSize: blockSize, pinShare: 0.25, clock: clock)
        var shadow = Array(
            repeating: ShadowBlock(tokens: Array(repeating: nil, count: blockSize), index: -1, keyIdentity: ""),
            count: 64)
        var running: [Running] = []
        var history: [[Int]] = []  // finished conversations, for multi-turn prompts
        var pins: [PinID: Duration] = [:]  // live pins by expiry, as far as the test knows
        var hits = 0

        func newTokens(_ count: Int) -> [Int] { (0..<count).map { _ in Int.random(in: 0..<4, using: &rng) } }

        /// Writes KV for the next `count` tokens of `seq` into its blocks (asserting they are private),
        /// then commits them.
        func grow(_ seq: Running, by count: Int) throws -> Bool {
            let computed = try #require(cache.computedTokens(of: seq.id))
            let count = min(count, seq.tokens.count - computed)
            guard count > 0 else { return true }
            guard try cache.reserve(seq.id, totalTokens: computed + count) else { return false }
            let table = try #require(cache.blockTable(of: seq.id))
            let keys = Self.keyChoices[seq.keyIndex]
            for position in computed..<computed + count {
                let block = table[position / blockSize]
                #expect(!cache.pool.tree.isCached(block) && cache.pool.refCounts[block] == 1,
                        "engine would write into shared block \(block)")
                if position % blockSize == 0 {
                    shadow[block] = ShadowBlock(
                        tokens: Array(repeating: nil, count: blockSize), index: position / blockSize,
                        keyIdentity: Self.keyIdentity(keys, block: position / blockSize, blockSize: blockSize))
                }
                shadow[block].tokens[position % blockSize] = seq.tokens[position]
            }
            try cache.commit(seq.id, tokens: seq.tokens[computed..<computed + count])
            return true
        }

        func finish(_ index: Int) {
            let seq = running.remove(at: index)
            let computed = cache.computedTokens(of: seq.id) ?? 0
            if computed > 0 && history.count < 50 { history.append(Array(seq.tokens.prefix(computed))) }
            cache.free(seq.id)
        }

        for step in 0..<4_000 {
            let roll = Int.random(in: 0..<100, using: &rng)
            let sequencesBefore = cache.sequenceCount
            var operation = ""
            var lapseAllowed = false
            switch roll {
            case 0..<20:  // admit
                operation = "admit"
                let keyIndex = Int.random(in: 0..<Self.keyChoices.count, using: &rng)
                var prompt: [Int]
                if !history.isEmpty && Bool.random(using: &rng) {
                    prompt = history.randomElement(using: &rng)! + newTokens(Int.random(in: 1...6, using: &rng))
                } else {
                    prompt = Self.systemPrompts.randomElement(using: &rng)! + newTokens(Int.random(in: 1...20, using: &rng))
                }
                prompt = Array(prompt.prefix(120))
                let tokens = prompt + newTokens(Int.random(in: 0...16, using: &rng))
                let match = try cache.lookup(prompt, keys: Self.keyChoices[keyIndex])
                #expect(match.cachedTokens < prompt.count)
                let reserve = Int.random(in: 1...prompt.count, using: &rng)
                lapseAllowed = sequencesBefore == 0
                guard let admission = try cache.admit(match, reservingTokens: reserve) else { break }
                hits += admission.cachedTokens
                // Every reused block holds exactly what this request would have computed there.
                let keys = Self.keyChoices[keyIndex]
                for index in 0..<admission.cachedTokens / blockSize {
                    let expected = ShadowBlock(
                        tokens: Array(prompt[index * blockSize..<(index + 1) * blockSize]), index: index,
                        keyIdentity: Self.keyIdentity(keys, block: index, blockSize: blockSize))
                    #expect(shadow[admission.blockTable[index]] == expected, "wrong KV reused at step \(step)")
                }
                running.append(Running(id: admission.sequence, tokens: tokens, keyIndex: keyIndex))
            case 20..<55:  // grow: a prefill chunk or one decode token
                guard let index = running.indices.randomElement(using: &rng) else { break }
                operation = "grow"
                lapseAllowed = sequencesBefore == 1
                if try !grow(running[index], by: Int.random(in: 1...8, using: &rng)) {
                    finish(running.count - 1)  // preempt the youngest (possibly this one)
                    operation = "grow+preempt"
                }
            case 55..<65:  // finish or cancel
                guard let index = running.indices.randomElement(using: &rng) else { break }
                operation = "free"
                finish(index)
            case 65..<72:  // pin a running prefix or a cached prompt
                operation = "pin"
                lapseAllowed = true  // the cap may lapse older pins
                let ttl = Duration.seconds(Int.random(in: 1...30, using: &rng))
                let receipt: PinReceipt?
                if let seq = running.randomElement(using: &rng), Bool.random(using: &rng) {
                    receipt = try cache.pin(seq.id, prefixTokens: Int.random(in: 0...40, using: &rng), ttl: ttl)
                } else if let old = history.randomElement(using: &rng) {
                    receipt = try cache.pin(tokens: old, ttl: ttl)
                } else {
                    receipt = nil
                }
                if let receipt { pins[receipt.id] = receipt.expiresAt }
            case 72..<75:  // unpin
                guard let id = pins.keys.randomElement(using: &rng) else { break }
                operation = "unpin"
                cache.unpin(id)
                pins[id] = nil
            case 75..<83:  // time passes
                operation = "advance clock"
                clock.advance(by: .milliseconds(Int.random(in: 1...5_000, using: &rng)))
                cache.expirePins()
            case 83..<86:  // eviction pressure: a one-off private request takes every available block
                operation = "evict"
                lapseAllowed = sequencesBefore == 0
                let count = cache.availableBlocks * blockSize
                if count > 0, let flood = try cache.admit(try cache.lookup(run(50_000 + step * 1_000, count))) {
                    cache.free(flood.sequence)
                }
            case 86..<87:  // reset
                operation = "reset"
                lapseAllowed = true
                let before = cache.stats()
                let dropped = cache.reset()
                #expect(dropped == before.blocksReclaimable + before.blocksParked)
                #expect(cache.stats().blocksCached == before.blocksCached - dropped)
            default:  // read-only lookups never change anything
                operation = "lookup"
                let before = cache.stats()
                if let old = history.randomElement(using: &rng) {
                    _ = try cache.lookup(old, keys: Self.keyChoices.randomElement(using: &rng)!)
                }
                #expect(cache.stats() == before)
            }
            cache.expectConsistent(after: "step \(step): \(operation)")
            // A pin never disappears before its expiry unless the operation may lapse it.
            for (id, expiry) in pins where cache.pins.pin(id) == nil {
                #expect(
                    expiry <= clock.now() || lapseAllowed,
                    "pin lapsed early at step \(step) (\(operation))")
                pins[id] = nil
            }
            let stats = cache.stats()
            #expect(stats.blocksInUse + stats.blocksFree + stats.blocksReclaimable + stats.blocksParked == 64)
        }
        while !running.isEmpty { finish(0) }
        cache.expectConsistent(after: "draining")
        #expect(cache.stats().blocksInUse == 0)
        #expect(hits > 0, "the workload should produce prefix hits")
    }
}
