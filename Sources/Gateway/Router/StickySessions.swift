import Crypto

/// Sticky sessions: which deployment a session went to last, bounded (least recently used sessions are
/// forgotten first). Keys are SHA-256 digests of (tenant, session id), so memory per entry is fixed whatever
/// the client sends and one tenant's session ids never steer another tenant's requests. Not thread-safe:
/// one owner (`RouterState`).
///
/// NOTE: LRU without a linked list: each touch appends (key, tick) to `order` and the entry remembers its
/// tick; eviction pops `order` from the front and skips pairs whose tick is stale. `order` is compacted when
/// it grows past twice the capacity, so every operation is amortised O(1).
struct StickySessions: Sendable {
    private var entries: [[UInt8]: (deployment: String, tick: UInt64)] = [:]
    private var order: [(key: [UInt8], tick: UInt64)] = []
    private var head = 0
    private var tick: UInt64 = 0
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The digest that names a session of `tenant`.
    static func key(session: String, tenant: String?) -> [UInt8] {
        var h = SHA256()
        h.update(data: Array((tenant ?? "").utf8))
        h.update(data: [0])
        h.update(data: Array(session.utf8))
        return Array(h.finalize())
    }

    /// The deployment the session was routed to last (and marks it recently used).
    mutating func lookup(_ key: [UInt8]) -> String? {
        guard let e = entries[key] else { return nil }
        touch(key, e.deployment)
        return e.deployment
    }

    /// Records that the session went to `deployment`.
    mutating func record(_ key: [UInt8], deployment: String) {
        touch(key, deployment)
        while entries.count > capacity, head < order.count {
            let (k, t) = order[head]
            head += 1
            if entries[k]?.tick == t { entries[k] = nil }
        }
    }

    private mutating func touch(_ key: [UInt8], _ deployment: String) {
        tick += 1
        entries[key] = (deployment, tick)
        order.append((key, tick))
        if order.count - head > 2 * capacity + 16 {
            order = order[head...].filter { entries[$0.key]?.tick == $0.tick }
            head = 0
        }
    }

    /// Pairs held for the LRU order (at most about twice the capacity; for tests).
    var orderCount: Int { order.count - head }
}
