import Foundation

/// A value behind an `NSLock`, shared between the engine thread and the tier's tasks.
///
/// NOTE: `@unchecked Sendable` is safe because every access to `value` goes through `withLock`, which holds
/// the lock for the whole closure; the closures never block or await.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
