import Foundation
import Gateway
import Testing

/// The Batch API's persistence, ordering and ownership rules.
@Suite("Batch store")
struct BatchStoreTests {
    static func tempDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("batch-store-\(UUID().uuidString)").path
        return dir
    }

    @Test("files and batches survive a new store over the same directory (a restart)")
    func persists() async throws {
        let dir = Self.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store: BatchStore? = BatchStore(directory: dir)
        let content = Data("{\"a\": 1}\n".utf8)
        let file = try await store!.addFile(content, filename: "in.jsonl", purpose: "batch", owner: "master", now: 100)
        var batch = BatchRecord(id: .make(.batch), endpoint: .chatCompletions, inputFileID: file.id, createdAt: 100,
                                owner: "master", metadata: [("job", "eval")])
        batch.status = .inProgress
        batch.inProgressAt = 101
        batch.counts = BatchRequestCounts(total: 3, completed: 1, failed: 1)
        batch.errors = [BatchInputError(code: "c", message: "m", param: nil, line: 2)]
        try await store!.save(batch)

        store = nil   // the process ends: its lock goes
        let reopened = BatchStore(directory: dir)
        #expect(await reopened.file(file.id) == file)
        #expect(try await reopened.content(file.id) == content)
        #expect(await reopened.batch(batch.id) == batch)
        #expect(await reopened.batches().map(\.id) == [batch.id])
        let api = batch.openAI()
        #expect(api["object"] == "batch")
        #expect(api["status"] == "in_progress")
        #expect(api["owner"] == nil)   // never part of the answer
        #expect(api["expires_at"] == .int(100 + 24 * 3600))
        #expect(file.openAI()["owner"] == nil)
        let posix = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
        #expect(posix == 0o700)

        try await reopened.deleteFile(file.id)
        #expect(await reopened.file(file.id) == nil)
        #expect(await reopened.files().isEmpty)
    }

    @Test("a results line torn by a crash is cut off, and the next append starts a clean line")
    func tornResults() async throws {
        let dir = Self.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = BatchStore(directory: dir)
        let id = BatchObjectID.make(.batch)
        try await store.appendResult(id, line: BatchResultLine.failure(customID: "a", code: "x", message: "y"))
        let path = "\(dir)/batches/\(id).results"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"custom_id": "b", "respo"#.utf8))
        try handle.close()
        #expect(await store.results(id).compactMap(BatchResultLine.customID) == ["a"])
        try await store.appendResult(id, line: BatchResultLine.response(customID: "c", statusCode: 200, requestID: "r",
                                                                       body: ["ok": true]))
        let results = await store.results(id)
        #expect(results.compactMap(BatchResultLine.customID) == ["a", "c"])
        #expect(results.map(BatchResultLine.succeeded) == [false, true])
    }

    @Test("damaged, foreign and wrongly named files in the directory are skipped, never trusted")
    func damaged() async throws {
        let dir = Self.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = BatchStore(directory: dir)
        let good = BatchRecord(id: .make(.batch), endpoint: .completions, inputFileID: .make(.file), createdAt: 5, owner: "o")
        try await store.save(good)
        let batches = "\(dir)/batches"
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: "\(batches)/batch_aaaaaaaaaaaaaaaaaaaaaaaa.json"))
        try Data(#"{"id": "batch_bbbbbbbbbbbbbbbbbbbbbbbb"}"#.utf8).write(to: URL(fileURLWithPath: "\(batches)/batch_bbbbbbbbbbbbbbbbbbbbbbbb.json"))
        // A valid record stored under another id's name is not that id.
        var other = good
        other.id = .make(.batch)
        try Data(other.stored().serialized().utf8).write(to: URL(fileURLWithPath: "\(batches)/batch_cccccccccccccccccccccccc.json"))
        try Data(good.stored().serialized().utf8).write(to: URL(fileURLWithPath: "\(batches)/../evil.json"))
        let reopened = BatchStore(directory: dir)
        #expect(await reopened.batches().map(\.id) == [good.id])
    }

    @Test("one owner per directory: a second store is refused until the first lets go")
    func exclusive() async throws {
        let dir = Self.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var first: BatchStore? = BatchStore(directory: dir)
        #expect(try await BatchStore(directory: dir).claimIfPresent() == false)   // no directory yet: nothing to own
        _ = try await first!.addFile(Data("x".utf8), filename: "a", purpose: "batch", owner: "master")
        let second = BatchStore(directory: dir)
        await #expect(throws: BatchStoreError.locked(dir)) { try await second.claimIfPresent() }
        await #expect(throws: BatchStoreError.locked(dir)) {
            try await second.addFile(Data("y".utf8), filename: "b", purpose: "batch", owner: "master")
        }
        #expect(await second.files().count == 1)   // reading is fine
        first = nil
        #expect(try await second.claimIfPresent())
        _ = try await second.addFile(Data("y".utf8), filename: "b", purpose: "batch", owner: "master")
    }

    @Test("requests sharing a prompt prefix are ordered back to back; ties keep the file's order")
    func ordering() {
        let prefixes = ["You are a lawyer. ", "You are a chemist. ", "You are a poet. ", "You are a cook. "]
        var lines: [BatchRequestLine] = []
        for i in 0..<40 {
            let body: JSONValue = ["model": "m", "messages": .array([
                ["role": "system", "content": .string(prefixes[i % 4])],
                ["role": "user", "content": .string("question \(i % 10)")],
            ])]
            lines.append(BatchRequestLine(customID: "r\(i)", url: .chatCompletions, body: body, line: i + 1))
        }
        let ordered = BatchOrdering.ordered(lines)
        #expect(Set(ordered.map(\.customID)) == Set(lines.map(\.customID)))
        let groups = ordered.map { Int($0.customID.dropFirst())! % 4 }
        var runs = 1
        for i in 1..<groups.count where groups[i] != groups[i - 1] { runs += 1 }
        #expect(runs == 4)
        // Equal prompts keep their input order.
        let sameQuestion = ordered.filter { Int($0.customID.dropFirst())! % 20 == 3 }.map(\.line)
        #expect(sameQuestion == sameQuestion.sorted())
        // A different model never shares a run with the same prompt under another model.
        let other = BatchRequestLine(customID: "x", url: .chatCompletions,
                                     body: ["model": "a", "messages": .array([["role": "system", "content": .string(prefixes[0])]])],
                                     line: 99)
        #expect(BatchOrdering.ordered(lines + [other]).first?.customID == "x")
    }

    @Test("ownership: the master key and an open server see everything, a key only its own")
    func ownership() {
        let alice = VirtualKeyConfig(key: "sk-alice"), bob = VirtualKeyConfig(key: "sk-bob")
        let aliceID = Caller.key(alice).spendID
        #expect(Caller.key(alice).mayAccess(owner: aliceID))
        #expect(!Caller.key(bob).mayAccess(owner: aliceID))
        #expect(!Caller.key(bob).mayAccess(owner: "master"))
        #expect(Caller.master.mayAccess(owner: aliceID))
        #expect(Caller.anonymous.mayAccess(owner: aliceID))

        let keys = APIKeyStore(masterKey: "sk-master", keys: [alice])
        #expect(keys.caller(spendID: aliceID) == .key(alice))
        #expect(keys.caller(spendID: Caller.key(bob).spendID) == nil)   // a key no longer configured
        #expect(keys.caller(spendID: "master") == .master)
        #expect(keys.caller(spendID: "anonymous") == nil)
        #expect(keys.caller(spendID: "sk-alice") == nil)   // the owner is the hashed token, never the key
        let open = APIKeyStore(masterKey: nil, keys: [])
        #expect(open.caller(spendID: "anonymous") == .anonymous)
    }
}
