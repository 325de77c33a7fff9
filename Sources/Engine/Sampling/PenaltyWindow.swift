// Reference: llama.cpp src/llama-sampler.cpp, `llama_sampler_penalties_accept` / `_reset`.

/// The last `capacity` accepted tokens and how often each occurs among them.
///
/// Contract: `append` is O(1); `counts` always equals the multiset of the window's tokens
/// (no zero entries). A capacity of 0 records nothing; a negative capacity keeps every token.
struct PenaltyWindow: Sendable {
    /// Window length; 0 = disabled, negative = unbounded.
    let capacity: Int
    /// Occurrences of each token id currently inside the window.
    private(set) var counts: [Int: Int] = [:]
    /// Ring of the window's tokens; `head` is the oldest once the ring is full. [min(capacity, seen)]
    private var ring: [Int32] = []
    private var head = 0

    init(capacity: Int) {
        self.capacity = capacity
        if capacity > 0 { ring.reserveCapacity(capacity) }
    }

    /// Records `token`, evicting the oldest one when the window is full.
    mutating func append(_ token: Int) {
        guard capacity != 0 else { return }
        counts[token, default: 0] += 1
        if capacity < 0 || ring.count < capacity {
            ring.append(Int32(truncatingIfNeeded: token))
            return
        }
        let old = Int(ring[head])
        if let c = counts[old] { counts[old] = c > 1 ? c - 1 : nil }
        ring[head] = Int32(truncatingIfNeeded: token)
        head = (head + 1) % capacity
    }

    /// Forgets every token.
    mutating func removeAll() {
        counts.removeAll(keepingCapacity: true)
        ring.removeAll(keepingCapacity: true)
        head = 0
    }
}
