/// Latency samples per deployment for `latency-based-routing`, shared by every gateway instance that uses the
/// same store (LiteLLM's lowest-latency routing keeps them in its cache, Redis when configured).
///
/// Contract: `record` never throws and never blocks a request for long (a dead backend is skipped);
/// `averages` returns nil when the store cannot answer, and the router then uses its own instance's numbers.
public protocol LatencyStore: Sendable {
    /// A successful call's latency (total for non-streaming, time to first chunk for streams).
    func record(deploymentID: String, seconds: Double) async
    /// Mean of the kept samples per deployment (absent: no sample); nil when the store is unavailable.
    func averages(_ deploymentIDs: [String]) async -> [String: Double]?
}
