import Dispatch

/// Dedicated threads for CPU work whose cost grows with the input: parsing a large request body,
/// tokenizing a large prompt. Run inline, such work would hold one of the few threads of Swift's cooperative
/// pool (one per core) for its whole duration, stalling every other stream and request on that thread;
/// here it runs on its own queue while the caller's task is suspended.
enum CPUWork {
    /// Inputs up to this many bytes are handled inline (cheaper than a thread hop).
    static let inlineBytes = 1 << 20
    /// Prompt text up to this many UTF-8 bytes is tokenized inline (tokenizing is ~100x costlier per byte
    /// than parsing JSON).
    static let inlineTokenizeBytes = 16 << 10

    private static let queue = DispatchQueue(label: "infer.cpu-work", qos: .userInitiated, attributes: .concurrent)

    /// Runs `body` on the dedicated queue and returns its result.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            queue.async { c.resume(with: Result { try body() }) }
        }
    }

    /// `body` inline for an input of at most `threshold` bytes, on the dedicated queue above that.
    static func run<T: Sendable>(bytes: Int, threshold: Int = inlineTokenizeBytes,
                                 _ body: @escaping @Sendable () throws -> T) async throws -> T {
        bytes <= threshold ? try body() : try await run(body)
    }
}
