import NumericCore

/// Paged key/value storage: one preallocated pool of `blockCount` blocks of `blockSize` token slots,
/// addressed by block id. Layout `[layer][block][slot][kvDim]` of `dtype` elements: one block of one layer is
/// contiguous, so attention streams it. K is stored after norm and RoPE; V as projected (SPEC-model.md 3.3).
///
/// NOTE: `@unchecked Sendable`: one owner (the engine thread) drives it; the forward pass writes disjoint
/// slots from worker threads only inside one `ThreadPool.run` region.
public final class KVPool: @unchecked Sendable {
    public let layerCount: Int
    public let kvDim: Int
    public let blockSize: Int
    public let blockCount: Int
    public let dtype: KVCacheDType
    private let keys: UnsafeMutableRawPointer    // [layer, block, slot, kvDim] of dtype
    private let values: UnsafeMutableRawPointer  // [layer, block, slot, kvDim] of dtype
    private let layerStride: Int                 // elements

    public init(layerCount: Int, kvDim: Int, blockSize: Int = 16, blockCount: Int, dtype: KVCacheDType = .f32) {
        precondition(blockSize > 0 && blockCount > 0)
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.dtype = dtype
        layerStride = blockCount * blockSize * kvDim
        let bytes = layerCount * layerStride * dtype.bytesPerElement
        keys = .allocate(byteCount: bytes, alignment: 64)
        values = .allocate(byteCount: bytes, alignment: 64)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// First slot of `block` in `layer` for keys: `[blockSize, kvDim]` elements of `dtype`.
    @inline(__always)
    public func keyBlock(_ layer: Int, _ block: Int) -> UnsafeMutableRawPointer {
        keys + (layer * layerStride + block * blockSize * kvDim) * dtype.bytesPerElement
    }

    /// First slot of `block` in `layer` for values: `[blockSize, kvDim]` elements of `dtype`.
    @inline(__always)
    public func valueBlock(_ layer: Int, _ block: Int) -> UnsafeMutableRawPointer {
        values + (layer * layerStride + block * blockSize * kvDim) * dtype.bytesPerElement
    }

    /// Element `offset` of a row that starts at `row`.
    @inline(__always)
    public func element(_ row: UnsafeMutableRawPointer, _ offset: Int) -> UnsafeMutableRawPointer {
        row + offset * dtype.bytesPerElement
    }

    /// Writes `count` f32 values at `row` in the pool's type (f16: rounded to nearest even).
    @inline(__always)
    public func store(_ source: UnsafePointer<Float>, at row: UnsafeMutableRawPointer, count: Int) {
        switch dtype {
        case .f32: row.assumingMemoryBound(to: Float.self).update(from: source, count: count)
        case .f16: VectorMath.toHalf(source, row.assumingMemoryBound(to: UInt16.self), count)
        }
    }

    /// Reads `count` elements at `row` as f32 into `destination`.
    @inline(__always)
    public func load(_ row: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        switch dtype {
        case .f32: destination.update(from: row.assumingMemoryBound(to: Float.self), count: count)
        case .f16: VectorMath.fromHalf(row.assumingMemoryBound(to: UInt16.self), destination, count)
        }
    }

    /// Bytes of one block of one layer, for keys (the same for values): `blockSize` rows of `kvDim` elements.
    public var layerBlockBytes: Int { blockSize * kvDim * dtype.bytesPerElement }

    /// Bytes of one whole block as `exportBlock` writes it: for each layer, its keys then its values.
    public var blockBytes: Int { 2 * layerCount * layerBlockBytes }

    /// Copies the KV of `block` (every layer, keys then values) into `destination` (`blockBytes` bytes), in the
    /// pool's storage type: the bytes a KV tier stores.
    public func exportBlock(_ block: Int, into destination: UnsafeMutableRawBufferPointer) {
        precondition(block >= 0 && block < blockCount && destination.count == blockBytes)
        let n = layerBlockBytes
        for layer in 0..<layerCount {
            let base = destination.baseAddress! + 2 * layer * n
            base.copyMemory(from: keyBlock(layer, block), byteCount: n)
            (base + n).copyMemory(from: valueBlock(layer, block), byteCount: n)
        }
    }

    /// Writes `source` (`blockBytes` bytes laid out as `exportBlock` writes them) into `block`.
    public func importBlock(_ block: Int, from source: UnsafeRawBufferPointer) {
        precondition(block >= 0 && block < blockCount && source.count == blockBytes)
        let n = layerBlockBytes
        for layer in 0..<layerCount {
            let base = source.baseAddress! + 2 * layer * n
            keyBlock(layer, block).copyMemory(from: base, byteCount: n)
            valueBlock(layer, block).copyMemory(from: base + n, byteCount: n)
        }
    }

    /// Bytes held by the pool.
    public var byteCount: Int { 2 * layerCount * layerStride * dtype.bytesPerElement }

    /// Bytes one token takes (K and V of every layer).
    public static func bytesPerToken(layerCount: Int, kvDim: Int, dtype: KVCacheDType) -> Int {
        2 * layerCount * kvDim * dtype.bytesPerElement
    }
}
