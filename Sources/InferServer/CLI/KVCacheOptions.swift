import ArgumentParser
import Engine

/// `--kv-cache-dtype`, shared by every command that runs the model.
struct KVCacheOptions: ParsableArguments {
    @Option(name: .long, help: "How the KV cache stores keys and values: f32 | f16 | q8_0 (default: f16; serve: general_settings.kv_cache_dtype or f16).")
    var kvCacheDtype: KVCacheDType?

    /// The flag, else the config's value, else f16.
    func resolved(config: KVCacheDType? = nil) -> KVCacheDType { kvCacheDtype ?? config ?? .f16 }
}

extension KVCacheDType: ExpressibleByArgument {}
