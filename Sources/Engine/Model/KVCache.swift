/// Paged key/value storage: one preallocated pool of `blockCount` blocks of `blockSize` token slots,
/// addressed by block id. Layout `[layer][block][slot][kvDim]` (f32): one block of one layer is contiguous,
/// so attention streams it. K is stored after norm and RoPE; V as projected (SPEC-model.md 3.3).
///
/// NOTE: `@unchecked Sendable`: one owner (the engine thread) drives it; the forward pass writes disjoint
/// slots from worker threads only inside one `ThreadPool.run` region.
public final class KVPool: @unchecked Sendable {
    public let layerCount: Int
    public let kvDim: Int
    public let blockSize: Int
    public let blockCount: Int
    private let keys: UnsafeMutablePointer<Float>    // [layer, block, slot, kvDim]
    private let values: UnsafeMutablePointer<Float>  // [layer, block, slot, kvDim]
    private let layerStride: Int

    public init(layerCount: Int, kvDim: Int, blockSize: Int = 16, blockCount: Int) {
        precondition(blockSize > 0 && blockCount > 0)
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.blockSize = blockSize
        self.blockCount = blockCount
        layerStride = blockCount * blockSize * kvDim
        keys = .allocate(capacity: layerCount * layerStride)
        values = .allocate(capacity: layerCount * layerStride)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// First slot of `block` in `layer` for keys: `[blockSize, kvDim]`.
    @inline(__always)
    public func keyBlock(_ layer: Int, _ block: Int) -> UnsafeMutablePointer<Float> {
        keys + layer * layerStride + block * blockSize * kvDim
    }

    /// First slot of `block` in `layer` for values: `[blockSize, kvDim]`.
    @inline(__always)
    public func valueBlock(_ layer: Int, _ block: Int) -> UnsafeMutablePointer<Float> {
        values + layer * layerStride + block * blockSize * kvDim
    }

    /// Bytes held by the pool.
    public var byteCount: Int { 2 * layerCount * layerStride * MemoryLayout<Float>.size }
}

/// The blocks of one sequence in position order: position p lives in `blocks[p / blockSize]`, slot
/// `p % blockSize`. `count` positions are filled.
public struct BlockTable: Sendable, Equatable {
    public var blocks: [Int32]
    public var count: Int

    public init(blocks: [Int32] = [], count: Int = 0) {
        self.blocks = blocks
        self.count = count
    }
}

/// KV storage for one sequence with its own small pool (the CLI, perplexity and tests use it; the
/// scheduler shares one pool among sequences instead). Capacity is fixed at creation.
///
/// NOTE: `@unchecked Sendable`: one owner, as `KVPool`.
public final class KVCache: @unchecked Sendable {
    public let pool: KVPool
    public private(set) var table: BlockTable
    /// Maximum positions.
    public let capacity: Int

    public init(layerCount: Int, kvDim: Int, capacity: Int, blockSize: Int = 16) {
        let blocks = (max(capacity, 1) + blockSize - 1) / blockSize
        pool = KVPool(layerCount: layerCount, kvDim: kvDim, blockSize: blockSize, blockCount: blocks)
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
