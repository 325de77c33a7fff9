import Foundation
import Gateway
import Logging
import Testing
@testable import InferServer

/// `BatchRunner` over a real `BatchStore` with a scripted executor: resume after a restart, retries, cancel,
/// stop, and batches that cannot run.
@Suite("Batch runner")
struct BatchRunnerTests {
    /// Records what ran and answers as `answer` says (default: 200 echoing the custom_id).
    final class Script: @unchecked Sendable {
        private let lock = NSLock()
        private var _calls: [String] = []
        var answer: @Sendable (BatchRequestLine, Int) async -> BatchAnswer = { line, _ in
            .done(status: 200, body: ["id": .string("r-" + line.customID), "ok": true])
        }
        var calls: [String] { lock.withLock { _calls } }
        func run(_ line: BatchRequestLine) async -> BatchAnswer {
            let attempt = lock.withLock { () -> Int in
                _calls.append(line.customID)
                return _calls.filter { $0 == line.customID }.count
            }
            return await answer(line, attempt)
        }
    }

    static func input(_ ids: [String], url: String = "/v1/chat/completions") -> Data {
        Data(ids.map { #"{"custom_id": "\#($0)", "method": "POST", "url": "\#(url)", "body": {"model": "m", "messages": [{"role": "user", "content": "\#($0)"}]}}"# + "\n" }.joined().utf8)
    }

    static func setUp(_ ids: [String], owner: String = "master", concurrency: Int = 2,
                      resolve: @escaping @Sendable (String) -> Caller? = { _ in .master })
        async throws -> (BatchStore, BatchRunner, Script, BatchRecord, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("batch-runner-\(UUID().uuidString)").path
        let store = BatchStore(directory: dir)
        let file = try await store.addFile(input(ids), filename: "in.jsonl", purpose: "batch", owner: owner)
        let batch = BatchRecord(id: .make(.batch), endpoint: .chatCompletions, inputFileID: file.id,
                                createdAt: BatchRunner.now(), owner: owner)
        try await store.save(batch)
        let script = Script()
        let runner = BatchRunner(store: store, concurrency: concurrency, logger: Logger(label: "test"),
                                 resolveOwner: resolve, execute: { line, _ in await script.run(line) })
        return (store, runner, script, batch, dir)
    }

    static func wait(_ store: BatchStore, _ id: BatchObjectID, until done: (BatchRecord) -> Bool) async throws -> BatchRecord {
        for _ in 0..<1000 {
            if let b = await store.batch(id), done(b) { return b }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("batch \(id) did not reach the expected state: \(String(describing: await store.batch(id)?.status))")
        return try #require(await store.batch(id))
    }

    static func lines(_ store: BatchStore, _ file: BatchObjectID?) async throws -> [JSONValue] {
        guard let file else { return [] }
        return String(decoding: try await store.content(file), as: UTF8.self).split(separator: "\n")
            .map { try! JSONValue.parse(Data($0.utf8)) }
    }

    @Test("a batch runs every request once and writes the output file in input order")
    func completes() async throws {
        let ids = (0..<7).map { "q\($0)" }
        let (store, runner, script, batch, dir) = try await Self.setUp(ids)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        await runner.submit(batch.id)
        let done = try await Self.wait(store, batch.id) { $0.status.isTerminal }
        #expect(done.status == .completed)
        #expect(done.counts == BatchRequestCounts(total: 7, completed: 7, failed: 0))
        #expect(done.inProgressAt != nil && done.finalizingAt != nil && done.completedAt != nil)
        #expect(script.calls.sorted() == ids)
        let output = try await Self.lines(store, done.outputFileID)
        #expect(output.compactMap(BatchResultLine.customID) == ids)
        #expect(output.first?["response"]?["status_code"] == 200)
        #expect(output.first?["response"]?["body"]?["ok"] == true)
        #expect(done.errorFileID == nil)
        #expect(await store.file(try #require(done.outputFileID))?.purpose == "batch_output")
    }

    @Test("a restart resumes: requests already in the results log do not run again")
    func resumes() async throws {
        let ids = (0..<6).map { "q\($0)" }
        let (store, runner, script, batch, dir) = try await Self.setUp(ids)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var started = batch
        started.status = .inProgress
        try await store.save(started)
        for id in ["q1", "q4"] {
            try await store.appendResult(batch.id, line: BatchResultLine.response(customID: id, statusCode: 200,
                                                                                requestID: "old", body: ["old": true]))
        }
        try await runner.start()
        let done = try await Self.wait(store, batch.id) { $0.status.isTerminal }
        #expect(done.status == .completed)
        #expect(script.calls.sorted() == ["q0", "q2", "q3", "q5"])
        let output = try await Self.lines(store, done.outputFileID)
        #expect(output.compactMap(BatchResultLine.customID) == ids)
        #expect(output[1]["response"]?["body"]?["old"] == true)
        #expect(done.counts == BatchRequestCounts(total: 6, completed: 6, failed: 0))
    }

    @Test("429 / 503 are retried, never recorded; other errors go to the error file")
    func retriesAndErrors() async throws {
        let (store, runner, script, batch, dir) = try await Self.setUp(["a", "b", "c"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        script.answer = { line, attempt in
            switch (line.customID, attempt) {
            case ("a", 1), ("a", 2): .retry(after: 0.01, reason: "busy")
            case ("b", _): .done(status: 404, body: ["error": ["message": "no such model"]])
            default: .done(status: 200, body: ["ok": true])
            }
        }
        await runner.submit(batch.id)
        let done = try await Self.wait(store, batch.id) { $0.status.isTerminal }
        #expect(done.status == .completed)
        #expect(script.calls.filter { $0 == "a" }.count == 3)
        #expect(done.counts == BatchRequestCounts(total: 3, completed: 2, failed: 1))
        let errors = try await Self.lines(store, done.errorFileID)
        #expect(errors.compactMap(BatchResultLine.customID) == ["b"])
        #expect(errors.first?["response"]?["status_code"] == 404)
        #expect(try await Self.lines(store, done.outputFileID).compactMap(BatchResultLine.customID) == ["a", "c"])
    }

    @Test("a timed-out request (408) runs again up to twice; the third timeout is recorded")
    func timeoutsRunAgain() async throws {
        let (store, runner, script, batch, dir) = try await Self.setUp(["slow", "late", "ok"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let timeout: JSONValue = ["error": ["message": "timed out", "code": "request_timeout"]]
        script.answer = { line, attempt in
            switch (line.customID, attempt) {
            case ("slow", 1), ("slow", 2): .done(status: 408, body: timeout)     // answered on the third run
            case ("late", _): .done(status: 408, body: timeout)                  // never in time
            default: .done(status: 200, body: ["ok": true])
            }
        }
        await runner.submit(batch.id)
        let done = try await Self.wait(store, batch.id) { $0.status.isTerminal }
        #expect(script.calls.filter { $0 == "slow" }.count == 3)
        #expect(script.calls.filter { $0 == "late" }.count == 1 + BatchRunner.timeoutRetries)
        #expect(script.calls.filter { $0 == "ok" }.count == 1)
        #expect(done.counts == BatchRequestCounts(total: 3, completed: 2, failed: 1))
        let errors = try await Self.lines(store, done.errorFileID)
        #expect(errors.compactMap(BatchResultLine.customID) == ["late"])
        #expect(errors.first?["response"]?["status_code"] == 408)
    }

    @Test("cancel: requests in flight finish, nothing new starts, the batch ends cancelled with what was done")
    func cancels() async throws {
        let ids = (0..<10).map { "q\($0)" }
        let (store, runner, script, batch, dir) = try await Self.setUp(ids, concurrency: 1)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gate = Gate()
        script.answer = { _, _ in
            await gate.wait()
            return .done(status: 200, body: ["ok": true])
        }
        await runner.submit(batch.id)
        try await gate.waitForWaiter()
        let cancelling = try await runner.cancel(batch.id)
        #expect(cancelling.status == .cancelling)
        await gate.open()
        let done = try await Self.wait(store, batch.id) { $0.status.isTerminal }
        #expect(done.status == .cancelled)
        #expect(done.cancellingAt != nil && done.cancelledAt != nil)
        #expect(script.calls.count == 1)
        #expect(done.counts.completed == 1)
        await #expect(throws: BatchRunnerError.alreadyEnded(.cancelled)) { try await runner.cancel(batch.id) }
    }

    @Test("stop: an answer that arrives after stop() is not recorded, so the request runs again on the next start")
    func stops() async throws {
        let (store, runner, script, batch, dir) = try await Self.setUp(["a"], concurrency: 1)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gate = Gate()
        script.answer = { _, _ in
            await gate.wait()
            return .done(status: 500, body: ["error": ["message": "engine stopped"]])
        }
        await runner.submit(batch.id)
        try await gate.waitForWaiter()
        async let stopped: Void = runner.stop()
        try await Task.sleep(for: .milliseconds(50))
        await gate.open()
        await stopped
        #expect(await store.results(batch.id).isEmpty)
        #expect(await store.batch(batch.id)?.status == .inProgress)
    }

    @Test("a batch whose key is gone, or whose lines name another endpoint, fails with OpenAI's errors")
    func failures() async throws {
        let (store, runner, script, batch, dir) = try await Self.setUp(["a"], owner: "gone", resolve: { _ in nil })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        await runner.submit(batch.id)
        let failed = try await Self.wait(store, batch.id) { $0.status.isTerminal }
        #expect(failed.status == .failed)
        #expect(failed.errors.map(\.code) == ["owner_not_found"])
        #expect(script.calls.isEmpty)

        let file = try await store.addFile(Self.input(["x", "y"], url: "/v1/completions"), filename: "c.jsonl",
                                           purpose: "batch", owner: "master")
        let wrong = BatchRecord(id: .make(.batch), endpoint: .chatCompletions, inputFileID: file.id,
                                createdAt: BatchRunner.now(), owner: "master")
        try await store.save(wrong)
        let runner2 = BatchRunner(store: store, concurrency: 1, logger: Logger(label: "test"), resolveOwner: { _ in .master },
                                  execute: { line, _ in await script.run(line) })
        await runner2.submit(wrong.id)
        let mismatched = try await Self.wait(store, wrong.id) { $0.status.isTerminal }
        #expect(mismatched.status == .failed)
        #expect(mismatched.errors.first?.code == "mismatched_url")
        #expect(mismatched.errors.first?.line == 1)
        #expect(mismatched.openAI()["errors"]?["data"]?[0]?["line"] == 1)
        _ = runner
    }

    /// A gate the scripted executor waits at.
    actor Gate {
        private var waiters: [CheckedContinuation<Void, Never>] = []
        private var isOpen = false
        func wait() async {
            if isOpen { return }
            await withCheckedContinuation { waiters.append($0) }
        }
        func open() {
            isOpen = true
            for w in waiters { w.resume() }
            waiters.removeAll()
        }
        var hasWaiter: Bool { !waiters.isEmpty }
        func waitForWaiter() async throws {
            for _ in 0..<500 where !hasWaiter { try await Task.sleep(for: .milliseconds(10)) }
            #expect(hasWaiter)
        }
    }
}
