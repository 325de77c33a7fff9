import Foundation
import KVTier
import PrefixCache

/// A small layout (2 layers, kvDim 8, 4 tokens per block, f16: 256 bytes per block) and helpers.
enum Fixture {
    static let model = ModelFingerprint(digesting: "kv-tier-test-model")
    static let layout = KVBlockLayout(model: model, dtype: "f16", layerCount: 2, kvDim: 8, blockSize: 4,
                                      blockBytes: 2 * 2 * 4 * 8 * 2)

    /// Distinct, reproducible hashes of a chain of `count` blocks.
    static func hashes(_ count: Int, seed: String = "p") -> [BlockHash] {
        let hasher = BlockHasher(model: model, blockSize: 4)
        let tokens = (0..<(count * 4)).map { ($0 * 7 + seed.utf8.count * 13) % 1000 }
        return hasher.blockHashes(of: tokens + [1], keys: BlockExtraKeys(salt: CacheSalt(seed)))
    }

    /// A block's payload whose bytes depend on `index`.
    static func payload(_ index: Int, layout: KVBlockLayout = layout) -> [UInt8] {
        (0..<layout.blockBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index &* 101) }
    }

    static func entry(_ index: Int, hash: BlockHash, layout: KVBlockLayout = layout, secret: [UInt8]? = nil) -> [UInt8] {
        payload(index, layout: layout).withUnsafeBytes {
            KVBlockEntry.encode(hash: hash, payload: $0, layout: layout, secret: secret)
        }
    }

    static func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvtier-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Collects a tier's written payloads by waiting for its queue to drain.
extension KVTier {
    func writeAll(_ hashes: [BlockHash]) async {
        for (i, hash) in hashes.enumerated() { write(hash, payload: Fixture.payload(i)) }
        await drain(timeout: 10)
    }
}
