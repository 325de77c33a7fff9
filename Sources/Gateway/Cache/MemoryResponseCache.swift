/// The in-process exact cache (the default when no Redis is configured): bounded by entry count and by
/// bytes (serialized response + key), with per-entry TTL and LRU eviction.
///
/// NOTE: eviction order: an expired entry is dropped when it is read; when a `set` goes over either
/// bound, entries are evicted from the least-recently-used end (reads and writes both count as use)
/// until both bounds hold. An entry larger than `maxBytes` on its own is not stored. The LRU list is
/// intrusive (slot indices in arrays, with a free list), so every operation is O(1) apart from `flush`.
public actor MemoryResponseCache: ResponseCache {
    public nonisolated let cacheType = "local"
    public let maxEntries: Int
    public let maxBytes: Int
    private let clock: CacheClock

    private struct Slot {
        var key: String
        var entry: CachedResponse
        var bytes: Int
        var expiresAt: Double?
        var prev: Int   // towards most recently used; -1 = none
        var next: Int   // towards least recently used; -1 = none
    }

    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private var index: [String: Int] = [:]
    private var head = -1   // most recently used
    private var tail = -1   // least recently used
    private var totalBytes = 0

    public init(maxEntries: Int = 10_000, maxBytes: Int = 256 << 20, clock: CacheClock = .system) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
        self.clock = clock
    }

    public func get(_ key: String) throws(CacheError) -> CachedResponse? {
        guard let i = index[key] else { return nil }
        if let expiresAt = slots[i].expiresAt, clock.now() >= expiresAt {
            remove(slot: i)
            return nil
        }
        moveToFront(i)
        return slots[i].entry
    }

    public func set(_ key: String, _ entry: CachedResponse, ttl: Double?) throws(CacheError) {
        let bytes = key.utf8.count + entry.response.serialized().utf8.count
        if let existing = index[key] { remove(slot: existing) }
        guard bytes <= maxBytes else { return }
        let expiresAt = ttl.map { clock.now() + $0 }
        let slot = Slot(key: key, entry: entry, bytes: bytes, expiresAt: expiresAt, prev: -1, next: -1)
        let i: Int
        if let free = freeSlots.popLast() {
            slots[free] = slot
            i = free
        } else {
            slots.append(slot)
            i = slots.count - 1
        }
        index[key] = i
        totalBytes += bytes
        linkFront(i)
        while index.count > maxEntries || totalBytes > maxBytes, tail != -1, tail != i {
            remove(slot: tail)
        }
    }

    @discardableResult
    public func delete(_ keys: [String]) throws(CacheError) -> Int {
        var removed = 0
        for key in keys {
            if let i = index[key] {
                remove(slot: i)
                removed += 1
            }
        }
        return removed
    }

    @discardableResult
    public func flush(namespace: String?) throws(CacheError) -> Int {
        let doomed = index.keys.filter { CacheKey.belongs($0, to: namespace) }
        return try delete(doomed)
    }

    public func ping() throws(CacheError) {}

    public func stats() -> ResponseCacheStats {
        ResponseCacheStats(entries: index.count, bytes: totalBytes)
    }

    // MARK: - Intrusive LRU list

    private func linkFront(_ i: Int) {
        slots[i].prev = -1
        slots[i].next = head
        if head != -1 { slots[head].prev = i }
        head = i
        if tail == -1 { tail = i }
    }

    private func unlink(_ i: Int) {
        let (p, n) = (slots[i].prev, slots[i].next)
        if p != -1 { slots[p].next = n } else { head = n }
        if n != -1 { slots[n].prev = p } else { tail = p }
    }

    private func moveToFront(_ i: Int) {
        guard head != i else { return }
        unlink(i)
        linkFront(i)
    }

    private func remove(slot i: Int) {
        unlink(i)
        index[slots[i].key] = nil
        totalBytes -= slots[i].bytes
        slots[i].entry = CachedResponse(timestamp: 0, response: .null)   // release the JSON now
        slots[i].key = ""
        freeSlots.append(i)
    }
}
