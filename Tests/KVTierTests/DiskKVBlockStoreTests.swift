import Foundation
import KVTier
import PrefixCache
import Testing

@Suite("Disk KV tier")
struct DiskKVBlockStoreTests {
    let layout = Fixture.layout

    func store(_ root: String, capacity: Int = 1 << 30) throws -> DiskKVBlockStore {
        try DiskKVBlockStore(root: root, layout: layout, capacityBytes: capacity)
    }

    @Test func blocksSurviveARestart() async throws {
        let root = Fixture.temporaryDirectory()
        let hashes = Fixture.hashes(5)
        do {
            let tier = KVTier(layout: layout, stores: [try store(root)])
            await tier.writeAll(hashes)
            #expect(tier.stats().tiers["disk"]?.writes == 5)
        }
        // A new process: the directory is scanned, the run is found and verified.
        let reopened = try store(root)
        #expect(reopened.usage.entries == 5)
        let tier = KVTier(layout: layout, stores: [reopened])
        let hits = await tier.fetch(hashes)
        #expect(hits.count == 5)
        for (i, hit) in hits.enumerated() {
            #expect(hit.source == "disk")
            hit.withPayload { #expect(Array($0) == Fixture.payload(i)) }
        }
    }

    @Test func fetchStopsAtTheFirstMissingBlock() async throws {
        let tier = KVTier(layout: layout, stores: [try store(Fixture.temporaryDirectory())])
        let hashes = Fixture.hashes(6)
        for i in [0, 1, 3, 4] { tier.write(hashes[i], payload: Fixture.payload(i)) }
        await tier.drain(timeout: 10)
        #expect(await tier.fetch(hashes).count == 2)
        #expect(await tier.fetch(Array(hashes[3...])).count == 2)
    }

    @Test func corruptTruncatedAndForeignFilesAreMissesAndDeleted() async throws {
        let root = Fixture.temporaryDirectory()
        let disk = try store(root)
        let tier = KVTier(layout: layout, stores: [disk])
        let hashes = Fixture.hashes(3)
        await tier.writeAll(hashes)
        func file(_ hash: BlockHash) -> String {
            disk.directory.appendingPathComponent(String(hash.hex.prefix(2))).appendingPathComponent(hash.hex + ".kvb").path
        }
        // Block 0 flipped in its payload, block 1 truncated, block 2 replaced by another model's entry.
        var flipped = try #require(FileManager.default.contents(atPath: file(hashes[0])))
        flipped[200] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: file(hashes[0])))
        let whole = try #require(FileManager.default.contents(atPath: file(hashes[1])))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: file(hashes[1])))
        let foreign = KVBlockLayout(model: ModelFingerprint(digesting: "other"), dtype: "f16", layerCount: 2, kvDim: 8,
                                    blockSize: 4, blockBytes: layout.blockBytes)
        try Data(Fixture.entry(2, hash: hashes[2], layout: foreign)).write(to: URL(fileURLWithPath: file(hashes[2])))

        for (i, hash) in hashes.enumerated() {
            #expect(await tier.fetch([hash]).isEmpty, "block \(i) must be a miss")
            #expect(!FileManager.default.fileExists(atPath: file(hash)), "refused block \(i) is deleted")
        }
        #expect(tier.stats().tiers["disk"]?.rejected == 3)
        #expect(tier.stats().tiers["disk"]?.hits == 0)
    }

    @Test func anOversizedPlantedFileIsNeverReadWhole() async throws {
        let root = Fixture.temporaryDirectory()
        let hash = Fixture.hashes(1)[0]
        let dir = URL(fileURLWithPath: root).appendingPathComponent(layout.namespace)
            .appendingPathComponent(String(hash.hex.prefix(2)))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent(hash.hex + ".kvb")
        // A sparse 4 GiB file under a block's name: reading it whole would take the process down.
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: 4 << 30)
        try handle.close()
        let tier = KVTier(layout: layout, stores: [try store(root, capacity: 8 << 30)])
        #expect(await tier.fetch([hash]).isEmpty)
        #expect(tier.stats().tiers["disk"]?.rejected == 1)
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test func capacityEvictsLeastRecentlyUsed() async throws {
        let entry = KVBlockEntry.size(layout)
        let disk = try store(Fixture.temporaryDirectory(), capacity: 10 * entry)
        let tier = KVTier(layout: layout, stores: [disk])
        let hashes = Fixture.hashes(12)
        await tier.writeAll(Array(hashes[0..<10]))
        #expect(disk.usage.entries == 10)
        _ = await tier.fetch([hashes[0]])          // block 0 is now the most recently used
        // Block 10 takes it over the cap: down to 90 % (blocks 1 and 2 go); block 11 fits again.
        await tier.writeAll(Array(hashes[10..<12]))
        #expect(disk.usage.bytes <= 10 * entry)
        #expect(disk.usage.entries == 10)
        #expect(await tier.fetch([hashes[0]]).count == 1, "the recently read block stays")
        #expect(await tier.fetch([hashes[1]]).isEmpty, "the least recently used blocks went")
        #expect(await tier.fetch([hashes[2]]).isEmpty)
        #expect(await tier.fetch([hashes[3]]).count == 1)
        #expect(await tier.fetch([hashes[11]]).count == 1)
    }

    @Test func leftoverTemporaryFilesAreRemovedAtStart() throws {
        let root = Fixture.temporaryDirectory()
        let dir = URL(fileURLWithPath: root).appendingPathComponent(layout.namespace).appendingPathComponent("ab")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let partial = dir.appendingPathComponent(".abcd.123.tmp")
        try Data([1, 2, 3]).write(to: partial)
        let disk = try store(root)
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        #expect(disk.usage.entries == 0)
    }

    @Test func removeAllEmptiesTheNamespaceOnly() async throws {
        let root = Fixture.temporaryDirectory()
        let tier = KVTier(layout: layout, stores: [try store(root)])
        let other = KVBlockLayout(model: Fixture.model, dtype: "f32", layerCount: 2, kvDim: 8, blockSize: 4,
                                  blockBytes: 2 * 2 * 4 * 8 * 4)
        let otherStore = try DiskKVBlockStore(root: root, layout: other, capacityBytes: 1 << 30)
        let otherTier = KVTier(layout: other, stores: [otherStore])
        await tier.writeAll(Fixture.hashes(3))
        otherTier.write(Fixture.hashes(1)[0], payload: [UInt8](repeating: 7, count: other.blockBytes))
        await otherTier.drain(timeout: 10)
        #expect(await tier.removeAll() == 3)
        #expect(await tier.fetch(Fixture.hashes(3)).isEmpty)
        #expect(otherStore.usage.entries == 1)
    }

    @Test func aFullWriteQueueDropsAndCountsInsteadOfBlocking() async throws {
        // A queue of one block: a burst of writes returns at once; what did not fit is counted as dropped.
        let tier = KVTier(layout: layout, stores: [try store(Fixture.temporaryDirectory())],
                          writeQueueBytes: layout.blockBytes)
        let hashes = Fixture.hashes(50)
        for (i, hash) in hashes.enumerated() { tier.write(hash, payload: Fixture.payload(i)) }
        await tier.drain(timeout: 10)
        let stats = tier.stats()
        #expect(stats.writesDropped > 0)
        #expect(stats.writesQueued + stats.writesDropped == 50)
        #expect(stats.tiers["disk"]?.writes == stats.writesQueued)
        #expect(stats.pendingWrites == 0)
    }
}
