import Foundation
import PrefixCache
import Redis

/// One block found in a tier and verified: its KV bytes, ready for `KVPool.importBlock`.
public struct KVTierHit: Sendable {
    public let hash: BlockHash
    /// The tier it came from (`disk`, `redis`).
    public let source: String
    let entry: [UInt8]
    let payload: Range<Int>

    /// Calls `body` with the block's KV bytes (`KVBlockLayout.blockBytes`).
    public func withPayload<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try entry.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[payload])) }
    }
}

/// The KV tiers behind the local pool (disk, then Redis): what the engine calls.
///
/// - Writes never block the caller: `write` puts the block in a bounded queue (`writeQueueBlocks`) drained by
///   one task that encodes each entry once (header + checksum or HMAC) and writes it to every tier; when the
///   queue is full the block is dropped and counted (`writesDropped`).
/// - Reads (`fetch`) ask the tiers in order for a run of consecutive blocks, verify every entry
///   (`KVBlockEntry.verify`: length, header, model, type, shape, hash, tag) and return the verified run from
///   the first block up to the first miss. A refused entry is a miss, counted as `rejected`, and deleted. A
///   tier that fails is counted and skipped: the request goes on without it.
public final class KVTier: Sendable {
    public let layout: KVBlockLayout
    public let stores: [any KVBlockStore]
    let secret: [UInt8]?
    let writeQueueBlocks: Int
    private let counters: SyncBox<KVTierStats>
    private let queue: AsyncStream<(BlockHash, [UInt8])>.Continuation
    private let writer: Task<Void, Never>

    /// `stores` fastest first. `secret`: the tags are HMAC-SHA256 with it (every instance sharing a tier needs
    /// the same one); nil: plain SHA-256 checksums. `writeQueueBytes` bounds the blocks waiting to be written.
    public init(layout: KVBlockLayout, stores: [any KVBlockStore], secret: [UInt8]? = nil,
                writeQueueBytes: Int = 64 << 20) {
        precondition(!stores.isEmpty)
        self.layout = layout
        self.stores = stores
        self.secret = secret
        writeQueueBlocks = max(1, writeQueueBytes / layout.blockBytes)
        var initial = KVTierStats()
        initial.order = stores.map(\.tierName)
        for store in stores { initial.tiers[store.tierName] = KVTierCounters() }
        let counters = SyncBox(initial)
        self.counters = counters
        let (stream, continuation) = AsyncStream.makeStream(of: (BlockHash, [UInt8]).self,
                                                           bufferingPolicy: .bufferingOldest(writeQueueBlocks))
        queue = continuation
        let key = self.secret
        writer = Task.detached(priority: .utility) {
            for await (hash, payload) in stream {
                let entry = payload.withUnsafeBytes {
                    KVBlockEntry.encode(hash: hash, payload: $0, layout: layout, secret: key)
                }
                for store in stores {
                    do {
                        try await store.write(hash, entry)
                        counters.withLock {
                            $0.tiers[store.tierName]?.writes += 1
                            $0.tiers[store.tierName]?.bytesWritten += entry.count
                        }
                    } catch {
                        let n = counters.withLock { s -> Int in
                            s.tiers[store.tierName]?.writeErrors += 1
                            return s.tiers[store.tierName]?.writeErrors ?? 0
                        }
                        Self.log(n, "write to the \(store.tierName) tier failed: \(error)")
                    }
                }
                counters.withLock { $0.pendingWrites -= 1 }
            }
        }
    }

    deinit {
        queue.finish()
    }

    /// Whether a `write` now would be dropped (check before copying a block out of the pool).
    public var isWriteQueueFull: Bool { counters.withLock { $0.pendingWrites >= writeQueueBlocks } }

    /// Queues the KV of a block just registered in the local cache (`payload`: `layout.blockBytes` bytes, as
    /// `KVPool.exportBlock` writes them). Never blocks; when the queue is full the block is dropped and counted.
    public func write(_ hash: BlockHash, payload: [UInt8]) {
        precondition(payload.count == layout.blockBytes)
        let admitted = counters.withLock { s -> Bool in
            guard s.pendingWrites < writeQueueBlocks else {
                s.writesDropped += 1
                return false
            }
            s.pendingWrites += 1
            s.writesQueued += 1
            return true
        }
        guard admitted else { return }
        switch queue.yield((hash, payload)) {
        case .enqueued: break
        case .dropped, .terminated:
            counters.withLock {
                $0.pendingWrites -= 1
                $0.writesQueued -= 1
                $0.writesDropped += 1
            }
        @unknown default: break
        }
    }

    /// Counts a block the caller did not offer because `isWriteQueueFull` said it would be dropped.
    public func noteWriteDropped() { counters.withLock { $0.writesDropped += 1 } }

    /// Counts one admission fetch the scheduler stopped waiting for.
    public func noteFetchTimeout() { counters.withLock { $0.fetchTimeouts += 1 } }

    /// The longest verified run of `hashes` (consecutive blocks of one prompt, in order) the tiers hold,
    /// starting at the first: each tier is asked (in one batched read) for what the faster tiers missed.
    public func fetch(_ hashes: [BlockHash]) async -> [KVTierHit] {
        var hits: [KVTierHit] = []
        for store in stores where hits.count < hashes.count {
            let wanted = Array(hashes[hits.count...])
            let entries: [[UInt8]?]
            do {
                entries = try await store.read(wanted)
            } catch {
                let n = counters.withLock { s -> Int in
                    s.tiers[store.tierName]?.errors += 1
                    return s.tiers[store.tierName]?.errors ?? 0
                }
                Self.log(n, "read from the \(store.tierName) tier failed: \(error)")
                continue
            }
            var found = 0, bytes = 0
            for (hash, entry) in zip(wanted, entries) {
                guard let entry else { break }
                switch KVBlockEntry.verify(entry, hash: hash, layout: layout, secret: secret) {
                case .success(let payload):
                    hits.append(KVTierHit(hash: hash, source: store.tierName, entry: entry, payload: payload))
                    found += 1
                    bytes += entry.count
                    continue
                case .failure(let reason):
                    let total = counters.withLock { s -> Int in
                        s.tiers[store.tierName]?.rejected += 1
                        return s.tiers[store.tierName]?.rejected ?? 0
                    }
                    Self.log(total, "\(store.tierName) tier entry \(hash) refused (\(reason.rawValue)); deleted")
                    try? await store.remove(hash)
                }
                break
            }
            counters.withLock {
                $0.tiers[store.tierName]?.reads += wanted.count
                $0.tiers[store.tierName]?.hits += found
                $0.tiers[store.tierName]?.bytesRead += bytes
            }
        }
        return hits
    }

    /// `fetch` in a task; `deliver` gets the result on that task's thread.
    public func fetch(_ hashes: [BlockHash], deliver: @escaping @Sendable ([KVTierHit]) -> Void) {
        Task { deliver(await self.fetch(hashes)) }
    }

    /// Waits until the write queue is empty or `timeout` seconds passed; returns whether it emptied.
    @discardableResult
    public func drain(timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while counters.withLock({ $0.pendingWrites }) > 0 {
            guard Date() < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Deletes this layout's entries in every tier; returns how many (tiers that fail are counted and skipped).
    public func removeAll() async -> Int {
        var removed = 0
        for store in stores {
            do {
                removed += try await store.removeAll()
            } catch {
                counters.withLock { $0.tiers[store.tierName]?.errors += 1 }
            }
        }
        return removed
    }

    /// A snapshot of the counters.
    public func stats() -> KVTierStats { counters.withLock { $0 } }

    /// The first ten messages of a kind, then every thousandth.
    static func log(_ count: Int, _ message: String) {
        guard count <= 10 || count % 1000 == 0 else { return }
        FileHandle.standardError.write(Data("[kv-tier] \(message)\n".utf8))
    }
}
