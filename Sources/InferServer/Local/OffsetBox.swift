import Engine
import Foundation
import Hummingbird
import Logging
import Gateway

/// Per-choice running text offsets of a streamed completion.
/// NOTE: `@unchecked Sendable`: only the single task writing the response touches it (chunks are built
/// one after another), the lock only makes that explicit.
final class OffsetBox: @unchecked Sendable {
    private let lock = NSLock()
    private var offsets: [Int]
    init(count: Int) { offsets = Array(repeating: 0, count: count) }
    func get(_ i: Int) -> Int { lock.withLock { offsets[i] } }
    func set(_ i: Int, _ v: Int) { lock.withLock { offsets[i] = v } }
}
