import Foundation
import KVTier
import PrefixCache
import Tensor

/// Continuous batching over one paged KV pool with prefix caching. Owned by the engine thread.
///
/// Each `step()`:
/// 1. drops cancelled sequences (their blocks go back to the pool);
/// 2. admits waiting requests while sequences and blocks allow, in `schedulePolicy` order (longest cached
///    prefix first, with aging): the prefix cache supplies the longest cached prefix; with KV tiers, the blocks
///    that follow it are read from the tiers first (asynchronously: the request waits, the engine does not)
///    and loaded into fresh blocks; a request whose next uncached block is being prefilled right now by a
///    running sequence waits (then hits it) instead of computing it twice;
/// 3. builds one batch under `maxBatchTokens`: one decode token per decoding sequence, then prefill
///    chunks (chunked prefill, shortest remaining prompt first), so the weights are read once per step for all of them;
/// 4. runs the forward pass, commits the new KV (full blocks become hittable at once, in decode too),
///    samples next tokens and streams them; finished sequences release their blocks; newly registered blocks
///    are queued for the tiers (never waiting for them).
/// When the pool runs out, the youngest running sequence is preempted (freed, recomputed later with a
/// prefix hit on its own registered blocks); a request is rejected only if it alone exceeds the pool.
final class Scheduler {
    struct Job {
        let id: UInt64
        let request: GenerationRequest
        let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
        let submitted: Date
    }

    /// A request in flight.
    final class ScheduledSequence {
        let job: Job
        var tokens: [Int]              // prompt + generated
        var computed = 0               // positions with KV in the pool
        var cacheID: SequenceID?       // nil while waiting
        var sampler: Sampler
        /// The grammar state when the request is constrained (advanced by every sampled token).
        var grammar: GrammarMatcher?
        var detok: StreamingDetokenizer
        var generated = 0
        var cachedTokens: Int?         // reported: prefix reuse at first admission
        var pinned = false             // the request's pin (if any) was placed
        var firstToken: Date?
        var preemptions = 0
        var admittedAt = 0             // admission order (for preemption: youngest first)
        var promptBlockHashes: [BlockHash] = []   // full prompt blocks, hashed once, for in-flight sharing
        var tierRead = TierRead.notAsked
        /// Speculative decoding: the draft length and acceptance of this sequence.
        var speculation = SpeculationState()

        init(job: Job, model: LanguageModel) {
            self.job = job
            tokens = job.request.promptTokens
            sampler = Sampler(job.request.sampling, vocabularySize: model.config.vocabularySize)
            for t in tokens { sampler.accept(t) }
            grammar = job.request.grammar
            detok = StreamingDetokenizer(tokenizer: model.tokenizer)
        }

        var promptCount: Int { job.request.promptTokens.count }
        var isPrefilling: Bool { computed < tokens.count - 1 }

        /// Whether this sequence is about to compute the prompt block with this hash.
        func willCompute(_ hash: BlockHash, blockSize: Int) -> Bool {
            let next = computed / blockSize
            return cacheID != nil && next < promptBlockHashes.count && promptBlockHashes[next...].contains(hash)
        }
    }

    /// Where a waiting request stands with the KV tiers.
    enum TierRead {
        case notAsked
        /// Blocks `from...` of the prompt were asked for at `since`.
        case fetching(from: Int, since: Date)
        /// The verified run the tiers returned for blocks `from...` (possibly empty).
        case fetched(from: Int, hits: [KVTierHit])
        /// Asked and used (or nothing to ask): never again for this request.
        case done

        var isFetching: Bool { if case .fetching = self { true } else { false } }
        var isFetched: Bool { if case .fetched = self { true } else { false } }
    }

    let model: LanguageModel
    let options: EngineOptions
    let kvPool: KVPool
    let cache: PrefixCacheManager
    let tier: KVTier?
    /// Called (from a tier task) with a request id and the blocks read for it; the engine hands them back
    /// through `receiveTierReads` on its thread.
    var deliverTierRead: (@Sendable (UInt64, [KVTierHit]) -> Void)?
    private(set) var waiting: [ScheduledSequence] = []
    private(set) var running: [ScheduledSequence] = []
    private(set) var stats = EngineStats()
    private var admissions = 0
    private var prefixHits = PrefixHitTable()
    /// Whether `prefixHits` changed since `stats.topPrefixes` was last computed (sorted only then, not every step).
    private var prefixHitsChanged = false
    /// Grammar-constrained sampling (token trie, mask cache), for requests with a `grammar`.
    private lazy var constrained = ConstrainedSampler(tokenizer: model.tokenizer)
    private let drafter = NgramDrafter()
    /// Hashes this process wrote to or loaded from the tiers (so a shutdown saves only the others). Bounded:
    /// cleared past `8 * blockCount` entries (the cost is writing some blocks twice).
    private var inTier: Set<BlockHash> = []

    init(model: LanguageModel, options: EngineOptions) throws {
        self.model = model
        self.options = options
        try options.kvCacheDType.check(headDim: model.config.headDim)
        let blocks = max(1, (options.kvCacheTokens + options.blockSize - 1) / options.blockSize)
        kvPool = KVPool(layerCount: model.config.layerCount, kvDim: model.config.kvDim, blockSize: options.blockSize,
                        blockCount: blocks, dtype: options.kvCacheDType)
        cache = try PrefixCacheManager(config: PrefixCacheConfig(
            blockCount: blocks, blockSize: options.blockSize, model: model.fingerprint,
            enabled: options.prefixCaching))
        tier = options.prefixCaching ? options.kvTier : nil
        if let tier {
            let own = KVBlockLayout(model: model, options: options)
            guard tier.layout == own, own.blockBytes == kvPool.blockBytes else {
                throw EngineError(.invalidInput, "the KV tier's layout (\(tier.layout.namespace)) does not match the pool's (\(own.namespace))")
            }
        }
    }

    /// Whether a step could do anything now: something runs, or a waiting request is not waiting for a tier.
    var hasRunnableWork: Bool { !running.isEmpty || waiting.contains { !$0.tierRead.isFetching } }

    /// When the oldest tier read times out (the engine wakes then even if nothing else happens).
    var nextTierDeadline: Date? {
        waiting.compactMap { seq -> Date? in
            if case .fetching(_, let since) = seq.tierRead { return since.addingTimeInterval(options.kvTierFetchTimeout) }
            return nil
        }.min()
    }

    /// Tier reads that completed (on the engine thread).
    func receiveTierReads(_ reads: [(id: UInt64, hits: [KVTierHit])]) {
        for read in reads {
            guard let seq = waiting.first(where: { $0.job.id == read.id }),
                  case .fetching(let from, _) = seq.tierRead else { continue }   // cancelled or timed out
            seq.tierRead = .fetched(from: from, hits: read.hits)
        }
    }
    var waitingCount: Int { waiting.count }

    func enqueue(_ jobs: [Job]) {
        for job in jobs {
            let r = job.request
            let ctx = model.config.contextLength
            if r.promptTokens.isEmpty {
                job.continuation.finish(throwing: EngineError(.invalidInput, "the prompt is empty"))
            } else if let bad = r.promptTokens.first(where: { $0 < 0 || $0 >= model.config.vocabularySize }) {
                job.continuation.finish(throwing: EngineError(.invalidInput, "token id \(bad) is out of range"))
            } else if r.promptTokens.count + 1 > ctx {
                job.continuation.finish(throwing: EngineError(
                    .contextOverflow, "the prompt has \(r.promptTokens.count) tokens; the model's context is \(ctx)"))
            } else if r.promptTokens.count + 1 > kvPool.blockCount * kvPool.blockSize {
                job.continuation.finish(throwing: EngineError(
                    .contextOverflow,
                    "the prompt has \(r.promptTokens.count) tokens; the KV cache holds \(kvPool.blockCount * kvPool.blockSize)"))
            } else {
                waiting.append(ScheduledSequence(job: job, model: model))
            }
        }
    }

    func cancel(_ ids: Set<UInt64>) {
        guard !ids.isEmpty else { return }
        for seq in running where ids.contains(seq.job.id) { finish(seq, .cancelled) }
        for seq in waiting where ids.contains(seq.job.id) { finish(seq, .cancelled) }
        waiting.removeAll { ids.contains($0.job.id) }
    }

    func cancelAll() {
        for seq in running + waiting { finish(seq, .cancelled) }
        running.removeAll()
        waiting.removeAll()
    }

    /// One engine iteration (see the type's doc).
    func step() {
        admit()
        guard !running.isEmpty else { return publish() }
        var rows: [BatchRow] = []
        var outputs: [Int] = []          // batch row whose logits each sampling sequence needs
        var batchSeqs: [(seq: ScheduledSequence, count: Int, output: Int?, drafts: [Int])] = []
        var tables: [BlockTable] = []
        var adapters: [LoRAAdapter?] = []   // per table; stays empty while no sequence has an adapter
        var budget = options.maxBatchTokens

        // Decode tokens first (one each), then prefill chunks, shortest remaining prompt first (oldest first
        // among equals): a short prompt behind a prefix hit gets its first token in one step instead of
        // waiting behind a long cold prompt; the long one still gets what the short ones leave, and each
        // short prompt takes prefill budget only once, so it cannot be starved.
        let prefilling = running.filter(\.isPrefilling).sorted {
            let (a, b) = ($0.tokens.count - $0.computed, $1.tokens.count - $1.computed)
            return a != b ? a < b : $0.admittedAt < $1.admittedAt
        }
        let decoding = running.filter { !$0.isPrefilling }
        var decodersLeft = decoding.count
        for seq in decoding + prefilling where budget > 0 {
            guard running.contains(where: { $0 === seq }) else { continue }   // preempted in this loop
            let want = min(budget, seq.tokens.count - seq.computed)
            let decodes = seq.tokens.count - seq.computed == 1
            if decodes { decodersLeft -= 1 }
            guard want > 0, reserve(seq, total: seq.computed + want) else { continue }
            // Speculation: drafted tokens ride along with a decode token, from budget no other decoding
            // sequence needs for its own token.
            let drafts = decodes ? draft(seq, budget: budget - 1 - max(decodersLeft, 0)) : []
            guard let id = seq.cacheID, let blocks = cache.blockTable(of: id) else {
                fail(seq, "running sequence \(seq.job.id) has no block table")
                continue
            }
            let index = tables.count
            tables.append(BlockTable(blocks: blocks.map { Int32($0) }, count: seq.computed))
            if let lora = seq.job.request.lora, adapters.isEmpty {
                adapters = [LoRAAdapter?](repeating: nil, count: index) + [lora]
            } else if !adapters.isEmpty {
                adapters.append(seq.job.request.lora)
            }
            for k in 0..<want {
                rows.append(BatchRow(token: seq.tokens[seq.computed + k], position: seq.computed + k, sequence: index))
            }
            var output: Int?
            if seq.computed + want == seq.tokens.count {
                output = outputs.count
                outputs.append(rows.count - 1)
            }
            for (k, token) in drafts.enumerated() {
                rows.append(BatchRow(token: token, position: seq.computed + want + k, sequence: index))
                outputs.append(rows.count - 1)
            }
            batchSeqs.append((seq, want, output, drafts))
            budget -= want + drafts.count
        }
        // A later preemption may have removed a sequence already placed in this batch.
        batchSeqs.removeAll { entry in !running.contains { $0 === entry.seq } }
        guard !batchSeqs.isEmpty else { return publish() }
        if batchSeqs.count != tables.count { return publish() }   // rebuild next step (rare)

        let logits = model.transformer.forward(rows: rows, tables: tables, kv: kvPool, outputRows: outputs,
                                                  adapters: adapters)
        stats.steps += 1
        let vocab = model.config.vocabularySize
        for (seq, count, output, drafts) in batchSeqs {
            let range = seq.computed..<(seq.computed + count)
            if seq.computed < seq.promptCount { stats.prefillTokens += count } else { stats.decodeTokens += count }
            if let id = seq.cacheID {
                do {
                    let outcome = try cache.commit(id, tokens: seq.tokens[range])
                    if !outcome.newBlocks.isEmpty { writeToTier(outcome.newBlocks) }
                } catch {
                    // The KV is computed and stays in the sequence's blocks; only its registration for reuse
                    // failed, so the sequence goes on. Counted and reported, never silent.
                    recordPrefixCacheError("commit of \(count) tokens for sequence \(seq.job.id) failed: \(error)")
                }
            }
            seq.computed += count
            if let pin = seq.job.request.pin, !seq.pinned, seq.computed >= min(pin.prefixTokens, seq.promptCount),
               let id = seq.cacheID {
                seq.pinned = true
                do {
                    _ = try cache.pin(id, prefixTokens: pin.prefixTokens, ttl: pin.ttl)
                } catch {
                    recordPrefixCacheError("pin of \(pin.prefixTokens) tokens for sequence \(seq.job.id) failed: \(error)")
                }
            }
            guard let output else { continue }
            logits.withUnsafeBufferPointer { lp in
                sample(seq, UnsafeBufferPointer(rebasing: lp[(output * vocab)..<((output + 1) * vocab)]))
                verify(seq, drafts: drafts, logits: lp, firstRow: output + 1)
            }
        }
        publish()
    }

    // MARK: - Speculative decoding

    /// Up to `budget` tokens drafted for a decoding sequence (prompt lookup), with KV room reserved for them
    /// (never by preempting anyone: no room, no draft).
    private func draft(_ seq: ScheduledSequence, budget: Int) -> [Int] {
        guard options.speculative == .ngram, budget > 0, let id = seq.cacheID else { return [] }
        let r = seq.job.request
        let room = min(budget, r.maxTokens - seq.generated - 1, model.config.contextLength - seq.tokens.count - 1)
        guard room > 0 else { return [] }
        let drafts = drafter.draft(seq.tokens, count: min(seq.speculation.wanted(), room))
        guard !drafts.isEmpty, (try? cache.reserve(id, totalTokens: seq.computed + 1 + drafts.count)) == true else {
            return []
        }
        return drafts
    }

    /// After the decode token's sample: while the sampled token equals the next drafted one, that draft's
    /// KV (computed in this batch) is kept and its row's logits give the next token. The first mismatch ends
    /// it; its sampled token is the sequence's next input, as in plain decoding. Each token is sampled from
    /// exactly the distribution plain decoding would use (a draft is only ever compared with a sample), so
    /// the output distribution is unchanged and greedy output is identical.
    private func verify(_ seq: ScheduledSequence, drafts: [Int], logits: UnsafeBufferPointer<Float>, firstRow: Int) {
        guard !drafts.isEmpty else { return }
        let vocab = model.config.vocabularySize
        var accepted = 0
        for (k, token) in drafts.enumerated() {
            // Still running, and the token just sampled (the newest, without KV yet) is the draft.
            guard let id = seq.cacheID, seq.tokens.count == seq.computed + 1, seq.tokens[seq.computed] == token else { break }
            do {
                let outcome = try cache.commit(id, tokens: seq.tokens[seq.computed..<(seq.computed + 1)])
                if !outcome.newBlocks.isEmpty { writeToTier(outcome.newBlocks) }
            } catch {
                recordPrefixCacheError("commit of a drafted token for sequence \(seq.job.id) failed: \(error)")
                break   // unregistered: recompute from here (the sampled token is the next input)
            }
            seq.computed += 1
            accepted += 1
            let row = firstRow + k
            sample(seq, UnsafeBufferPointer(rebasing: logits[(row * vocab)..<((row + 1) * vocab)]))
        }
        seq.speculation.record(drafted: drafts.count, accepted: accepted)
        stats.draftedTokens += drafts.count
        stats.acceptedDraftTokens += accepted
    }

    // MARK: - Admission and blocks

    private func admit() {
        guard !waiting.isEmpty, running.count < options.maxRunning else { return }
        let now = Date()
        for seq in admissionOrder(now: now) where running.count < options.maxRunning {
            let keys = seq.job.request.cacheKeys
            do {
                let match = try cache.lookup(seq.tokens, keys: keys)
                if options.prefixCaching {
                    hashPrompt(seq)
                    // In-flight sharing: if the next uncached prompt block is being computed by a running
                    // sequence, wait for it (it is registered when that chunk commits) instead of computing it twice.
                    let next = match.cachedBlocks
                    if next < seq.promptBlockHashes.count, (next + 1) * kvPool.blockSize < seq.tokens.count,
                       running.contains(where: { $0.willCompute(seq.promptBlockHashes[next], blockSize: kvPool.blockSize) }) {
                        continue
                    }
                    if askTier(seq, cachedBlocks: next, now: now) { continue }
                }
                let hits = tierHits(seq, cachedBlocks: match.cachedBlocks)
                let reserve = min(seq.tokens.count, match.cachedTokens + hits.count * kvPool.blockSize + options.maxBatchTokens)
                guard let admission = try cache.admit(match, reservingTokens: reserve) else {
                    return   // no room now; keep the order
                }
                seq.cacheID = admission.sequence
                seq.computed = admission.cachedTokens
                if seq.tierRead.isFetched { seq.tierRead = .done }
                if admission.cachedTokens == match.cachedTokens, !hits.isEmpty {
                    load(hits, into: seq, table: admission.blockTable)
                }
                if seq.cachedTokens == nil {
                    seq.cachedTokens = seq.computed
                    let blocks = seq.computed / kvPool.blockSize
                    if blocks > 0, blocks <= seq.promptBlockHashes.count {
                        prefixHits.record(seq.promptBlockHashes[blocks - 1], tokens: seq.computed)
                        prefixHitsChanged = true
                    }
                }
                admissions += 1
                seq.admittedAt = admissions
                waiting.removeAll { $0 === seq }
                running.append(seq)
            } catch {
                waiting.removeAll { $0 === seq }
                seq.job.continuation.finish(throwing: EngineError(.contextOverflow, "\(error)", underlying: error))
            }
        }
    }

    /// The waiting requests in the order admission tries them (see `SchedulePolicy`).
    /// Interactive requests always come before background ones (stable within each class).
    private func admissionOrder(now: Date) -> [ScheduledSequence] {
        let ordered = policyOrder(now: now)
        guard ordered.contains(where: { $0.job.request.priority == .background }) else { return ordered }
        return ordered.filter { $0.job.request.priority == .interactive } + ordered.filter { $0.job.request.priority == .background }
    }

    private func policyOrder(now: Date) -> [ScheduledSequence] {
        guard options.schedulePolicy == .longestPrefix, options.prefixCaching, waiting.count > 1 else { return waiting }
        // Preempted and aged requests first, in queue order; then the longest cached prefix, in queue order
        // among equals. The cached length is estimated from the prompt's block hashes (computed once).
        var urgent: [ScheduledSequence] = []
        var rest: [(seq: ScheduledSequence, cached: Int, position: Int)] = []
        for (position, seq) in waiting.enumerated() {
            if seq.preemptions > 0 || now.timeIntervalSince(seq.job.submitted) >= options.scheduleAging {
                urgent.append(seq)
            } else {
                hashPrompt(seq)
                rest.append((seq, cache.cachedPrefixBlocks(seq.promptBlockHashes), position))
            }
        }
        rest.sort { $0.cached != $1.cached ? $0.cached > $1.cached : $0.position < $1.position }
        return urgent + rest.map(\.seq)
    }

    private func hashPrompt(_ seq: ScheduledSequence) {
        if seq.promptBlockHashes.isEmpty {
            seq.promptBlockHashes = cache.hasher.blockHashes(of: seq.job.request.promptTokens, keys: seq.job.request.cacheKeys)
        }
    }

    /// Starts or follows the tier read for the blocks after the local hit; returns true while the request
    /// should keep waiting for it.
    private func askTier(_ seq: ScheduledSequence, cachedBlocks: Int, now: Date) -> Bool {
        guard let tier else { return false }
        switch seq.tierRead {
        case .notAsked:
            // Only whole prompt blocks before the last token (the last token is always computed).
            let usable = min(seq.promptBlockHashes.count, (seq.tokens.count - 1) / kvPool.blockSize)
            guard cachedBlocks < usable, let deliver = deliverTierRead else {
                seq.tierRead = .done
                return false
            }
            seq.tierRead = .fetching(from: cachedBlocks, since: now)
            let id = seq.job.id
            tier.fetch(Array(seq.promptBlockHashes[cachedBlocks..<usable])) { hits in deliver(id, hits) }
            return true
        case .fetching(_, let since):
            guard now.timeIntervalSince(since) >= options.kvTierFetchTimeout else { return true }
            tier.noteFetchTimeout()
            seq.tierRead = .done
            return false
        case .fetched, .done:
            return false
        }
    }

    /// The tier blocks that continue a local hit of `cachedBlocks` blocks (none if the local hit changed so
    /// that they no longer follow it).
    private func tierHits(_ seq: ScheduledSequence, cachedBlocks: Int) -> ArraySlice<KVTierHit> {
        guard case .fetched(let from, let hits) = seq.tierRead, from <= cachedBlocks,
              cachedBlocks - from < hits.count else { return [] }
        return hits[(cachedBlocks - from)...]
    }

    /// Copies tier blocks into the sequence's fresh blocks after its local hit and registers them, as if
    /// they had just been computed.
    private func load(_ hits: ArraySlice<KVTierHit>, into seq: ScheduledSequence, table: [BlockID]) {
        guard let id = seq.cacheID else { return }
        let bs = kvPool.blockSize
        let first = seq.computed / bs
        for (j, hit) in hits.enumerated() {
            hit.withPayload { kvPool.importBlock(table[first + j], from: $0) }
        }
        do {
            _ = try cache.commit(id, tokens: seq.tokens[(first * bs)..<((first + hits.count) * bs)])
        } catch {
            // Nothing registered: the sequence computes these blocks itself (the copied bytes are overwritten).
            recordPrefixCacheError("registering \(hits.count) tier blocks for sequence \(seq.job.id) failed: \(error)")
            return
        }
        seq.computed += hits.count * bs
        for hit in hits {
            stats.tierHitTokens[hit.source, default: 0] += bs
            rememberInTier(hit.hash)
        }
    }

    private func rememberInTier(_ hash: BlockHash) {
        if inTier.count >= 8 * kvPool.blockCount { inTier.removeAll(keepingCapacity: true) }
        inTier.insert(hash)
    }

    /// Queues newly registered blocks for the tiers (dropped and counted when the queue is full).
    private func writeToTier(_ blocks: [RegisteredBlock]) {
        guard let tier else { return }
        for registered in blocks {
            guard !inTier.contains(registered.hash) else { continue }
            guard !tier.isWriteQueueFull else {
                tier.noteWriteDropped()
                continue
            }
            tier.write(registered.hash, payload: exportBlock(registered.block))
            rememberInTier(registered.hash)
        }
    }

    private func exportBlock(_ block: BlockID) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: kvPool.blockBytes) { buffer, count in
            kvPool.exportBlock(block, into: UnsafeMutableRawBufferPointer(buffer))
            count = kvPool.blockBytes
        }
    }

    /// Hands every cached block the tiers do not have yet to the write queue, waiting (at most `timeout`
    /// seconds) for room: for shutdown, when no request runs any more.
    func saveCachedBlocksToTier(timeout: Double) {
        guard let tier else { return }
        let deadline = Date().addingTimeInterval(timeout)
        var saved = 0
        for registered in cache.cachedBlocks() where !inTier.contains(registered.hash) {
            while tier.isWriteQueueFull {
                guard Date() < deadline else { return }
                Thread.sleep(forTimeInterval: 0.002)
            }
            tier.write(registered.hash, payload: exportBlock(registered.block))
            rememberInTier(registered.hash)
            saved += 1
        }
        if saved > 0 {
            FileHandle.standardError.write(Data("[engine] saving \(saved) cached KV blocks to the tiers\n".utf8))
        }
    }

    /// Drops unpinned cached blocks (see `PrefixCacheManager.reset`) and forgets what the tiers hold.
    func resetPrefixCache() -> Int {
        inTier.removeAll()
        prefixHits.removeAll()
        prefixHitsChanged = true
        return cache.reset()
    }

    /// Drops the unused cached blocks of an unloaded LoRA adapter (see `PrefixCacheManager.drop(loraDigest:)`).
    func dropPrefixBlocks(loraDigest: [UInt8]) -> Int {
        let dropped = cache.drop(loraDigest: loraDigest)
        if dropped > 0 { prefixHitsChanged = true }
        return dropped
    }

    /// Makes room for `total` positions of `seq`, preempting younger sequences if the pool is full.
    private func reserve(_ seq: ScheduledSequence, total: Int) -> Bool {
        while true {
            guard let id = seq.cacheID else {
                fail(seq, "running sequence \(seq.job.id) has no cache id")
                return false
            }
            do {
                if try cache.reserve(id, totalTokens: total) { return true }
            } catch {
                finish(seq, .contextFull)
                return false
            }
            // The victim: a background sequence before an interactive one, then the youngest.
            guard let victim = running.filter({ $0 !== seq && $0.cacheID != nil }).max(by: {
                      let (a, b) = ($0.job.request.priority, $1.job.request.priority)
                      return a != b ? a > b : $0.admittedAt < $1.admittedAt
                  }),
                  victim.admittedAt > seq.admittedAt || running.count > 1 else {
                finish(seq, .contextFull)
                return false
            }
            preempt(victim)
        }
    }

    private func preempt(_ seq: ScheduledSequence) {
        if let id = seq.cacheID { cache.free(id) }
        seq.cacheID = nil
        seq.computed = 0
        seq.preemptions += 1
        stats.preemptions += 1
        running.removeAll { $0 === seq }
        waiting.insert(seq, at: 0)
    }

    // MARK: - Sampling and completion

    private func sample(_ seq: ScheduledSequence, _ logits: UnsafeBufferPointer<Float>) {
        let r = seq.job.request
        let token: Int
        if var matcher = seq.grammar {
            guard let t = constrained.sample(&seq.sampler, &matcher, logits: logits, allowEnd: r.stopAtEndOfGeneration)
            else { return finish(seq, .stop) }   // the grammar allows no token here: nothing valid can follow
            seq.grammar = matcher
            token = t
        } else {
            token = seq.sampler.sample(logits)
        }
        seq.sampler.accept(token)
        if seq.firstToken == nil { seq.firstToken = Date() }
        if r.stopAtEndOfGeneration && model.tokenizer.eogIDs.contains(token) {
            return finish(seq, .stop)
        }
        seq.generated += 1
        var event = TokenEvent(id: token, text: seq.detok.append(token), logprob: nil, top: [],
                               cachedTokens: seq.cachedTokens ?? 0,
                               timeToFirstToken: seq.firstToken.map { $0.timeIntervalSince(seq.job.submitted) })
        if r.logprobs || r.topLogprobs > 0 {
            event.logprob = LogProbs.logProb(of: token, logits: logits)
            if r.topLogprobs > 0 { event.top = LogProbs.top(r.topLogprobs, logits: logits) }
        }
        seq.job.continuation.yield(.token(event))
        if seq.grammar?.isFinished == true { return finish(seq, .stop) }   // complete, and nothing may follow
        if seq.generated >= r.maxTokens { return finish(seq, .length) }
        if seq.tokens.count + 1 >= model.config.contextLength { return finish(seq, .contextFull) }
        seq.tokens.append(token)
    }

    private func finish(_ seq: ScheduledSequence, _ reason: FinishReason) {
        if let id = seq.cacheID { cache.free(id) }
        seq.cacheID = nil
        running.removeAll { $0 === seq }
        let now = Date()
        seq.job.continuation.yield(.finished(GenerationSummary(trailingText: seq.detok.finish(),
            promptTokens: seq.promptCount, cachedTokens: seq.cachedTokens ?? 0, generatedTokens: seq.generated,
            finishReason: reason, timeToFirstToken: seq.firstToken.map { $0.timeIntervalSince(seq.job.submitted) },
            totalSeconds: now.timeIntervalSince(seq.job.submitted), preemptions: seq.preemptions)))
        seq.job.continuation.finish()
        stats.finishedRequests += 1
    }

    /// Ends `seq` with an internal error (an engine invariant broke for it; other sequences go on).
    private func fail(_ seq: ScheduledSequence, _ message: String) {
        recordPrefixCacheError(message)
        if let id = seq.cacheID { cache.free(id) }
        seq.cacheID = nil
        running.removeAll { $0 === seq }
        waiting.removeAll { $0 === seq }
        seq.job.continuation.finish(throwing: EngineError(.internalError, message))
        stats.finishedRequests += 1
    }

    private func recordPrefixCacheError(_ message: String) {
        stats.prefixCacheErrors += 1
        stats.lastPrefixCacheError = message
        // Rate-limited: the first ten, then every thousandth.
        if stats.prefixCacheErrors <= 10 || stats.prefixCacheErrors % 1000 == 0 {
            FileHandle.standardError.write(Data("[engine] error: prefix cache: \(message) (\(stats.prefixCacheErrors) so far)\n".utf8))
        }
    }

    private func publish() {
        stats.running = running.count
        stats.waiting = waiting.count
        stats.prefix = cache.stats()
        if prefixHitsChanged {
            stats.topPrefixes = prefixHits.top(10)
            prefixHitsChanged = false
        }
    }
}
