import Foundation

/// One cached response: when it was stored (Unix seconds) and the full non-streaming response JSON.
public struct CachedResponse: Sendable, Equatable {
    public var timestamp: Double
    public var response: JSONValue

    public init(timestamp: Double, response: JSONValue) {
        self.timestamp = timestamp
        self.response = response
    }

    /// The stored envelope, exactly `{"timestamp": <unix seconds>, "response": <response>}`.
    public var envelope: JSONValue { .object([("timestamp", .double(timestamp)), ("response", response)]) }

    /// Parses a stored envelope; nil when the bytes are not one.
    public init?(envelope bytes: [UInt8]) {
        guard let value = try? JSONValue.parseOrdered(bytes), let response = value["response"] else { return nil }
        switch value["timestamp"] {
        case .double(let t)?: timestamp = t
        case .int(let t)?: timestamp = Double(t)
        default: return nil
        }
        self.response = response
    }
}

/// Size of a cache backend, where known.
public struct ResponseCacheStats: Sendable, Equatable {
    public var entries: Int?
    public var bytes: Int?

    public init(entries: Int?, bytes: Int?) {
        self.entries = entries
        self.bytes = bytes
    }
}

/// Storage for the exact response cache. Keys are full cache keys (namespace included).
///
/// Contract: `get` returns nil for missing and expired entries; `set` with `ttl == nil` stores without
/// expiry; `flush(namespace:)` removes only exact-cache keys of that namespace (`CacheKey.belongs`).
/// Backend failures throw `CacheError`.
public protocol ResponseCache: Sendable {
    /// `"local"` or `"redis"` (the `cache_type` of `/cache/ping`).
    var cacheType: String { get }
    func get(_ key: String) async throws(CacheError) -> CachedResponse?
    func set(_ key: String, _ entry: CachedResponse, ttl: Double?) async throws(CacheError)
    /// Deletes the given keys; returns how many existed.
    @discardableResult func delete(_ keys: [String]) async throws(CacheError) -> Int
    /// Deletes every exact-cache key of `namespace`; returns how many were removed.
    @discardableResult func flush(namespace: String?) async throws(CacheError) -> Int
    /// Round trip to the backend plus a test write; throws when unhealthy.
    func ping() async throws(CacheError)
    func stats() async -> ResponseCacheStats
}
