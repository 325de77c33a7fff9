import Foundation
import Logging
import NumericCore
import Redis
import Synchronization

/// A semantic-cache hit candidate: the most similar entry in the request's scope.
public struct SemanticMatch: Sendable {
    public var key: String
    public var response: JSONValue
    public var timestamp: Double
    public var similarity: Double
    /// The stored question.
    public var text: String
}

/// Tuning of the semantic layer.
public struct SemanticCacheOptions: Sendable {
    /// Scopes larger than this switch from exact search to HNSW (default 20 000).
    public var hnswThreshold = 100_000
    /// Seconds allowed for one embedding call; slower calls are a miss (default 2 s).
    public var embeddingTimeout = 2.0
    /// Seconds between rescans of Redis (catches missed pub/sub messages and expiries; default 30 s).
    public var rescanInterval = 30.0
    /// In-process entry bound (oldest dropped first; default 200 000).
    public var maxEntries = 200_000

    public init() {}
}

/// The semantic cache: embeddings of the last user message, searched within a scope (`SemanticScope`).
///
/// Persistence (Redis mode): one hash per entry at `<namespace>:semantic:<scope>:<id>` with fields
/// `vector` (little-endian float32 bytes, L2-normalised), `response` (JSON), `scope`, `text`,
/// `timestamp` (Unix seconds) and `expires_at` (when the entry has a TTL, also the Redis expiry). The id
/// is derived from the text, so storing the same question again replaces the entry. Each insert is
/// published on `<namespace>:semantic:events`; every instance subscribes, loads new entries, rescans
/// every `rescanInterval` (dropping expired or deleted ones) and after each (re)subscription.
/// Memory-only mode (no Redis) keeps entries in the process.
///
/// Contract: lookups never throw: embedding errors/timeouts and Redis failures are misses.
public final class SemanticCache: Sendable {
    public let embedder: any Embedder
    public let options: SemanticCacheOptions
    let store: SemanticStore
    private let redis: RedisClient?
    private let keyPrefix: String
    private let channel: String
    private let clock: CacheClock
    private let logger: Logger
    private let background = Mutex<(subscriber: RedisSubscriber?, tasks: [Task<Void, Never>])>((nil, []))
    private static let flushMessage = "*flush*"

    public init(
        embedder: any Embedder, redis: RedisClient?, namespace: String?, options: SemanticCacheOptions = .init(),
        clock: CacheClock = .system, logger: Logger = Logger(label: "gateway.cache.semantic")
    ) {
        self.embedder = embedder
        self.options = options
        self.redis = redis
        self.keyPrefix = CacheKey.prefixed("semantic:", namespace: namespace)
        self.channel = keyPrefix + "events"
        self.clock = clock
        self.logger = logger
        self.store = SemanticStore(
            dimension: embedder.dimension, hnswThreshold: options.hnswThreshold, maxEntries: options.maxEntries)
    }

    /// Loads the entries already in Redis and starts the subscriber and the periodic rescan.
    public func start() async {
        guard let redis else { return }
        await rescan()
        let subscriber = RedisSubscriber(configuration: redis.configuration, channels: [channel], logger: logger)
        let listen = Task { [self] in
            for await event in subscriber.events {
                switch event {
                case .subscribed: await rescan()
                case .message(_, let payload):
                    let key = String(decoding: payload, as: UTF8.self)
                    if key == Self.flushMessage {
                        await store.removeAll()
                    } else if key.hasPrefix(keyPrefix), await !store.contains(key) {
                        await load(key)
                    }
                }
            }
        }
        let interval = options.rescanInterval
        let periodic = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                if Task.isCancelled { break }
                await rescan()
            }
        }
        background.withLock { $0 = (subscriber, [listen, periodic]) }
    }

    /// Stops the subscriber and the rescan task.
    public func shutdown() {
        let (subscriber, tasks) = background.withLock { state in
            defer { state = (nil, []) }
            return state
        }
        subscriber?.stop()
        tasks.forEach { $0.cancel() }
    }

    /// Number of entries in the in-process index.
    public var entryCount: Int { get async { await store.count } }

    /// The normalised embedding of `text`, or nil on error, timeout or a wrong dimension.
    public func embed(_ text: String) async -> [Float]? {
        let embedder = self.embedder
        let vectors = await withTimeout(options.embeddingTimeout) { try await embedder.embed([text]) }
        guard let vector = vectors??.first, vector.count == embedder.dimension else {
            logger.debug("semantic cache embedding failed or timed out")
            return nil
        }
        return VectorMath.normalized(vector)
    }

    /// The most similar entry in `scope` (above or below any threshold; the caller decides).
    public func bestMatch(scope: String, vector: [Float], maxAge: Double?) async -> SemanticMatch? {
        guard let match = await store.best(scope: scope, vector: vector, now: clock.now(), maxAge: maxAge) else {
            return nil
        }
        return SemanticMatch(
            key: match.entry.key, response: match.entry.response, timestamp: match.entry.timestamp,
            similarity: Double(match.similarity), text: match.entry.text)
    }

    /// Stores an entry (Redis first in Redis mode, then the local index) and announces it.
    /// Returns the entry key.
    @discardableResult
    public func insert(query: SemanticQuery, vector: [Float], response: JSONValue, ttl: Double?) async throws(CacheError) -> String {
        let now = clock.now()
        let key = keyPrefix + query.scope + ":" + String(CacheKey.sha256Hex(query.text).prefix(32))
        let expiresAt = ttl.map { now + $0 }
        if let redis {
            var fields: [(String, [UInt8])] = [
                ("vector", Self.bytes(of: vector)),
                ("response", Array(response.serialized().utf8)),
                ("scope", Array(query.scope.utf8)),
                ("text", Array(query.text.utf8)),
                ("timestamp", Array(String(now).utf8)),
            ]
            if let expiresAt { fields.append(("expires_at", Array(String(expiresAt).utf8))) }
            do {
                _ = try await redis.unlink([key])   // HSET would merge with a previous entry's fields
                try await redis.hset(key, fields)
                if let ttl { try await redis.expire(key, ttl: ttl) }
                try await redis.publish(channel, Array(key.utf8))
            } catch {
                throw CacheError.from(error)
            }
        }
        let entry = SemanticStore.Entry(
            key: key, scope: query.scope, text: query.text, response: response, timestamp: now, expiresAt: expiresAt,
            insertedAt: now)
        await store.upsert(entry, vector: vector)
        return key
    }

    /// Deletes entries by key (local and Redis); keys that are not semantic keys are ignored.
    public func delete(keys: [String]) async throws(CacheError) {
        let mine = keys.filter { $0.hasPrefix(keyPrefix) }
        guard !mine.isEmpty else { return }
        for key in mine { await store.remove(key: key) }
        if let redis {
            do { try await redis.unlink(mine) } catch { throw CacheError.from(error) }
        }
    }

    /// Deletes every semantic entry of this namespace, here, in Redis and (via pub/sub) in other instances.
    @discardableResult
    public func flush() async throws(CacheError) -> Int {
        var removed = await store.count
        await store.removeAll()
        if let redis {
            do {
                let keys = try await redis.scan(match: CacheKey.globEscape(keyPrefix) + "*")
                removed = 0
                var start = 0
                while start < keys.count {
                    let end = min(start + 500, keys.count)
                    removed += try await redis.unlink(Array(keys[start..<end]))
                    start = end
                }
                try await redis.publish(channel, Array(Self.flushMessage.utf8))
            } catch {
                throw CacheError.from(error)
            }
        }
        return removed
    }

    /// Brings the local index in step with Redis: loads unknown keys, drops local entries whose key is
    /// gone (expired or deleted) and expired ones. A no-op without Redis or while Redis is down.
    public func rescan() async {
        let started = clock.now()
        await store.purgeExpired(now: started)
        guard let redis else { return }
        let remote: [String]
        do {
            remote = try await redis.scan(match: CacheKey.globEscape(keyPrefix) + "*")
        } catch {
            logger.debug("semantic rescan skipped", metadata: ["error": "\(error)"])
            return
        }
        let remoteSet = Set(remote)
        var missing: [String] = []
        for key in remote where await !store.contains(key) { missing.append(key) }
        // Up to 32 loads in flight: each HGETALL is one round trip, and the client's connection threads
        // stay busy instead of waiting on one request at a time (10k entries took 29 s one by one).
        await withTaskGroup(of: Void.self) { group in
            var keys = missing.makeIterator()
            for _ in 0..<32 {
                guard let key = keys.next() else { break }
                group.addTask { await self.load(key) }
            }
            while await group.next() != nil {
                if let key = keys.next() { group.addTask { await self.load(key) } }
            }
        }
        for key in await store.keys where !remoteSet.contains(key) {
            // Entries inserted after the scan began may be missing from it; keep those.
            if let entry = await store.entry(key), entry.insertedAt < started - 1 { await store.remove(key: key) }
        }
    }

    private func load(_ key: String) async {
        guard let redis, let fields = try? await redis.hgetall(key), !fields.isEmpty,
              let vectorBytes = fields["vector"], let scopeBytes = fields["scope"],
              let responseBytes = fields["response"],
              let response = try? JSONValue.parseOrdered(responseBytes),
              let vector = Self.floats(from: vectorBytes), vector.count == embedder.dimension else { return }
        let timestamp = fields["timestamp"].flatMap { Double(String(decoding: $0, as: UTF8.self)) } ?? clock.now()
        let expiresAt = fields["expires_at"].flatMap { Double(String(decoding: $0, as: UTF8.self)) }
        let entry = SemanticStore.Entry(
            key: key, scope: String(decoding: scopeBytes, as: UTF8.self),
            text: fields["text"].map { String(decoding: $0, as: UTF8.self) } ?? "", response: response,
            timestamp: timestamp, expiresAt: expiresAt, insertedAt: clock.now())
        await store.upsert(entry, vector: vector)
    }

    static func bytes(of vector: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(vector.count * 4)
        for v in vector { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    static func floats(from bytes: [UInt8]) -> [Float]? {
        guard bytes.count % 4 == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            let bits = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            return Float(bitPattern: bits)
        }
    }
}

/// Runs `operation` with a deadline: `.some(value)`, or `.some(nil)` on error or timeout (a timed-out
/// operation is left to finish in the background and its result dropped).
func withTimeout<T: Sendable>(_ seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async -> T?? {
    await withCheckedContinuation { (continuation: CheckedContinuation<T??, Never>) in
        let finished = OneShot()
        let finish: @Sendable (T??) -> Void = { value in
            if finished.claim() { continuation.resume(returning: value) }
        }
        let timer = Task {
            // A cancelled sleep (the operation finished first) must not report a timeout.
            guard (try? await Task.sleep(for: .seconds(seconds))) != nil else { return }
            finish(.some(nil))
        }
        Task {
            let value = try? await operation()
            finish(.some(value))
            timer.cancel()
        }
    }
}

/// True for the first `claim()` only (which of two racing completions resumes a continuation).
private final class OneShot: Sendable {
    private let done = Atomic<Bool>(false)

    func claim() -> Bool { !done.exchange(true, ordering: .acquiringAndReleasing) }
}
