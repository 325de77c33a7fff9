/// The alert rules (issue 21's seeds), each with its default threshold in `AlertThresholds`.
public enum AlertRule: String, Sendable, CaseIterable {
    /// Failed requests / requests over the window, above `errorRate` (default 10 %).
    case errorRate = "error_rate"
    /// The 95th percentile of request latency over the window, above `p95LatencySeconds` (default 5 s).
    case p95Latency = "p95_latency"
    /// Response-cache hits / lookups over the window, below `cacheHitRate` (default 50 %).
    case cacheHitRate = "cache_hit_rate"
    /// Spend per second over the window, above `costSpikeFactor` times the trailing hour's.
    case costSpike = "cost_spike"
    /// A deployment is cooling down (one alert per deployment).
    case deploymentCooledDown = "deployment_cooled_down"
    /// Redis (cache, cooldowns, spend) does not answer.
    case redisDown = "redis_down"
    /// A key's spend crossed its `soft_budget` or `max_budget` (one alert per key and budget).
    case budgetCrossed = "budget_crossed"
}

/// Thresholds and windows of the alert rules (`general_settings.alerting_args`).
public struct AlertThresholds: Sendable, Equatable {
    public var errorRate = 0.10
    public var p95LatencySeconds = 5.0
    public var cacheHitRate = 0.50
    public var costSpikeFactor = 3.0
    /// The sliding window the rates are computed over, in seconds.
    public var windowSeconds = 300.0
    /// Fewer requests (or lookups) than this in the window decide nothing (no alert on 1 failure of 2).
    public var minSamples = 10
    /// A firing alert is sent again after this many seconds while it lasts.
    public var repeatIntervalSeconds = 3_600.0

    public init() {}
}
