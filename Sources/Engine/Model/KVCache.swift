/// Contiguous f32 key/value storage for one sequence: per layer, `capacity` positions of `kvDim` floats.
/// K is stored after norm and RoPE; V as projected (SPEC-model.md 3.3).
///
/// NOTE: `@unchecked Sendable`: owned by one sequence; the forward pass writes disjoint rows from worker
/// threads only inside one `ThreadPool.run` region.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    public let kvDim: Int
    public let capacity: Int
    /// Number of positions filled (the next token goes at this position).
    public var count: Int = 0
    private let keys: UnsafeMutablePointer<Float>    // [layer, capacity, kvDim]
    private let values: UnsafeMutablePointer<Float>  // [layer, capacity, kvDim]

    public init(layerCount: Int, kvDim: Int, capacity: Int) {
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.capacity = capacity
        let n = layerCount * capacity * kvDim
        keys = .allocate(capacity: n)
        values = .allocate(capacity: n)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Row of keys for `layer` at `position`.
    @inline(__always)
    public func key(_ layer: Int, _ position: Int) -> UnsafeMutablePointer<Float> {
        keys + (layer * capacity + position) * kvDim
    }

    @inline(__always)
    public func value(_ layer: Int, _ position: Int) -> UnsafeMutablePointer<Float> {
        values + (layer * capacity + position) * kvDim
    }

    /// Forgets positions from `position` on (used to rewind or reuse a prefix).
    public func truncate(to position: Int) {
        precondition(position >= 0 && position <= count)
        count = position
    }

    /// Bytes held.
    public var byteCount: Int { 2 * layerCount * capacity * kvDim * MemoryLayout<Float>.size }
}
