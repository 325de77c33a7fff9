/// KV storage for one sequence with its own small pool (the CLI, perplexity and tests use it; the
/// scheduler shares one pool among sequences instead). Capacity is fixed at creation.
///
/// NOTE: `@unchecked Sendable`: one owner, as `KVPool`.
public final class KVCache: @unchecked Sendable {
    public let pool: KVPool
    public private(set) var table: BlockTable
    /// Maximum positions.
    public let capacity: Int

    public init(layerCount: Int, kvDim: Int, capacity: Int, blockSize: Int = 16, dtype: KVCacheDType = .f32) {
        let blocks = (max(capacity, 1) + blockSize - 1) / blockSize
        pool = KVPool(layerCount: layerCount, kvDim: kvDim, blockSize: blockSize, blockCount: blocks, dtype: dtype)
        table = BlockTable(blocks: (0..<blocks).map { Int32($0) }, count: 0)
        self.capacity = capacity
    }

    /// Number of positions filled (the next token goes at this position).
    public var count: Int {
        get { table.count }
        set {
            precondition(newValue >= 0 && newValue <= capacity)
            table.count = newValue
        }
    }

    /// Forgets positions from `position` on (rewind, or reuse of a prefix).
    public func truncate(to position: Int) {
        precondition(position >= 0 && position <= count)
        table.count = position
    }

    /// Bytes held.
    public var byteCount: Int { pool.byteCount }
}
