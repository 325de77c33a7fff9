import Engine
import Foundation
import Gateway
import KVTier

/// The dashboard's one JSON document (`GET /ui/api/summary`): a snapshot of the server assembled from the
/// owners of each number (the traffic window, the response cache, the engine, the router, the cost ledger,
/// the alert monitor). Every section is present; a part the server does not have (no cache, no engine, no
/// alerting) is `null`, never guessed.
enum DashboardSummary {
    /// Rows kept in the unbounded lists (keys by spend, alerts).
    static let maxRows = 20

    static func render(server: OpenAIServer, pipeline: GatewayPipeline) async -> JSONValue {
        let engine = server.local?.engine.stats()
        let groups = pipeline.router.groupNames + pipeline.cascades.cascades.keys.sorted()
        return .object([
            ("object", "dashboard.summary"),
            ("time", .double(Date().timeIntervalSince1970)),
            ("window_seconds", .double(pipeline.traffic.windowSeconds)),
            ("groups", .array(pipeline.traffic.summary(groups: groups).map(Self.group))),
            ("hit_rates", await hitRates(pipeline.cache, engine: engine)),
            ("kv", engine.map(kv) ?? .null),
            ("top_prefixes", .array((engine?.topPrefixes ?? []).map {
                ["hash": .string(String($0.hash.hex.prefix(16))), "tokens": .int($0.tokens), "hits": .int($0.hits)]
            })),
            ("deployments", .array(await deployments(pipeline.router))),
            ("spend", .array(await spend(pipeline.ledger))),
            ("alerts", await alerts(pipeline.alerts)),
        ])
    }

    static func group(_ g: TrafficWindow.GroupSummary) -> JSONValue {
        ["model_group": .string(g.group), "requests": .int(g.requests), "failures": .int(g.failures),
         "requests_per_second": .double(g.requestsPerSecond),
         "latency_p50_seconds": g.p50.map(JSONValue.double) ?? .null,
         "latency_p95_seconds": g.p95.map(JSONValue.double) ?? .null]
    }

    /// Exact and semantic response-cache hits over lookups (requests), prefix-cache hit tokens over prompt
    /// tokens looked up; counts since start, so the page can also show rates between two refreshes.
    static func hitRates(_ cache: CacheLayer?, engine: EngineStats?) async -> JSONValue {
        func rate(_ hits: Int, _ total: Int) -> JSONValue {
            ["hits": .int(hits), "lookups": .int(total), "rate": .double(total == 0 ? 0 : Double(hits) / Double(total))]
        }
        var exact = JSONValue.null, semantic = JSONValue.null
        if let cache {
            let stats = await cache.stats()
            let hits = stats["hits"]?.intField ?? 0, semanticHits = stats["semantic_hits"]?.intField ?? 0
            let lookups = hits + semanticHits + (stats["misses"]?.intField ?? 0)
            exact = rate(hits, lookups)
            semantic = rate(semanticHits, lookups)
        }
        let prefix = engine?.prefix.map { p in
            ["hit_tokens": .int(p.hitTokens), "query_tokens": .int(p.queryTokens),
             "rate": .double(p.hitRate)] as JSONValue
        } ?? .null
        return ["exact": exact, "semantic": semantic, "prefix": prefix]
    }

    /// The KV pool's blocks by state (a partition of `total`) and the tiers behind it.
    static func kv(_ engine: EngineStats) -> JSONValue {
        var blocks = JSONValue.null
        if let p = engine.prefix {
            blocks = ["in_use": .int(p.blocksInUse), "cached_idle": .int(p.blocksReclaimable),
                      "pinned": .int(p.blocksParked), "free": .int(p.blocksFree), "total": .int(p.blockCount)]
        }
        let tiers: [JSONValue] = engine.tier.map { t in
            t.order.map { name in
                let c = t.tiers[name] ?? KVTierCounters()
                return ["tier": .string(name), "hit_tokens": .int(engine.tierHitTokens[name] ?? 0),
                        "reads": .int(c.reads), "hits": .int(c.hits), "writes": .int(c.writes),
                        "errors": .int(c.errors + c.writeErrors + c.rejected)]
            }
        } ?? []
        return ["blocks": blocks, "tiers": .array(tiers), "pending_writes": .int(engine.tier?.pendingWrites ?? 0),
                "running": .int(engine.running), "waiting": .int(engine.waiting)]
    }

    /// Every deployment with its counters and the seconds left of its cooldown (null: not cooling down).
    static func deployments(_ router: ProviderRouter) async -> [JSONValue] {
        var rows: [JSONValue] = []
        for d in await router.metricsSnapshot() {
            let left = await router.cooldownRemaining(deploymentID: d.id)
            rows.append(["model_id": .string(d.id), "model_group": .string(d.group),
                         "api_base": d.apiBase.map(JSONValue.string) ?? .null, "in_flight": .int(d.inFlight),
                         "successes": .int(d.successes), "failures": .int(d.failures), "cooldowns": .int(d.cooldowns),
                         "cooldown_remaining_seconds": left.map(JSONValue.double) ?? .null])
        }
        return rows
    }

    /// Spend per key (hashed token, never the key), highest first, at most `maxRows`.
    static func spend(_ ledger: CostLedger) async -> [JSONValue] {
        let rows = await ledger.keys().sorted { $0.totals.spend > $1.totals.spend
            || ($0.totals.spend == $1.totals.spend && $0.apiKey < $1.apiKey) }
        return rows.prefix(maxRows).map { row in
            let saved = row.totals.saved.values.reduce(USDAmount.zero, +)
            return ["api_key": .string(row.apiKey), "key_alias": row.alias.map(JSONValue.string) ?? .null,
                    "spend": .double(row.totals.spend.dollars), "saved": .double(saved.dollars),
                    "requests": .int(row.totals.requests)]
        }
    }

    /// The newest notifications first, at most `maxRows`; null without alerting.
    static func alerts(_ monitor: AlertMonitor?) async -> JSONValue {
        guard let monitor else { return .null }
        return .array(await monitor.recent.suffix(maxRows).reversed().map { n in
            ["rule": .string(n.rule.rawValue), "subject": .string(n.subject), "status": .string(n.status.rawValue),
             "message": .string(n.message), "time": .double(n.time)]
        })
    }
}
