import PrefixCache
import Redis

/// KV blocks in Redis, shared by every instance that uses the same server: `infer:kv:<namespace>:<hash hex>`
/// with a TTL (`--kv-redis-ttl`), bounded by Redis' own `maxmemory` policy.
///
/// A read asks for all the blocks of one admission at once: `MGET` in batches of `batchKeys`, the batches
/// issued concurrently on the client's connections, so a 2k-token prefix costs one round trip per batch
/// rather than per block. A dead Redis costs one fast failure per call (the client's circuit breaker).
public final class RedisKVBlockStore: KVBlockStore {
    public let tierName = "redis"
    public let client: RedisClient
    /// `infer:kv:<namespace>:`.
    public let keyPrefix: String
    public let ttl: Double
    let batchKeys: Int

    public init(client: RedisClient, namespace: String, ttl: Double, batchKeys: Int = 32) {
        precondition(ttl > 0 && batchKeys > 0)
        self.client = client
        keyPrefix = "infer:kv:\(namespace):"
        self.ttl = ttl
        self.batchKeys = batchKeys
    }

    func key(_ hash: BlockHash) -> String { keyPrefix + hash.hex }

    public func read(_ hashes: [BlockHash]) async throws -> [[UInt8]?] {
        guard !hashes.isEmpty else { return [] }
        let batches = stride(from: 0, to: hashes.count, by: batchKeys).map { $0..<min($0 + batchKeys, hashes.count) }
        return try await withThrowingTaskGroup(of: (Int, [[UInt8]?]).self) { group in
            for (n, range) in batches.enumerated() {
                let keys = hashes[range].map(key)
                group.addTask {
                    let reply = try await self.client.command(["MGET"] + keys)
                    guard case .array(let items) = reply, items.count == keys.count else {
                        throw RedisError(.unexpectedReply, "MGET returned \(reply)")
                    }
                    return (n, items.map { $0.bytes ?? nil })
                }
            }
            var parts = [[[UInt8]?]](repeating: [], count: batches.count)
            for try await (n, values) in group { parts[n] = values }
            return parts.flatMap { $0 }
        }
    }

    public func write(_ hash: BlockHash, _ entry: [UInt8]) async throws {
        try await client.set(key(hash), entry, ttl: ttl)
    }

    public func remove(_ hash: BlockHash) async throws {
        try await client.unlink([key(hash)])
    }

    public func removeAll() async throws -> Int {
        let keys = try await client.scan(match: keyPrefix + "*")
        var removed = 0
        for start in stride(from: 0, to: keys.count, by: 500) {
            removed += try await client.unlink(Array(keys[start..<min(start + 500, keys.count)]))
        }
        return removed
    }
}
