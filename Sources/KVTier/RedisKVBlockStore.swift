import NumericCore
import PrefixCache
import Redis

/// KV blocks in Redis, shared by every instance that uses the same server: `infer:kv:<namespace>:<hash hex>`
/// with a TTL (`--kv-redis-ttl`, renewed by every read), bounded by Redis' own `maxmemory` policy.
///
/// A read asks for all the blocks of one admission at once, in batches of `batchKeys` issued concurrently on the
/// client's connections, so a 2k-token prefix costs one round trip per batch rather than per block. Each
/// batch is one server-side script that returns a value only when its length is exactly an entry's
/// (`readScript`): a planted oversized value never crosses the network or fills our memory; a wrong-sized
/// one comes back empty, and `KVTier` refuses and deletes it. A dead Redis costs one fast failure per call
/// (the client's circuit breaker). On a Redis Cluster reads are grouped per master (`clusterRead`).
public final class RedisKVBlockStore: KVBlockStore {
    public let tierName = "redis"
    public let client: RedisClient
    /// `infer:kv:<namespace>:`.
    public let keyPrefix: String
    public let ttl: Double
    /// The size of every valid entry (`KVBlockEntry.size`).
    public let entryBytes: Int
    let batchKeys: Int

    /// `GET` of each key whose length is ARGV[1], refreshing its TTL to ARGV[2] ms (a block read by the fleet
    /// stays while it is used); `false` (nil) for a missing key, "" for a wrong-sized one.
    static let readScript = """
        local out = {}
        for i, key in ipairs(KEYS) do
          local n = redis.call('STRLEN', key)
          if n == tonumber(ARGV[1]) then
            out[i] = redis.call('GET', key)
            redis.call('PEXPIRE', key, ARGV[2])
          elseif n > 0 then out[i] = ''
          else out[i] = false end
        end
        return out
        """

    public init(client: RedisClient, layout: KVBlockLayout, ttl: Double, batchKeys: Int = 32) {
        precondition(ttl > 0 && batchKeys > 0)
        self.client = client
        keyPrefix = "infer:kv:\(layout.namespace):"
        entryBytes = KVBlockEntry.size(layout)
        self.ttl = ttl
        self.batchKeys = batchKeys
    }

    func key(_ hash: BlockHash) -> String { keyPrefix + hash.hex }

    public func read(_ hashes: [BlockHash]) async throws -> [[UInt8]?] {
        guard !hashes.isEmpty else { return [] }
        if client.isCluster { return await clusterRead(hashes) }
        let batches = stride(from: 0, to: hashes.count, by: batchKeys).map { $0..<min($0 + batchKeys, hashes.count) }
        return try await withThrowingTaskGroup(of: (Int, [[UInt8]?]).self) { group in
            for (n, range) in batches.enumerated() {
                let keys = hashes[range].map(key)
                group.addTask {
                    let reply = try await self.client.command(
                        ["EVAL", Self.readScript, String(keys.count)] + keys
                            + [String(self.entryBytes), String(CheckedConversion.milliseconds(self.ttl))])
                    guard case .array(let items) = reply, items.count == keys.count else {
                        throw RedisError(.unexpectedReply, "the KV read script returned \(reply)")
                    }
                    return (n, items.map { $0.bytes ?? nil })
                }
            }
            var parts = [[[UInt8]?]](repeating: [], count: batches.count)
            for try await (n, values) in group { parts[n] = values }
            return parts.flatMap { $0 }
        }
    }

    /// On a cluster a script may touch one slot only, and block keys spread over every slot: one single-key
    /// script per block, pipelined per master (one round trip per master, in parallel). A block on a master
    /// that cannot be reached reads as missing, so the run stops there and the rest is computed.
    private func clusterRead(_ hashes: [BlockHash]) async -> [[UInt8]?] {
        let size = String(entryBytes), ms = String(CheckedConversion.milliseconds(ttl))
        let results = await client.pipeline(hashes.map { ["EVAL", Self.readScript, "1", key($0), size, ms] })
        return results.map { result -> [UInt8]? in
            guard case .success(.array(let items)) = result, items.count == 1 else { return nil }
            return items[0].bytes ?? nil
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
