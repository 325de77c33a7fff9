import Gateway

/// Prometheus text for the router and the response caches, under LiteLLM's metric names where the meaning
/// matches (so existing dashboards work): per-deployment successes, failures, cooldowns, fallbacks and
/// latency; cache hits and misses; spend and savings per layer, per key and model group, at `model_info` prices.
enum GatewayMetricsText {
    static func render(_ pipeline: GatewayPipeline, virtualKeys: [VirtualKeyConfig]) async -> String {
        var out = PrometheusText()
        let escaped = PrometheusText.escaped
        let deployments = await pipeline.router.metricsSnapshot()
        let series: [(String, String, String, (DeploymentMetrics) -> Double)] = [
            ("litellm_deployment_success_responses", "counter", "Successful calls per deployment.", { Double($0.successes) }),
            ("litellm_deployment_failure_responses", "counter", "Failed calls per deployment.", { Double($0.failures) }),
            ("litellm_deployment_cooled_down", "counter", "Times a deployment entered a cooldown.", { Double($0.cooldowns) }),
            ("litellm_deployment_fallbacks", "counter", "Failures here that made a request fall back.", { Double($0.fallbacks) }),
            ("litellm_deployment_in_flight", "gauge", "Calls running on a deployment.", { Double($0.inFlight) }),
            ("litellm_deployment_latency_seconds_sum", "counter", "Seconds of successful calls.", { $0.latencySum }),
            ("litellm_deployment_latency_seconds_count", "counter", "Successful calls timed.", { Double($0.latencyCount) }),
        ]
        for (name, type, help, value) in series {
            out.head(name, type, help)
            for d in deployments {
                let labels = "model_id=\"\(escaped(d.id))\",model_group=\"\(escaped(d.group))\",api_base=\"\(escaped(d.apiBase ?? "local"))\""
                out.line(name, labels, value(d))
            }
        }
        let cascades = pipeline.cascades.snapshot()
        if !pipeline.cascades.cascades.isEmpty {
            out.head("infer_cascade_answers_total", "counter", "Answers per cascade and the tier that gave them.")
            for cascade in pipeline.cascades.cascades.values.sorted(by: { $0.name < $1.name }) {
                for tier in cascade.tiers {
                    out.line("infer_cascade_answers_total", "cascade=\"\(escaped(cascade.name))\",tier=\"\(escaped(tier))\"",
                             Double(cascades[cascade.name]?[tier] ?? 0))
                }
            }
        }
        if pipeline.router.settings.routingStrategy == .prefixAware {
            out.head("infer_router_prefix_routed_total", "counter",
                     "prefix-aware decisions per deployment: prefix (longest match), spread (new prefix), balance (load).")
            for d in deployments {
                for reason in ["prefix", "spread", "balance"] {
                    out.line("infer_router_prefix_routed_total", "model_id=\"\(escaped(d.id))\",reason=\"\(reason)\"",
                             Double(d.prefixRouted[reason] ?? 0))
                }
            }
            out.head("infer_router_prefix_tree_bytes", "gauge", "Size of the gateway's prefix tree per deployment.")
            for d in deployments {
                out.line("infer_router_prefix_tree_bytes", "model_id=\"\(escaped(d.id))\"", Double(d.prefixTreeBytes))
            }
        }
        if let cache = pipeline.cache {
            let stats = await cache.stats()
            func number(_ key: String) -> Double {
                switch stats[key] {
                case .int(let i)?: Double(i)
                case .double(let d)?: d
                default: 0
                }
            }
            out.metric("litellm_cache_hits_metric", "counter", "Exact response-cache hits.", number("hits"))
            out.metric("litellm_cache_semantic_hits_metric", "counter", "Semantic response-cache hits.",
                       number("semantic_hits"))
            out.metric("litellm_cache_misses_metric", "counter", "Response-cache misses.", number("misses"))
            out.metric("infer_cache_bypasses_total", "counter",
                       "Requests that skipped the cache (controls or a dead backend).", number("bypasses"))
        }
        let keys = await pipeline.ledger.keys(), groups = await pipeline.ledger.groups()
        out.head("litellm_spend_metric_total", "counter", "Spend in USD at model_info prices, per key and model group.")
        for (group, totals) in groups {
            out.line("litellm_spend_metric_total", "model=\"\(escaped(group))\"", totals.spend.dollars)
        }
        out.head("litellm_key_spend_metric_total", "counter", "Spend in USD at model_info prices, per key.")
        for (key, alias, totals) in keys {
            out.line("litellm_key_spend_metric_total",
                     "hashed_api_key=\"\(escaped(key))\",api_key_alias=\"\(escaped(alias ?? ""))\"", totals.spend.dollars)
        }
        if let up = await pipeline.alerts?.redisUp {
            out.metric("infer_redis_up", "gauge", "Whether Redis answered PING at the last alert evaluation.", up ? 1 : 0)
        }
        out.head("litellm_remaining_api_key_budget_metric", "gauge",
                 "USD a key may still spend in its budget window (keys with max_budget).")
        for key in virtualKeys where key.maxBudget != nil {
            let spent = await pipeline.spend.spend(key)
            out.line("litellm_remaining_api_key_budget_metric", "hashed_api_key=\"\(APIKeyStore.hashedToken(key.key))\","
                     + "api_key_alias=\"\(escaped(key.alias ?? ""))\"",
                     (key.maxBudget ?? .zero).dollars - spent.dollars)
        }
        out.head("infer_cost_saved_usd_total", "counter",
                 "USD saved per layer (exact_hit, semantic_hit, prefix_cache, local_instead_of_fallback, cascade_lower_tier) and model group.")
        for (group, totals) in groups {
            for layer in SavingsLayer.allCases {
                out.line("infer_cost_saved_usd_total", "model_group=\"\(escaped(group))\",layer=\"\(layer.rawValue)\"",
                         totals.saved[layer]?.dollars ?? 0)
            }
        }
        out.head("infer_key_cost_saved_usd_total", "counter", "USD saved per layer and key.")
        for (key, alias, totals) in keys {
            for layer in SavingsLayer.allCases {
                out.line("infer_key_cost_saved_usd_total", "hashed_api_key=\"\(escaped(key))\",api_key_alias=\""
                         + "\(escaped(alias ?? ""))\",layer=\"\(layer.rawValue)\"", totals.saved[layer]?.dollars ?? 0)
            }
        }
        return out.text
    }
}
