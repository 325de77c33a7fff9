import Foundation

/// A value behind an `NSLock`, for small state shared between tasks and the Redis I/O threads
/// (breaker state, pool counters, cache statistics), and for the KV tier's counters.
///
/// `@unchecked Sendable` is safe because every access to `value` goes through `withLock`, which holds
/// the lock for the whole closure; the closures never block or await.
public final class SyncBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the current value.
    public var current: Value { withLock { $0 } }
}
