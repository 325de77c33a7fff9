import Foundation
import Redis

/// The exact cache in Redis: one string key per entry holding exactly
/// `{"timestamp": <unix seconds>, "response": <full non-streaming response JSON>}` (LiteLLM's layout),
/// with the entry's TTL as the Redis expiry (`SET ... PX`); `ttl == nil` stores without expiry.
public struct RedisResponseCache: ResponseCache {
    public let cacheType = "redis"
    public let client: RedisClient

    public init(client: RedisClient) { self.client = client }

    public func get(_ key: String) async throws(CacheError) -> CachedResponse? {
        do {
            guard let bytes = try await client.get(key) else { return nil }
            return CachedResponse(envelope: bytes)   // a foreign or corrupt value is a miss
        } catch {
            throw CacheError.from(error)
        }
    }

    public func set(_ key: String, _ entry: CachedResponse, ttl: Double?) async throws(CacheError) {
        do {
            try await client.set(key, Array(entry.envelope.serialized().utf8), ttl: ttl)
        } catch {
            throw CacheError.from(error)
        }
    }

    @discardableResult
    public func delete(_ keys: [String]) async throws(CacheError) -> Int {
        do {
            return try await client.unlink(keys)
        } catch {
            throw CacheError.from(error)
        }
    }

    /// `SCAN MATCH <namespace>:<64 hex>` + `UNLINK` in batches; never `FLUSHALL` / `FLUSHDB`.
    @discardableResult
    public func flush(namespace: String?) async throws(CacheError) -> Int {
        do {
            let keys = try await client.scan(match: CacheKey.scanPattern(namespace: namespace))
                .filter { CacheKey.belongs($0, to: namespace) }
            var removed = 0
            var start = 0
            while start < keys.count {
                let end = min(start + 500, keys.count)
                removed += try await client.unlink(Array(keys[start..<end]))
                start = end
            }
            return removed
        } catch {
            throw CacheError.from(error)
        }
    }

    public func ping() async throws(CacheError) {
        let pong: Bool
        do {
            pong = try await client.ping()
        } catch {
            throw CacheError.from(error)
        }
        guard pong else { throw CacheError(.backend, "PING did not return PONG") }
    }

    /// Entries and bytes are unknown without scanning the whole keyspace; reported as nil.
    public func stats() async -> ResponseCacheStats { ResponseCacheStats(entries: nil, bytes: nil) }
}
