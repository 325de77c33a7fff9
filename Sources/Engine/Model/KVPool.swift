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
