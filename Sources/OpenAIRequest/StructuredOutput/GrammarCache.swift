import Engine
import Foundation

/// Compiled grammars by `OutputConstraint.cacheKey`, so a schema sent with every request of a pipeline is
/// compiled once (and its masks, cached by grammar id in the engine, are computed once).
///
/// Contract: safe from any task; at most `capacity` grammars, least recently used out first; a key longer
/// than `maxKeyBytes` is compiled every time rather than kept.
///
/// NOTE: `@unchecked Sendable`: the dictionary and order list are only touched under `lock`.
public final class GrammarCache: @unchecked Sendable {
    public let capacity: Int
    public let maxKeyBytes: Int
    private let lock = NSLock()
    private var entries: [String: Grammar] = [:]
    private var order: [String] = []
    public private(set) var hits = 0
    public private(set) var compiles = 0

    public init(capacity: Int = 64, maxKeyBytes: Int = 1 << 20) {
        self.capacity = max(1, capacity)
        self.maxKeyBytes = maxKeyBytes
    }

    /// The compiled grammar of `constraint` (compiled now on a miss; errors are 400s naming its field).
    public func grammar(for constraint: OutputConstraint) throws -> Grammar {
        let key = constraint.cacheKey
        lock.lock()
        if let g = entries[key] {
            hits += 1
            order.removeAll { $0 == key }
            order.append(key)
            lock.unlock()
            return g
        }
        compiles += 1
        lock.unlock()
        let g = try constraint.compile()
        guard key.utf8.count <= maxKeyBytes else { return g }
        lock.lock()
        defer { lock.unlock() }
        if entries[key] == nil {
            entries[key] = g
            order.append(key)
            if order.count > capacity { entries[order.removeFirst()] = nil }
        }
        return g
    }
}
