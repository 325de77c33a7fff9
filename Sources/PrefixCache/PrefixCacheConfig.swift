/// Configuration of a prefix cache manager.
public struct PrefixCacheConfig: Sendable, Hashable {
    /// Number of KV blocks in the engine's pool (block ids are `0..<blockCount`).
    public var blockCount: Int
    /// Tokens per block; a power of two (default 16, as vLLM).
    public var blockSize: Int
    /// Identity of the model; seeds every block hash.
    public var model: ModelFingerprint
    /// Whether prefix reuse is on. When off, lookups never hit and nothing is registered, but block
    /// allocation and reference counting work the same.
    public var enabled: Bool
    /// Largest share of the pool that pinned blocks may occupy (0...1, default 0.25). A pin beyond the
    /// cap makes the oldest pins lapse; a single pin larger than the cap is truncated to it.
    public var maxPinnedFraction: Double

    /// Creates a configuration; call `validate()` (the manager's `init` does) before use.
    public init(
        blockCount: Int, blockSize: Int = 16, model: ModelFingerprint, enabled: Bool = true,
        maxPinnedFraction: Double = 0.25
    ) {
        self.blockCount = blockCount
        self.blockSize = blockSize
        self.model = model
        self.enabled = enabled
        self.maxPinnedFraction = maxPinnedFraction
    }

    /// The pin cap in blocks.
    public var maxPinnedBlocks: Int {
        Int((Double(blockCount) * maxPinnedFraction).rounded(.down))
    }

    /// Throws `invalidConfig` unless the block size is a power of two, the pool has 1...2^30 blocks and
    /// the pin share lies in 0...1.
    public func validate() throws(PrefixCacheError) {
        guard blockSize > 0, blockSize & (blockSize - 1) == 0, blockSize <= 1 << 20 else {
            throw PrefixCacheError(.invalidConfig, "block size \(blockSize) is not a power of two in 1...2^20")
        }
        guard blockCount > 0, blockCount <= 1 << 30 else {
            throw PrefixCacheError(.invalidConfig, "block count \(blockCount) is not in 1...2^30")
        }
        guard maxPinnedFraction >= 0, maxPinnedFraction <= 1 else {
            throw PrefixCacheError(.invalidConfig, "max pinned fraction \(maxPinnedFraction) is not in 0...1")
        }
    }
}
