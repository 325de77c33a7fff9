import KVTier

extension KVBlockLayout {
    /// The layout of the KV blocks an engine with `options` stores for `model` (what its tiers must hold).
    public init(model: LanguageModel, options: EngineOptions) {
        let c = model.config
        self.init(model: model.fingerprint, dtype: options.kvCacheDType.rawValue, layerCount: c.layerCount,
                  kvDim: c.kvDim, blockSize: options.blockSize,
                  blockBytes: KVPool.bytesPerToken(layerCount: c.layerCount, kvDim: c.kvDim, dtype: options.kvCacheDType)
                      * options.blockSize)
    }
}
