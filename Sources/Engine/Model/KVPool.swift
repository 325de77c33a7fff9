import NumericCore

/// Paged key/value storage: one preallocated pool of `blockCount` blocks of `blockSize` token slots,
/// addressed by block id. Layout `[layer][block][slot]` of rows of `kvDim` elements in `dtype`
/// (`rowBytes` each; q8_0 rows are `kvDim / 32` blocks of 34 bytes): one block of one layer is contiguous,
/// so attention streams it. K is stored after norm and RoPE; V as projected (SPEC-model.md 3.3).
///
/// NOTE: `@unchecked Sendable`: one owner (the engine thread) drives it; the forward pass writes disjoint
/// slots from worker threads only inside one `ThreadPool.run` region.
public final class KVPool: @unchecked Sendable {
    public let layerCount: Int
    public let kvDim: Int
    public let blockSize: Int
    public let blockCount: Int
    public let dtype: KVCacheDType
    /// Bytes of one stored row (`kvDim` elements of `dtype`).
    public let rowBytes: Int
    private let keys: UnsafeMutableRawPointer    // [layer, block, slot] rows of rowBytes
    private let values: UnsafeMutableRawPointer  // [layer, block, slot] rows of rowBytes
    private let layerStride: Int                 // bytes: blockCount * blockSize * rowBytes

    /// `kvDim` must be a multiple of `dtype.blockElements` (32 for q8_0).
    public init(layerCount: Int, kvDim: Int, blockSize: Int = 16, blockCount: Int, dtype: KVCacheDType = .f32) {
        precondition(blockSize > 0 && blockCount > 0)
        precondition(kvDim % dtype.blockElements == 0, "KVPool: kvDim \(kvDim) does not fit \(dtype.rawValue) blocks")
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.dtype = dtype
        rowBytes = dtype.rowBytes(kvDim)
        layerStride = blockCount * blockSize * rowBytes
        let bytes = layerCount * layerStride
        keys = .allocate(byteCount: bytes, alignment: 64)
        values = .allocate(byteCount: bytes, alignment: 64)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// First slot of `block` in `layer` for keys: `blockSize` contiguous rows of `rowBytes`.
    @inline(__always)
    public func keyBlock(_ layer: Int, _ block: Int) -> UnsafeMutableRawPointer {
        keys + layer * layerStride + block * layerBlockBytes
    }

    /// First slot of `block` in `layer` for values: `blockSize` contiguous rows of `rowBytes`.
    @inline(__always)
    public func valueBlock(_ layer: Int, _ block: Int) -> UnsafeMutableRawPointer {
        values + layer * layerStride + block * layerBlockBytes
    }

    /// `slot` rows past `block` (a block's first row from `keyBlock` / `valueBlock`, or an element of it).
    @inline(__always)
    public func row(_ block: UnsafeMutableRawPointer, _ slot: Int) -> UnsafeMutableRawPointer {
        block + slot * rowBytes
    }

    /// Element `offset` of a row that starts at `row`. `offset` is a multiple of `dtype.blockElements`
    /// (q8_0: 32, so a KV head's slice starts on a block).
    @inline(__always)
    public func element(_ row: UnsafeMutableRawPointer, _ offset: Int) -> UnsafeMutableRawPointer {
        precondition(offset % dtype.blockElements == 0, "KVPool.element: offset \(offset) splits a \(dtype) block")
        return row + dtype.rowBytes(offset)
    }

    /// Writes `count` f32 values at `row` in the pool's type (f16: rounded to nearest even; q8_0: quantized
    /// as `quantize_row_q8_0_ref`, `count` a multiple of 32).
    @inline(__always)
    public func store(_ source: UnsafePointer<Float>, at row: UnsafeMutableRawPointer, count: Int) {
        dtype.rowFormat.encode(source, row, count)
    }

    /// Reads `count` elements at `row` as f32 into `destination` (q8_0: dequantized, `count` a multiple of 32).
    @inline(__always)
    public func load(_ row: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        dtype.rowFormat.decode(row, destination, count)
    }

    /// Bytes of one block of one layer, for keys (the same for values): `blockSize` rows of `rowBytes`.
    public var layerBlockBytes: Int { blockSize * rowBytes }

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
    public var byteCount: Int { 2 * layerCount * layerStride }

    /// Bytes one token takes (K and V of every layer).
    public static func bytesPerToken(layerCount: Int, kvDim: Int, dtype: KVCacheDType) -> Int {
        2 * layerCount * dtype.rowBytes(kvDim)
    }
}
