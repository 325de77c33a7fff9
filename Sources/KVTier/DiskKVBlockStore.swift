import Foundation
import PrefixCache

/// KV blocks in a directory: one file per block, `DIR/<namespace>/<first two hex digits>/<hash hex>.kvb`, written
/// to a temporary name and renamed into place (a crash never leaves a half-written entry under a block's
/// name), bounded by `capacityBytes` with least-recently-used eviction.
///
/// At start the namespace directory is scanned (file sizes and modification times seed the LRU order), so a
/// restarted server finds its previous blocks; leftover temporary files are deleted. Entries of other
/// models, types or block sizes live in other namespace directories and are never read.
///
/// NOTE: one file per block, not a slab: a block is ~300 KB (Gemma 3 270M, f16, 16 tokens), so per-file
/// overhead is small next to the data (bench/results: 2k-token prefix read from the page cache in a few ms),
/// the rename makes every write atomic without a journal, eviction is an unlink, and a corrupt file costs one
/// block. All file I/O runs on the store's own serial queue, never on Swift's cooperative pool.
public final class DiskKVBlockStore: KVBlockStore, @unchecked Sendable {
    public let tierName = "disk"
    /// `DIR/<namespace>`.
    public let directory: URL
    public let capacityBytes: Int
    /// The size of every valid entry (`KVBlockEntry.size`): a file of any other size is never read whole.
    public let entryBytes: Int
    private let queue = DispatchQueue(label: "infer.kv-disk")
    // Touched only on `queue`.
    private var index: [BlockHash: (bytes: Int, lastUse: UInt64)] = [:]
    private var totalBytes = 0
    private var tick: UInt64 = 0

    /// Opens (creating it if needed) the directory of `layout`'s namespace under `root` and indexes what is there.
    public init(root: String, layout: KVBlockLayout, capacityBytes: Int) throws {
        precondition(capacityBytes > 0)
        self.capacityBytes = capacityBytes
        entryBytes = KVBlockEntry.size(layout)
        directory = URL(fileURLWithPath: root, isDirectory: true).appendingPathComponent(layout.namespace, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try queue.sync { try scan() }
    }

    /// Entries and bytes currently indexed.
    public var usage: (entries: Int, bytes: Int) { queue.sync { (index.count, totalBytes) } }

    public func read(_ hashes: [BlockHash]) async throws -> [[UInt8]?] {
        await onQueue {
            hashes.map { hash -> [UInt8]? in
                guard self.index[hash] != nil else { return nil }
                let path = self.path(hash).path
                // A file of the wrong size (planted, truncated) is handed on empty, never read: `KVTier` refuses
                // and deletes it.
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
                if let size, size != self.entryBytes { return [] }
                guard let data = FileManager.default.contents(atPath: path) else {
                    self.forget(hash)
                    return nil
                }
                self.tick += 1
                self.index[hash]?.lastUse = self.tick
                return [UInt8](data)
            }
        }
    }

    public func write(_ hash: BlockHash, _ entry: [UInt8]) async throws {
        try await onQueue { () throws -> Void in
            self.tick += 1
            if self.index[hash] != nil {   // same hash = same content: refresh its recency only
                self.index[hash]?.lastUse = self.tick
                return
            }
            let file = self.path(hash)
            let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(hash.hex).\(UInt64.random(in: 0...UInt64.max)).tmp")
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(entry).write(to: temporary)
            if rename(temporary.path, file.path) != 0 {
                let code = errno
                try? FileManager.default.removeItem(at: temporary)
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "rename: \(String(cString: strerror(code)))"])
            }
            self.index[hash] = (entry.count, self.tick)
            self.totalBytes += entry.count
            self.evictIfNeeded()
        }
    }

    public func remove(_ hash: BlockHash) async throws {
        await onQueue {
            try? FileManager.default.removeItem(at: self.path(hash))
            self.forget(hash)
        }
    }

    public func removeAll() async throws -> Int {
        await onQueue {
            let count = self.index.count
            for hash in self.index.keys { try? FileManager.default.removeItem(at: self.path(hash)) }
            self.index.removeAll()
            self.totalBytes = 0
            return count
        }
    }

    // MARK: - On the queue

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    private func path(_ hash: BlockHash) -> URL {
        let hex = hash.hex
        return directory.appendingPathComponent(String(hex.prefix(2)), isDirectory: true)
            .appendingPathComponent(hex + ".kvb")
    }

    private func forget(_ hash: BlockHash) {
        if let entry = index.removeValue(forKey: hash) { totalBytes -= entry.bytes }
    }

    /// Drops least-recently-used entries until the total is at most 90% of the capacity.
    private func evictIfNeeded() {
        guard totalBytes > capacityBytes else { return }
        let target = capacityBytes / 10 * 9
        for (hash, _) in index.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
            guard totalBytes > target else { break }
            try? FileManager.default.removeItem(at: path(hash))
            forget(hash)
        }
    }

    private func scan() throws {
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey]
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: keys) else { return }
        var found: [(BlockHash, Int, Date)] = []
        for case let url as URL in walker {
            let name = url.lastPathComponent
            if name.hasSuffix(".tmp") {
                try? FileManager.default.removeItem(at: url)   // an interrupted write
                continue
            }
            guard name.hasSuffix(".kvb"), let hash = Self.hash(hex: String(name.dropLast(4))),
                  let values = try? url.resourceValues(forKeys: Set(keys)), values.isRegularFile == true else { continue }
            found.append((hash, values.fileSize ?? 0, values.contentModificationDate ?? .distantPast))
        }
        for (hash, bytes, _) in found.sorted(by: { $0.2 < $1.2 }) {
            tick += 1
            index[hash] = (bytes, tick)
            totalBytes += bytes
        }
        evictIfNeeded()
    }

    static func hash(hex: String) -> BlockHash? {
        let chars = Array(hex.utf8)
        guard chars.count == 64 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        return BlockHash(bytes: bytes)
    }
}
