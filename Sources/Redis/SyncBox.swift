import Foundation

/// A value behind an `NSLock`, for small state shared between tasks and the Redis I/O threads
/// (breaker state, pool counters, cache statistics).
///
/// `@unchecked Sendable` is safe because every access to `value` goes through `withLock`, which holds
/// the lock for the whole closure; the closures never block or await.
final class SyncBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the current value.
    var current: Value { withLock { $0 } }
}
