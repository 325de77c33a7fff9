import Foundation
import KVTier
import PrefixCache
import Tensor

/// The serving engine: one dedicated thread owns the model, the paged KV pool and the prefix cache, and
/// runs continuous batching (see `Scheduler`). Callers submit requests from any task and receive an
/// `AsyncThrowingStream` of events; when the consumer stops listening, the request is cancelled and its
/// KV blocks are released at the next step.
///
/// NOTE: `@unchecked Sendable`: the only state touched from other threads is the inbox (new requests and
/// cancellations) and the published stats, both guarded by `lock`; everything else belongs to the engine
/// thread.
public final class InferenceEngine: @unchecked Sendable {
    public let model: LanguageModel
    public let options: EngineOptions

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

    /// Creates the engine and starts its thread. Throws if the KV pool or prefix-cache config is invalid.
    public init(model: LanguageModel, options: EngineOptions = EngineOptions()) throws {
        guard options.maxBatchTokens <= model.transformer.maxBatch else {
            throw EngineError(.invalidInput,
                              "maxBatchTokens \(options.maxBatchTokens) exceeds the model's batch \(model.transformer.maxBatch)")
        }
        self.model = model
        self.options = options
        let scheduler = UncheckedBox(try Scheduler(model: model, options: options))
        scheduler.value.deliverTierRead = { [weak self] id, hits in self?.deliverTierRead(id, hits) }
        // NOTE: unowned(unsafe): an engine released while its thread runs is shut down by `deinit`, which
        // waits for the thread to exit, so the memory the thread reads stays valid until then. A checked
        // `unowned` reference traps on any access once deinit has begun, i.e. in exactly that shutdown.
        let t = Thread { [unowned(unsafe) self] in self.run(scheduler.value) }
        t.name = "infer-engine"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Queues a request. The stream yields `.token` events and ends with `.finished`, or throws an
    /// `EngineError` (invalid request, prompt larger than the KV pool or context, overloaded, shut down).
    public func submit(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
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
    public func resetPrefixCache() async -> Int { await maintain(loraDigest: nil) }

    /// Drops the cached prefix blocks computed under `adapter` (an unloaded LoRA adapter) that no running
    /// request uses, on the engine thread between two steps; returns how many were dropped.
    public func dropPrefixBlocks(of adapter: LoRAAdapter) async -> Int { await maintain(loraDigest: adapter.contentDigest) }

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
    public func stats() -> EngineStats {
        lock.lock()
        var stats = published
        lock.unlock()
        stats.tier = options.kvTier?.stats()   // live: the tier's tasks go on while the engine sleeps
        return stats
    }

    /// Stops the engine thread and waits for it to exit; unfinished requests end with a cancellation.
    /// Afterwards the model may be used by another engine.
    public func shutdown() {
        lock.lock()
        stopping = true
        let wait = !joined && Thread.current !== thread
        joined = true
        lock.signal()
        lock.unlock()
        if wait { exited.wait() }
    }

    deinit { shutdown() }

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
