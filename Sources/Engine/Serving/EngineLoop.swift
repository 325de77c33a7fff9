import Foundation
import KVTier
import PrefixCache
import Tensor

/// `InferenceEngine`'s thread and everything it shares with callers: the inbox (new requests, cancellations,
/// cache maintenance, tier reads) and the published stats, guarded by `lock`; the scheduler belongs to the
/// thread.
///
/// NOTE: the thread holds the loop strongly and nothing holds the `InferenceEngine` facade but its users,
/// so releasing the last reference to the engine runs its `deinit` (which shuts the loop down and waits for
/// the thread) whether or not the thread has started; `shutdown()` then drops the loop's reference to its
/// `Thread`, so the loop is freed once the thread has exited.
///
/// NOTE: `@unchecked Sendable`: shared state is only touched under `lock`; the rest belongs to the thread.
final class EngineLoop: @unchecked Sendable {
    let model: LanguageModel
    let options: EngineOptions

    private let lock = NSCondition()
    private var inbox: [Scheduler.Job] = []
    private var cancelled: Set<UInt64> = []
    /// Waiters of `resetPrefixCache()` (nil digest) and `dropPrefixBlocks(lora:)`, answered by the engine
    /// thread between two steps.
    private var resets: [(loraDigest: [UInt8]?, continuation: CheckedContinuation<Int, Never>)] = []
    /// Tier reads that completed, for the engine thread.
    private var tierReads: [(id: UInt64, hits: [KVTierHit])] = []
    private var stopping = false
    private var queuedCount = 0
    private var published = EngineStats()
    private var nextID: UInt64 = 1
    private var thread: Thread?
    private let exited = DispatchSemaphore(value: 0)
    private var joined = false

    /// Creates the loop and starts its thread. Throws if the KV pool or prefix-cache config is invalid.
    init(model: LanguageModel, options: EngineOptions) throws {
        guard options.maxBatchTokens <= model.transformer.maxBatch else {
            throw EngineError(.invalidInput,
                              "maxBatchTokens \(options.maxBatchTokens) exceeds the model's batch \(model.transformer.maxBatch)")
        }
        self.model = model
        self.options = options
        let scheduler = UncheckedBox(try Scheduler(model: model, options: options))
        scheduler.value.deliverTierRead = { [weak self] id, hits in self?.deliverTierRead(id, hits) }
        let t = Thread { [self] in self.run(scheduler.value) }
        t.name = "infer-engine"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Queues a request. The stream yields `.token` events and ends with `.finished`, or throws an
    /// `EngineError` (invalid request, prompt larger than the KV pool or context, overloaded, shut down).
    func submit(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self, throwing: (any Error).self)
        lock.lock()
        guard !stopping else {
            lock.unlock()
            continuation.finish(throwing: EngineError(.invalidInput, "the engine is shutting down"))
            return stream
        }
        guard queuedCount < options.maxQueued else {
            lock.unlock()
            continuation.finish(throwing: EngineError(.overloaded, "the request queue is full (\(options.maxQueued))"))
            return stream
        }
        let id = nextID
        nextID += 1
        queuedCount += 1
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(id) }
        }
        inbox.append(Scheduler.Job(id: id, request: request, continuation: continuation, submitted: Date()))
        lock.signal()
        lock.unlock()
        return stream
    }

    /// Drops every pin and every cached prefix block no running sequence uses (on the engine thread, between
    /// two steps); returns how many blocks were dropped. Running requests are not disturbed.
    func resetPrefixCache() async -> Int { await maintain(loraDigest: nil) }

    /// Drops the cached prefix blocks computed under `adapter` (an unloaded LoRA adapter) that no running
    /// request uses, on the engine thread between two steps; returns how many were dropped.
    func dropPrefixBlocks(of adapter: LoRAAdapter) async -> Int { await maintain(loraDigest: adapter.contentDigest) }

    private func maintain(loraDigest: [UInt8]?) async -> Int {
        await withCheckedContinuation { continuation in
            lock.lock()
            if stopping {
                lock.unlock()
                continuation.resume(returning: 0)
                return
            }
            resets.append((loraDigest, continuation))
            lock.signal()
            lock.unlock()
        }
    }

    /// A snapshot of the counters (updated after every step).
    func stats() -> EngineStats {
        lock.lock()
        var stats = published
        lock.unlock()
        stats.tier = options.kvTier?.stats()   // live: the tier's tasks go on while the engine sleeps
        return stats
    }

    /// Stops the engine thread and waits for it to exit; unfinished requests end with a cancellation.
    /// Afterwards the model may be used by another engine.
    func shutdown() {
        lock.lock()
        stopping = true
        let wait = !joined && Thread.current !== thread
        joined = true
        lock.signal()
        lock.unlock()
        if wait { exited.wait() }
        lock.lock()
        thread = nil   // the thread held us; now nothing does but our owner
        lock.unlock()
    }

    private func deliverTierRead(_ id: UInt64, _ hits: [KVTierHit]) {
        lock.lock()
        tierReads.append((id, hits))
        lock.signal()
        lock.unlock()
    }

    private func cancel(_ id: UInt64) {
        lock.lock()
        cancelled.insert(id)
        lock.signal()
        lock.unlock()
    }

    private func run(_ scheduler: Scheduler) {
        defer { exited.signal() }
        while true {
            lock.lock()
            // Sleep while there is nothing to do; requests waiting for a tier read wake the thread when the
            // read arrives, or at its timeout.
            while inbox.isEmpty && cancelled.isEmpty && resets.isEmpty && tierReads.isEmpty && !stopping
                    && !scheduler.hasRunnableWork {
                if let deadline = scheduler.nextTierDeadline {
                    if deadline <= Date() { break }
                    _ = lock.wait(until: deadline)
                } else {
                    lock.wait()
                }
            }
            let newJobs = inbox
            inbox.removeAll()
            let reads = tierReads
            tierReads.removeAll()
            let newCancels = cancelled
            cancelled.removeAll()
            let resetWaiters = resets
            resets.removeAll()
            let stop = stopping
            lock.unlock()

            for waiter in resetWaiters {
                let dropped = waiter.loraDigest.map { scheduler.dropPrefixBlocks(loraDigest: $0) } ?? scheduler.resetPrefixCache()
                waiter.continuation.resume(returning: dropped)
            }
            if stop {
                scheduler.cancelAll()
                scheduler.saveCachedBlocksToTier(timeout: 10)
                return
            }
            scheduler.enqueue(newJobs)
            scheduler.cancel(newCancels)
            scheduler.receiveTierReads(reads)
            scheduler.step()

            lock.lock()
            queuedCount = scheduler.waitingCount + inbox.count
            published = scheduler.stats
            lock.unlock()
        }
    }
}

/// Moves a value owned by one thread into that thread's start closure.
/// NOTE: `@unchecked Sendable` is safe because the value is handed over once and never used by the creator.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
