import Engine
import Gateway
import Hummingbird
import OpenAIRequest

/// `GET /prefix_cache/stats` and `POST /prefix_cache/reset`: the local engine's KV prefix cache (master key).
struct PrefixCacheAdminRoutes: Sendable {
    let server: OpenAIServer

    private func requireAdmin(_ context: InferRequestContext) throws {
        guard context.caller.isAdmin else {
            throw OpenAIError.forbidden("The prefix cache admin routes need the master key.")
        }
    }

    /// Blocks by state, the KV type and bytes, hit rate, evictions, pins and errors.
    func stats(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let engine = server.engine.stats()
        let options = server.engine.options
        let config = server.model.config
        let bytesPerToken = KVPool.bytesPerToken(layerCount: config.layerCount, kvDim: config.kvDim,
                                                 dtype: options.kvCacheDType)
        guard let p = engine.prefix else {
            return server.json(["enabled": false, "dtype": .string(options.kvCacheDType.rawValue)])
        }
        let blockBytes = bytesPerToken * options.blockSize
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
            "hit_rate": .double(p.hitRate),
            "hit_rate_by_source": ["local": .double(p.hitRate)],
            "admissions": .int(p.admissions), "registered_blocks": .int(p.registeredBlocks),
            "deduplicated_blocks": .int(p.deduplicatedBlocks), "evictions": .int(p.evictions),
            "reset_drops": .int(p.resetDrops),
            "pins": ["active": .int(p.activePins), "created": .int(p.pinsCreated), "lapsed": .int(p.pinsLapsed)],
            "errors": .int(engine.prefixCacheErrors),
            "running_sequences": .int(engine.running), "waiting_requests": .int(engine.waiting),
        ])
    }

    /// Drops every pin and every cached block no running request uses; `{"dropped_blocks": N}`.
    func reset(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let f = try await server.readFields(request)
        if try f.bool("tiers") == true {
            throw OpenAIError.badParameter("tiers", "This server has no KV tier (Redis or disk) to reset.")
        }
        let dropped = await server.engine.resetPrefixCache()
        return server.json(["dropped_blocks": .int(dropped)])
    }
}
