/// The in-process side of the semantic cache: one vector index per scope plus the entries' payloads.
///
/// An `actor` because lookups, inserts, pub/sub deliveries and rescans reach it from many tasks; every
/// method is synchronous inside the actor, so there is no reentrancy across an `await`.
///
/// NOTE: a scope starts with exact search (`FlatVectorIndex`) and switches to `HNSWIndex` once it holds
/// more than `hnswThreshold` vectors. In memory-only mode the oldest entries are dropped beyond
/// `maxEntries` (insertion order).
actor SemanticStore {
    struct Entry: Sendable {
        var key: String
        var scope: String
        /// The question the entry answers (for `SemanticVerifier`).
        var text: String
        var response: JSONValue
        var timestamp: Double
        var expiresAt: Double?
        var insertedAt: Double
    }

    struct Match: Sendable {
        var entry: Entry
        var similarity: Float
    }

    let dimension: Int
    let hnswThreshold: Int
    let maxEntries: Int
    private var scopes: [String: any VectorIndex] = [:]
    private var entries: [Int: Entry] = [:]
    private var idOfKey: [String: Int] = [:]
    private var insertionOrder: [Int] = []   // lazily cleaned FIFO of ids
    private var orderStart = 0
    private var nextId = 0

    init(dimension: Int, hnswThreshold: Int, maxEntries: Int) {
        self.dimension = dimension
        self.hnswThreshold = max(1, hnswThreshold)
        self.maxEntries = max(1, maxEntries)
    }

    var count: Int { entries.count }
    var keys: [String] { Array(idOfKey.keys) }
    func contains(_ key: String) -> Bool { idOfKey[key] != nil }
    func entry(_ key: String) -> Entry? { idOfKey[key].flatMap { entries[$0] } }

    /// Adds or replaces the entry stored under `entry.key`. PRECONDITION: normalised vector of `dimension`.
    func upsert(_ entry: Entry, vector: [Float]) {
        remove(key: entry.key)
        let id = nextId
        nextId += 1
        entries[id] = entry
        idOfKey[entry.key] = id
        insertionOrder.append(id)
        // NOTE: taken out of the dictionary (not copied) so that `add` mutates a uniquely referenced
        // buffer; copying it made every insert O(n) (loading 100k entries at start took over 10 minutes).
        var index = scopes.removeValue(forKey: entry.scope) ?? FlatVectorIndex(dimension: dimension)
        index.add(id: id, vector: vector)
        if index is FlatVectorIndex, index.count > hnswThreshold {
            var hnsw = HNSWIndex(dimension: dimension)
            for (vid, v) in index.allVectors() { hnsw.add(id: vid, vector: v) }
            index = hnsw
        }
        scopes[entry.scope] = index
        while entries.count > maxEntries, orderStart < insertionOrder.count {
            let oldest = insertionOrder[orderStart]
            orderStart += 1
            if let e = entries[oldest] { remove(key: e.key) }
        }
        if orderStart > 1024, orderStart * 2 > insertionOrder.count {
            insertionOrder.removeFirst(orderStart)
            orderStart = 0
        }
    }

    func remove(key: String) {
        guard let id = idOfKey.removeValue(forKey: key), let entry = entries.removeValue(forKey: id) else { return }
        scopes[entry.scope]?.remove(id: id)
        if scopes[entry.scope]?.count == 0 { scopes[entry.scope] = nil }
    }

    func removeAll() {
        scopes = [:]
        entries = [:]
        idOfKey = [:]
        insertionOrder = []
        orderStart = 0
    }

    /// Drops expired entries; returns how many.
    @discardableResult
    func purgeExpired(now: Double) -> Int {
        let expired = entries.values.filter { $0.expiresAt.map { now >= $0 } ?? false }.map(\.key)
        for key in expired { remove(key: key) }
        return expired.count
    }

    /// The most similar live entry of `scope` no older than `maxAge` (if given).
    func best(scope: String, vector: [Float], now: Double, maxAge: Double?) -> Match? {
        guard let index = scopes[scope] else { return nil }
        for (id, score) in index.search(vector, k: 8) {
            guard let entry = entries[id] else { continue }
            if let expiresAt = entry.expiresAt, now >= expiresAt { continue }
            if let maxAge, now - entry.timestamp > maxAge { continue }
            return Match(entry: entry, similarity: score)
        }
        return nil
    }
}
