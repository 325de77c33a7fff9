import Engine
import KVTier
import Foundation

/// Prometheus metrics of the server: request counts and latency by route and status, time to first token,
/// tokens in and out. Engine gauges (queue depth, KV blocks, prefix-cache counters) are read from
/// `InferenceEngine.stats()` when scraped.
///
/// NOTE: hand-written text exposition format (version 0.0.4) rather than swift-prometheus: a dozen series,
/// no labels beyond route and status, and one fewer dependency to build.
actor ServerMetrics {
    /// A cumulative histogram with fixed upper bounds.
    struct Histogram {
        let bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: [Double]) {
            self.bounds = bounds
            counts = Array(repeating: 0, count: bounds.count)
        }

        mutating func observe(_ v: Double) {
            for (i, b) in bounds.enumerated() where v <= b { counts[i] += 1 }
            sum += v
            count += 1
        }
    }

    static let latencyBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    private var requests: [String: Int] = [:]            // "route|status" -> count
    private var latency: [String: Histogram] = [:]       // route -> seconds
    private var ttft = Histogram(bounds: latencyBounds)
    private var promptTokens = 0
    private var completionTokens = 0
    private var cachedTokens = 0
    private var writeTimeouts = 0
    private var disconnects = 0
    private var connectionTimeouts = 0

    /// Records one finished HTTP request.
    func request(route: String, status: Int, seconds: Double) {
        requests["\(route)|\(status)", default: 0] += 1
        latency[route, default: Histogram(bounds: Self.latencyBounds)].observe(seconds)
    }

    /// Records a stream closed because its client stopped reading (`--write-timeout`).
    func streamWriteTimedOut() { writeTimeouts += 1 }

    /// Records a request cancelled because its client hung up before anything was written to it.
    func clientDisconnected() { disconnects += 1 }

    /// Records a connection closed by `--read-timeout` or `--idle-timeout`.
    func connectionTimedOut() { connectionTimeouts += 1 }

    /// Records one finished choice.
    func choice(_ usage: ChoiceUsage) {
        promptTokens += usage.promptTokens
        completionTokens += usage.completionTokens
        cachedTokens += usage.cachedTokens
        if let t = usage.timeToFirstToken { ttft.observe(t) }
    }

    /// The exposition text, with the engine's gauges and counters (none in gateway-only mode) and the open
    /// connections.
    func render(engine: EngineStats?, openConnections: Int) -> String {
        var out = PrometheusText()
        out.head("infer_requests_total", "counter", "HTTP requests by route and status.")
        for (key, n) in requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            out.line("infer_requests_total", "route=\"\(parts[0])\",status=\"\(parts[1])\"", Double(n))
        }
        out.head("infer_request_duration_seconds", "histogram", "HTTP request latency by route.")
        for (route, h) in latency.sorted(by: { $0.key < $1.key }) {
            out.histogram("infer_request_duration_seconds", "route=\"\(route)\"", h)
        }
        out.head("infer_time_to_first_token_seconds", "histogram", "Time from submission to the first generated token.")
        out.histogram("infer_time_to_first_token_seconds", "", ttft)
        out.metric("infer_prompt_tokens_total", "counter", "Prompt tokens of finished choices.", Double(promptTokens))
        out.metric("infer_generation_tokens_total", "counter", "Generated tokens of finished choices.",
                   Double(completionTokens))
        out.metric("infer_cached_prompt_tokens_total", "counter", "Prompt tokens served from the prefix cache.",
                   Double(cachedTokens))
        out.metric("infer_stream_write_timeouts_total", "counter",
                   "Streams closed (generation cancelled) because a write did not complete within --write-timeout.",
                   Double(writeTimeouts))
        out.metric("infer_client_disconnects_total", "counter",
                   "Requests cancelled because the client closed the connection before the response started.", Double(disconnects))
        out.metric("infer_connection_timeouts_total", "counter",
                   "Connections closed because a request was not received within --read-timeout or the connection "
                   + "stayed idle past --idle-timeout.", Double(connectionTimeouts))
        out.metric("infer_open_connections", "gauge", "HTTP connections open now.", Double(openConnections))
        guard let engine else { return out.text }

        out.metric("infer_engine_prefill_tokens_total", "counter", "Tokens run through the model as prompt work.",
                   Double(engine.prefillTokens))
        out.metric("infer_engine_decode_tokens_total", "counter", "Tokens decoded by the engine.",
                   Double(engine.decodeTokens))
        out.metric("infer_speculative_draft_tokens_total", "counter",
                   "Tokens drafted by prompt lookup and verified with the decode tokens (speculative decoding).",
                   Double(engine.draftedTokens))
        out.metric("infer_speculative_accepted_tokens_total", "counter",
                   "Drafted tokens the model accepted (each saved one forward pass).", Double(engine.acceptedDraftTokens))
        out.metric("infer_engine_preemptions_total", "counter", "Sequences preempted for lack of KV blocks.",
                   Double(engine.preemptions))
        out.metric("infer_prefix_cache_errors_total", "counter",
                   "Prefix-cache operations that failed on the engine thread (each is logged; a bug to report).",
                   Double(engine.prefixCacheErrors))
        out.metric("infer_queue_depth", "gauge", "Requests waiting for admission.", Double(engine.waiting))
        out.metric("infer_running_sequences", "gauge", "Sequences being prefilled or decoded.", Double(engine.running))
        if let p = engine.prefix {
            out.metric("infer_prefix_cache_query_tokens_total", "counter", "Prompt tokens looked up in the prefix cache.",
                       Double(p.queryTokens))
            out.metric("infer_prefix_cache_hit_tokens_total", "counter", "Prompt tokens found in the prefix cache.",
                       Double(p.hitTokens))
            out.metric("infer_prefix_cache_evictions_total", "counter", "Cached blocks evicted.", Double(p.evictions))
            out.head("infer_kv_blocks", "gauge", "KV blocks by state.")
            out.line("infer_kv_blocks", "state=\"used\"", Double(p.blocksInUse))
            out.line("infer_kv_blocks", "state=\"cached\"", Double(p.blocksCached))
            out.line("infer_kv_blocks", "state=\"free\"", Double(p.blocksFree))
            out.line("infer_kv_blocks", "state=\"total\"", Double(p.blockCount))
        }
        if let t = engine.tier {
            func perTier(_ name: String, _ help: String, _ value: (KVTierCounters) -> Int) {
                out.head(name, "counter", help)
                for tier in t.order { out.line(name, "tier=\"\(tier)\"", Double(value(t.tiers[tier] ?? KVTierCounters()))) }
            }
            out.head("infer_kv_tier_hit_tokens_total", "counter", "Prompt tokens whose KV was loaded from a tier.")
            for tier in t.order { out.line("infer_kv_tier_hit_tokens_total", "tier=\"\(tier)\"", Double(engine.tierHitTokens[tier] ?? 0)) }
            perTier("infer_kv_tier_reads_total", "KV blocks asked of a tier at admission.", \.reads)
            perTier("infer_kv_tier_hits_total", "KV blocks found in a tier and verified.", \.hits)
            perTier("infer_kv_tier_rejected_total", "KV tier entries refused by verification (corrupt, forged, foreign).", \.rejected)
            perTier("infer_kv_tier_errors_total", "KV tier reads that failed (the request went on without the tier).", \.errors)
            perTier("infer_kv_tier_writes_total", "KV blocks written to a tier.", \.writes)
            perTier("infer_kv_tier_write_errors_total", "KV block writes that failed.", \.writeErrors)
            out.metric("infer_kv_tier_writes_dropped_total", "counter", "KV blocks not written because the tier write queue was full.",
                       Double(t.writesDropped))
            out.metric("infer_kv_tier_pending_writes", "gauge", "KV blocks waiting in the tier write queue.", Double(t.pendingWrites))
        }
        return out.text
    }
}
