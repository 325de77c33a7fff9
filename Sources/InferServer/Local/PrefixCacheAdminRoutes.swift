import Engine
import Gateway
import Hummingbird
import KVTier
import OpenAIRequest

/// `GET /prefix_cache/stats` and `POST /prefix_cache/reset`: the local engine's KV prefix cache (master key).
/// Registered only when a local engine exists.
struct PrefixCacheAdminRoutes: Sendable {
    let server: OpenAIServer
    let local: LocalEngine

    private func requireAdmin(_ context: InferRequestContext) throws {
        guard context.caller.isAdmin else {
            throw OpenAIError.forbidden("The prefix cache admin routes need the master key.")
        }
    }

    /// Blocks by state, the KV type and bytes, hit rates by source, tiers, evictions, pins, top prefixes, errors.
    func stats(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let engine = local.engine.stats()
        let options = local.engine.options
        let config = local.model.config
        let bytesPerToken = KVPool.bytesPerToken(layerCount: config.layerCount, kvDim: config.kvDim,
                                                 dtype: options.kvCacheDType)
        guard let p = engine.prefix else {
            return server.json(["enabled": false, "dtype": .string(options.kvCacheDType.rawValue)])
        }
        let blockBytes = bytesPerToken * options.blockSize
        func rate(_ tokens: Int) -> JSONValue { .double(p.queryTokens == 0 ? 0 : Double(tokens) / Double(p.queryTokens)) }
        let tierTokens = engine.tierHitTokens.values.reduce(0, +)
        var bySource: [(String, JSONValue)] = [("local", rate(p.hitTokens))]
        var tiers: [(String, JSONValue)] = []
        if let t = engine.tier {
            for name in t.order {
                bySource.append((name, rate(engine.tierHitTokens[name] ?? 0)))
                let c = t.tiers[name] ?? KVTierCounters()
                tiers.append((name, [
                    "hit_tokens": .int(engine.tierHitTokens[name] ?? 0),
                    "reads": .int(c.reads), "hits": .int(c.hits), "rejected": .int(c.rejected), "errors": .int(c.errors),
                    "writes": .int(c.writes), "write_errors": .int(c.writeErrors),
                    "bytes_read": .int(c.bytesRead), "bytes_written": .int(c.bytesWritten),
                ]))
            }
            tiers.append(("write_queue", [
                "queued": .int(t.writesQueued), "dropped": .int(t.writesDropped), "pending": .int(t.pendingWrites),
            ]))
            tiers.append(("fetch_timeouts", .int(t.fetchTimeouts)))
        }
        let top: [JSONValue] = engine.topPrefixes.map {
            ["hash": .string(String($0.hash.hex.prefix(16))), "tokens": .int($0.tokens), "hits": .int($0.hits)]
        }
        return server.json([
            "enabled": .bool(options.prefixCaching),
            "dtype": .string(options.kvCacheDType.rawValue),
            "block_size": .int(options.blockSize),
            "bytes_per_token": .int(bytesPerToken),
            "bytes": .int(blockBytes * p.blockCount),
            "blocks": [
                "total": .int(p.blockCount), "used": .int(p.blocksInUse), "cached": .int(p.blocksCached),
                "reclaimable": .int(p.blocksReclaimable), "pinned": .int(p.pinnedBlocks), "free": .int(p.blocksFree),
            ],
            "query_tokens": .int(p.queryTokens), "hit_tokens": .int(p.hitTokens),
            "hit_rate": rate(p.hitTokens + tierTokens),
            "hit_rate_by_source": .object(bySource),
            "tiers": .object(tiers),
            "schedule_policy": .string(options.schedulePolicy.rawValue),
            "admissions": .int(p.admissions), "registered_blocks": .int(p.registeredBlocks),
            "deduplicated_blocks": .int(p.deduplicatedBlocks), "evictions": .int(p.evictions),
            "reset_drops": .int(p.resetDrops),
            "pins": ["active": .int(p.activePins), "created": .int(p.pinsCreated), "lapsed": .int(p.pinsLapsed)],
            "errors": .int(engine.prefixCacheErrors),
            "running_sequences": .int(engine.running), "waiting_requests": .int(engine.waiting),
            "top_prefixes": .array(top),
        ])
    }

    /// Drops every pin and every cached block no running request uses; `{"dropped_blocks": N}`. With
    /// `{"tiers": true}` also this model's entries in the tiers (`"tier_entries_removed": M`).
    func reset(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let f = try await server.readFields(request)
        let tiers = try f.bool("tiers") == true
        let tier = local.engine.options.kvTier
        if tiers && tier == nil {
            throw OpenAIError.badParameter("tiers", "This server has no KV tier (--kv-redis or --kv-disk) to reset.")
        }
        let dropped = await local.engine.resetPrefixCache()
        guard tiers, let tier else { return server.json(["dropped_blocks": .int(dropped)]) }
        let removed = await tier.removeAll()
        return server.json(["dropped_blocks": .int(dropped), "tier_entries_removed": .int(removed)])
    }
}
