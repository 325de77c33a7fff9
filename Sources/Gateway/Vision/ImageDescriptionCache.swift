import Crypto
import Foundation

/// Image descriptions of the vision fallback, so the same image is described once: keyed by the SHA-256 of
/// the image bytes, the description prompt and the vision group (a different prompt or group describes
/// again), stored in a `MemoryResponseCache` (LRU, TTL, bounded by entries and bytes).
public struct ImageDescriptionCache: Sendable {
    let store: MemoryResponseCache
    let ttl: Double

    public init(settings: VisionSettings, clock: CacheClock = .system) {
        store = MemoryResponseCache(maxEntries: settings.cacheMaxEntries, maxBytes: settings.cacheMaxBytes, clock: clock)
        ttl = settings.cacheTTL
    }

    /// The cache key: hex SHA-256 over the image's SHA-256, the prompt and the group, each length-prefixed.
    public static func key(image: [UInt8], prompt: String, group: String) -> String {
        var h = SHA256()
        h.update(data: Array(SHA256.hash(data: image)))
        for part in [prompt, group] {
            let bytes = Array(part.utf8)
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { h.update(bufferPointer: $0) }
            h.update(data: bytes)
        }
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public func get(_ key: String) async -> String? {
        guard let entry = try? await store.get(key), case .string(let text) = entry.response else { return nil }
        return text
    }

    public func set(_ key: String, _ description: String) async {
        try? await store.set(key, CachedResponse(timestamp: Date().timeIntervalSince1970, response: .string(description)),
                             ttl: ttl > 0 ? ttl : nil)
    }

    /// Entries and bytes held.
    public func stats() async -> ResponseCacheStats { await store.stats() }
}
