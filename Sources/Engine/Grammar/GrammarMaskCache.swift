/// Masks already computed, keyed by grammar and parse state. Schema grammars revisit the same few states
/// (inside a string, after a comma, ...) at almost every token, so most masks are computed once per grammar.
///
/// Contract: owned by the engine thread (no locks). At most `capacity` masks (32 KiB each for Gemma's
/// vocabulary); the oldest entry goes first.
final class GrammarMaskCache {
    struct Key: Hashable {
        let grammar: UInt64
        let stacks: [[Int32]]
        let acceptsEnd: Bool
    }

    let capacity: Int
    private var entries: [Key: GrammarMask] = [:]
    private var order: [Key] = []
    private var head = 0
    private(set) var hits = 0
    private(set) var misses = 0

    init(capacity: Int = 256) {
        self.capacity = max(1, capacity)
    }

    func mask(for key: Key, compute: () -> GrammarMask) -> GrammarMask {
        if let m = entries[key] {
            hits += 1
            return m
        }
        misses += 1
        let m = compute()
        if order.count - head >= capacity {
            entries[order[head]] = nil
            head += 1
            if head > capacity {
                order.removeFirst(head)
                head = 0
            }
        }
        entries[key] = m
        order.append(key)
        return m
    }
}
