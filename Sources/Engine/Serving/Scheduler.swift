import Foundation
import PrefixCache
import Tensor

/// Continuous batching over one paged KV pool with prefix caching. Owned by the engine thread.
///
/// Each `step()`:
/// 1. drops cancelled sequences (their blocks go back to the pool);
/// 2. admits waiting requests in order while sequences and blocks allow: the prefix cache supplies the
///    longest cached prefix; a request whose next uncached block is being prefilled right now by a running
///    sequence waits (then hits it) instead of computing it twice;
/// 3. builds one batch under `maxBatchTokens`: one decode token per decoding sequence, then prefill
///    chunks (chunked prefill, shortest remaining prompt first), so the weights are read once per step for all of them;
/// 4. runs the forward pass, commits the new KV (full blocks become hittable at once, in decode too),
///    samples next tokens and streams them; finished sequences release their blocks.
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
        var detok: StreamingDetokenizer
        var generated = 0
        var cachedTokens: Int?         // reported: prefix reuse at first admission
        var pinned = false             // the request's pin (if any) was placed
        var firstToken: Date?
        var preemptions = 0
        var admittedAt = 0             // admission order (for preemption: youngest first)
        var promptBlockHashes: [BlockHash] = []   // full prompt blocks, hashed once, for in-flight sharing

        init(job: Job, model: LanguageModel) {
            self.job = job
            tokens = job.request.promptTokens
            sampler = Sampler(job.request.sampling, vocabularySize: model.config.vocabularySize)
            for t in tokens { sampler.accept(t) }
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

    let model: LanguageModel
    let options: EngineOptions
    let kvPool: KVPool
    let cache: PrefixCacheManager
    private(set) var waiting: [ScheduledSequence] = []
    private(set) var running: [ScheduledSequence] = []
    private(set) var stats = EngineStats()
    private var admissions = 0

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
    }

    var isIdle: Bool { waiting.isEmpty && running.isEmpty }
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
        var batchSeqs: [(seq: ScheduledSequence, count: Int, output: Int?)] = []
        var tables: [BlockTable] = []
        var budget = options.maxBatchTokens

        // Decode tokens first (one each), then prefill chunks, shortest remaining prompt first (oldest first
        // among equals): a short prompt behind a prefix hit gets its first token in one step instead of
        // waiting behind a long cold prompt; the long one still gets what the short ones leave, and each
        // short prompt takes prefill budget only once, so it cannot be starved.
        let prefilling = running.filter(\.isPrefilling).sorted {
            let (a, b) = ($0.tokens.count - $0.computed, $1.tokens.count - $1.computed)
            return a != b ? a < b : $0.admittedAt < $1.admittedAt
        }
        let ordered = running.filter { !$0.isPrefilling } + prefilling
        for seq in ordered where budget > 0 {
            guard running.contains(where: { $0 === seq }) else { continue }   // preempted in this loop
            let want = min(budget, seq.tokens.count - seq.computed)
            guard want > 0, reserve(seq, total: seq.computed + want) else { continue }
            guard let id = seq.cacheID, let blocks = cache.blockTable(of: id) else {
                fail(seq, "running sequence \(seq.job.id) has no block table")
                continue
            }
            let index = tables.count
            tables.append(BlockTable(blocks: blocks.map { Int32($0) }, count: seq.computed))
            for k in 0..<want {
                rows.append(BatchRow(token: seq.tokens[seq.computed + k], position: seq.computed + k, sequence: index))
            }
            var output: Int?
            if seq.computed + want == seq.tokens.count {
                output = outputs.count
                outputs.append(rows.count - 1)
            }
            batchSeqs.append((seq, want, output))
            budget -= want
        }
        // A later preemption may have removed a sequence already placed in this batch.
        batchSeqs.removeAll { entry in !running.contains { $0 === entry.seq } }
        guard !batchSeqs.isEmpty else { return publish() }
        if batchSeqs.count != tables.count { return publish() }   // rebuild next step (rare)

        let logits = model.transformer.forward(rows: rows, tables: tables, kv: kvPool, outputRows: outputs)
        stats.steps += 1
        let vocab = model.config.vocabularySize
        for (seq, count, output) in batchSeqs {
            let range = seq.computed..<(seq.computed + count)
            if seq.computed < seq.promptCount { stats.prefillTokens += count } else { stats.decodeTokens += count }
            if let id = seq.cacheID {
                do {
                    _ = try cache.commit(id, tokens: seq.tokens[range])
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
            }
        }
        publish()
    }

    // MARK: - Admission and blocks

    private func admit() {
        var i = 0
        while i < waiting.count && running.count < options.maxRunning {
            let seq = waiting[i]
            let keys = seq.job.request.cacheKeys
            do {
                let match = try cache.lookup(seq.tokens, keys: keys)
                // In-flight sharing: if the next uncached prompt block is being computed by a running
                // sequence, wait for it (it is registered when that chunk commits) instead of computing it twice.
                if options.prefixCaching {
                    if seq.promptBlockHashes.isEmpty {
                        seq.promptBlockHashes = cache.hasher.blockHashes(of: seq.job.request.promptTokens, keys: keys)
                    }
                    let next = match.cachedBlocks
                    if next < seq.promptBlockHashes.count, (next + 1) * kvPool.blockSize < seq.tokens.count,
                       running.contains(where: { $0.willCompute(seq.promptBlockHashes[next], blockSize: kvPool.blockSize) }) {
                        i += 1
                        continue
                    }
                }
                guard let admission = try cache.admit(match, reservingTokens: min(seq.tokens.count, match.cachedTokens + options.maxBatchTokens)) else {
                    return   // no room now; keep FIFO order
                }
                seq.cacheID = admission.sequence
                seq.computed = admission.cachedTokens
                if seq.cachedTokens == nil { seq.cachedTokens = admission.cachedTokens }
                admissions += 1
                seq.admittedAt = admissions
                waiting.remove(at: i)
                running.append(seq)
            } catch {
                waiting.remove(at: i)
                seq.job.continuation.finish(throwing: EngineError(.contextOverflow, "\(error)", underlying: error))
            }
        }
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
            guard let victim = running.filter({ $0 !== seq && $0.cacheID != nil }).max(by: { $0.admittedAt < $1.admittedAt }),
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
        let token = seq.sampler.sample(logits)
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
    }
}
