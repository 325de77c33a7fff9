import Foundation
import Gateway
import Logging

/// Runs Batch API batches, one at a time in submission order, `concurrency` requests at once, in
/// `BatchOrdering` (shared prefixes back to back), each through `BatchExecutor` as its owner.
///
/// Every finished request is appended to the batch's results log before the next count is saved, so a crash
/// or restart loses at most the requests in flight: `start()` resumes every batch that was not finished,
/// skipping the requests already in the log. A request that could not run yet (429 / 503) is retried, never
/// recorded as failed; one that timed out (408: background work waits behind every interactive request, so
/// under load it can outlive `--request-deadline`) runs again up to `timeoutRetries` times before its 408 is
/// recorded; after `stop()` nothing more is launched or recorded (the engine is going down, its
/// errors are not answers), so those requests run again on the next start.
///
/// The owner is stored as `Caller.spendID` and resolved again through `resolveOwner` when the batch runs:
/// a batch runs with its key's current permissions, and fails if the key is gone.
actor BatchRunner {
    let store: BatchStore
    let concurrency: Int
    private let execute: @Sendable (BatchRequestLine, Caller) async -> BatchAnswer
    private let resolveOwner: @Sendable (String) -> Caller?
    private let logger: Logger
    private var queue: [BatchObjectID] = []
    private var worker: Task<Void, Never>?
    private var current: BatchObjectID?
    /// The batch being run, with its live counts.
    private var active: BatchRecord?
    /// When `active` was last saved: its counts are saved at most once per `saveInterval` (they are derived
    /// from the results log again on resume), not once per request.
    private var lastSave = ContinuousClock.now
    static let saveInterval = Duration.seconds(1)
    /// Extra runs of a request that timed out, and the pause before each.
    static let timeoutRetries = 2
    static let timeoutPause = Duration.seconds(1)
    /// Running batches asked to cancel, with the time they were asked.
    private var cancelRequested: [String: Int] = [:]
    private var stopped = false
    private var started = false

    init(store: BatchStore, concurrency: Int, logger: Logger, resolveOwner: @escaping @Sendable (String) -> Caller?,
         execute: @escaping @Sendable (BatchRequestLine, Caller) async -> BatchAnswer) {
        self.store = store
        self.concurrency = max(1, concurrency)
        self.logger = logger
        self.resolveOwner = resolveOwner
        self.execute = execute
    }

    /// Resumes every unfinished batch in the store, oldest first (once; later calls do nothing). Returns the
    /// resumed batches. Throws `BatchStoreError.locked` when another process owns the directory (then this
    /// server runs no batch from it).
    @discardableResult
    func start() async throws -> [BatchObjectID] {
        guard !started else { return [] }
        started = true
        guard try await store.claimIfPresent() else { return [] }
        let unfinished = await store.batches().filter { !$0.status.isTerminal }.sorted { $0.createdAt < $1.createdAt }
        for batch in unfinished { enqueue(batch.id) }
        return unfinished.map(\.id)
    }

    /// Queues a saved batch.
    func submit(_ id: BatchObjectID) {
        started = true
        enqueue(id)
    }

    /// Stops launching and recording requests (before the engine shuts down).
    func stop() async {
        stopped = true
        worker?.cancel()
        await worker?.value
    }

    /// OpenAI's cancel: a queued batch is cancelled at once; a running one goes to `cancelling`, its requests in
    /// flight finish, and it ends `cancelled` with what was done. Throws for a batch that already ended.
    ///
    /// NOTE: the decisions are taken without a suspension between the check and the state change (the actor is
    /// reentrant at every `await`): a running batch is flagged before anything is saved; a batch that is
    /// neither running nor queued is read again, since it may have finished while this call waited.
    func cancel(_ id: BatchObjectID) async throws -> BatchRecord {
        guard var batch = await store.batch(id) else { throw BatchRunnerError.notFound }
        guard !batch.status.isTerminal else { throw BatchRunnerError.alreadyEnded(batch.status) }
        if batch.status == .cancelling || cancelRequested[id.description] != nil { return batch }
        let now = Self.now()
        if current == id {
            cancelRequested[id.description] = now
            batch.status = .cancelling
            batch.cancellingAt = now
            try await store.save(batch)   // the runner's next save keeps `cancelling`; its last one ends it
            return batch
        }
        if queue.contains(id) {
            queue.removeAll { $0 == id }
        } else if let fresh = await store.batch(id) {
            guard !fresh.status.isTerminal else { throw BatchRunnerError.alreadyEnded(fresh.status) }
            batch = fresh
        }
        batch.status = .cancelling
        batch.cancellingAt = now
        try await store.save(batch)
        return try await end(batch, as: .cancelled)
    }

    private func enqueue(_ id: BatchObjectID) {
        guard !queue.contains(id), current != id else { return }
        queue.append(id)
        guard worker == nil else { return }
        worker = Task { await self.drain() }
    }

    private func drain() async {
        while !stopped, !queue.isEmpty {
            let id = queue.removeFirst()
            current = id
            do {
                try await run(id)
            } catch {
                logger.error("batch \(id): \(error)")
            }
            current = nil
            cancelRequested[id.description] = nil
        }
        worker = nil
    }

    // MARK: One batch

    private func run(_ id: BatchObjectID) async throws {
        guard var batch = await store.batch(id), !batch.status.isTerminal else { return }
        if batch.status == .cancelling {
            _ = try await end(batch, as: .cancelled)
            return
        }
        guard let caller = resolveOwner(batch.owner) else {
            try await fail(&batch, BatchInputError(code: "owner_not_found", message: "The API key that created this "
                + "batch is no longer configured.", param: nil, line: nil))
            return
        }
        let lines: [BatchRequestLine]
        do {
            lines = try BatchInputFile.parse(try await store.content(batch.inputFileID))
        } catch let error as BatchInputError {
            try await fail(&batch, error)
            return
        } catch {
            try await fail(&batch, BatchInputError(code: "file_not_found", message: "The input file "
                + "\(batch.inputFileID) cannot be read.", param: "input_file_id", line: nil))
            return
        }
        if let wrong = lines.first(where: { $0.url != batch.endpoint }) {
            try await fail(&batch, BatchInputError(code: "mismatched_url", message: "The line's url \(wrong.url.rawValue) "
                + "differs from the batch's endpoint \(batch.endpoint.rawValue).", param: "url", line: wrong.line))
            return
        }
        let done = await store.results(id)
        let finished = Set(done.compactMap(BatchResultLine.customID))
        batch.status = .inProgress
        batch.inProgressAt = batch.inProgressAt ?? Self.now()
        batch.counts = Self.counts(done, total: lines.count)
        try await store.save(batch)
        let pending = BatchOrdering.ordered(lines.filter { !finished.contains($0.customID) })
        if !finished.isEmpty {
            logger.info("batch \(id): \(finished.count) of \(lines.count) requests already done, \(pending.count) to run")
        }

        active = batch
        let (expired, rest) = await runRequests(pending, batch: id, caller: caller, expiresAt: batch.expiresAt)
        guard let current = active else { return }
        active = nil
        batch = current
        guard !stopped else { return }
        if let asked = cancelRequested[id.description] {
            batch.cancellingAt = asked
            _ = try await end(batch, as: .cancelled)
        } else if expired {
            for line in rest {
                try await store.appendResult(id, line: BatchResultLine.failure(
                    customID: line.customID, code: "batch_expired",
                    message: "This request could not be executed before the completion window expired."))
            }
            _ = try await end(batch, as: .expired)
        } else {
            batch.status = .finalizing
            batch.finalizingAt = Self.now()
            try await store.save(batch)
            _ = try await end(batch, as: .completed)
        }
    }

    /// Runs `pending` `concurrency` at a time until done, cancelled, stopped or past `expiresAt`; returns
    /// whether the window expired and the requests not started.
    private func runRequests(_ pending: [BatchRequestLine], batch id: BatchObjectID, caller: Caller,
                             expiresAt: Int) async -> (expired: Bool, rest: [BatchRequestLine]) {
        let execute = execute
        return await withTaskGroup(of: (String, BatchAnswer?).self) { group in
            var queue = pending[...]
            var expired = false
            var inFlight = 0
            while true {
                while inFlight < concurrency, !queue.isEmpty, mayRetry(id) {
                    guard Self.now() < expiresAt else {
                        expired = true
                        break
                    }
                    let line = queue.removeFirst()
                    group.addTask { [weak self] in
                        var timeouts = 0
                        while !Task.isCancelled {
                            let answer = await execute(line, caller)
                            let pause: Duration
                            switch answer {
                            case .retry(let after, _): pause = .seconds(after)
                            case .done(408, _) where timeouts < Self.timeoutRetries:
                                timeouts += 1
                                pause = Self.timeoutPause
                            case .done: return (line.customID, answer)
                            }
                            guard let self, await self.mayRetry(id) else { break }
                            try? await Task.sleep(for: pause)
                        }
                        return (line.customID, nil)
                    }
                    inFlight += 1
                }
                guard let (customID, answer) = await group.next() else { break }
                inFlight -= 1
                if let answer { await record(answer, customID: customID, batch: id) }
            }
            return (expired, Array(queue))
        }
    }

    /// Appends one answer to the results log and updates the live counts (not after `stop()`).
    private func record(_ answer: BatchAnswer, customID: String, batch id: BatchObjectID) async {
        guard !stopped, case .done(let status, let body) = answer, var batch = active else { return }
        let line = BatchResultLine.response(customID: customID, statusCode: status,
                                            requestID: body["id"]?.stringField ?? "req_" + customID, body: body)
        do {
            try await store.appendResult(id, line: line)
            if (200..<300).contains(status) { batch.counts.completed += 1 } else { batch.counts.failed += 1 }
            let asked = cancelRequested[id.description]
            if let asked {
                batch.status = .cancelling
                batch.cancellingAt = asked
            }
            active = batch
            if asked != nil || ContinuousClock.now - lastSave >= Self.saveInterval {
                lastSave = .now
                try await store.save(batch)
            }
        } catch {
            logger.error("batch \(id): cannot record \(customID): \(error)")
        }
    }

    private func mayRetry(_ id: BatchObjectID) -> Bool { !stopped && cancelRequested[id.description] == nil }

    private func fail(_ batch: inout BatchRecord, _ error: BatchInputError) async throws {
        batch.status = .failed
        batch.failedAt = Self.now()
        batch.errors = [error]
        try await store.save(batch)
        logger.warning("batch \(batch.id) failed: \(error)")
    }

    /// Writes the output and error files from the results log (in input-file order) and saves the final state.
    private func end(_ batch: BatchRecord, as status: BatchStatus) async throws -> BatchRecord {
        var batch = batch
        let results = await store.results(batch.id)
        var order: [String: Int] = [:]
        if let input = try? BatchInputFile.parse(try await store.content(batch.inputFileID)) {
            for (i, line) in input.enumerated() { order[line.customID] = i }
        }
        let sorted = results.enumerated().sorted {
            let (a, b) = (order[BatchResultLine.customID($0.element) ?? ""] ?? Int.max,
                          order[BatchResultLine.customID($1.element) ?? ""] ?? Int.max)
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
        let good = sorted.filter(BatchResultLine.succeeded), bad = sorted.filter { !BatchResultLine.succeeded($0) }
        func file(_ lines: [JSONValue], _ suffix: String) async throws -> BatchObjectID? {
            guard !lines.isEmpty else { return nil }
            let data = Data(lines.map { $0.serialized() + "\n" }.joined().utf8)
            return try await store.addFile(data, filename: "\(batch.id)_\(suffix).jsonl", purpose: "batch_output",
                                           owner: batch.owner).id
        }
        batch.outputFileID = try await file(good, "output")
        batch.errorFileID = try await file(bad, "error")
        batch.counts.completed = good.count
        batch.counts.failed = bad.count
        batch.status = status
        let now = Self.now()
        switch status {
        case .completed: batch.completedAt = now
        case .cancelled: batch.cancelledAt = now
        case .expired: batch.expiredAt = now
        default: break
        }
        try await store.save(batch)
        logger.info("batch \(batch.id) \(status.rawValue): \(good.count) succeeded, \(bad.count) failed")
        return batch
    }

    private static func counts(_ results: [JSONValue], total: Int) -> BatchRequestCounts {
        let good = results.filter(BatchResultLine.succeeded).count
        return BatchRequestCounts(total: total, completed: good, failed: results.count - good)
    }

    static func now() -> Int { Int(Date().timeIntervalSince1970) }
}

enum BatchRunnerError: Error, Equatable {
    case notFound
    case alreadyEnded(BatchStatus)
}
