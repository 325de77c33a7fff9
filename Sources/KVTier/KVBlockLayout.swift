import Crypto
import PrefixCache

/// What one stored KV block is: the model, the storage type and the shape. Two processes may exchange a
/// block through a tier only when their layouts are equal; every entry carries its layout in its header and
/// `KVBlockEntry.verify` refuses an entry whose layout differs.
public struct KVBlockLayout: Sendable, Hashable {
    /// SHA-256 of the model fingerprint's bytes (32 bytes whatever the fingerprint's length).
    public let model: [UInt8]
    /// The KV storage type's name (`f32`, `f16`, `q8_0`): at most 8 ASCII bytes.
    public let dtype: String
    public let layerCount: Int
    public let kvDim: Int
    public let blockSize: Int
    /// Bytes of one block's KV (every layer, keys then values), as `KVPool.exportBlock` writes them.
    public let blockBytes: Int

    public init(model: ModelFingerprint, dtype: String, layerCount: Int, kvDim: Int, blockSize: Int, blockBytes: Int) {
        precondition(dtype.utf8.count <= 8 && dtype.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f })
        precondition(layerCount > 0 && kvDim > 0 && blockSize > 0 && blockBytes > 0)
        self.model = Array(SHA256.hash(data: model.bytes))
        self.dtype = dtype
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.blockSize = blockSize
        self.blockBytes = blockBytes
    }

    /// The name every tier files this layout's entries under: model (first 16 hex digits of `model`), type and
    /// block size, e.g. `3f2a...-f16-b16`. Entries of another model or type live under another name, so a
    /// reset of "this model's entries" is one prefix and another model's entries are never even read.
    public var namespace: String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in model.prefix(8) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return "\(String(decoding: hex, as: UTF8.self))-\(dtype)-b\(blockSize)"
    }
}
