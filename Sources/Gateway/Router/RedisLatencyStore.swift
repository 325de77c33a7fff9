import Foundation
import Logging
import NumericCore
import Redis

/// Latency samples in Redis, so every gateway instance's `latency-based-routing` sees the same numbers.
///
/// Keys: `<prefix>:latency:<deployment id>` is a list of the newest `samples` latencies in milliseconds
/// (LPUSH + LTRIM + PEXPIRE in one EVAL on that one key, so it is atomic and stays on one cluster slot),
/// expiring `ttl` seconds after the last sample (LiteLLM keeps 10 samples for an hour).
///
/// NOTE: what Redis returns is not trusted: at most `samples` entries are read per key, and an entry that is
/// not a finite number in [0, 1 hour] is ignored, so a foreign or corrupted list cannot pin or skew routing
/// beyond the entries it holds. A Redis failure makes `averages` nil (the router uses its local numbers).
public final class RedisLatencyStore: LatencyStore {
    private let redis: RedisClient
    private let prefix: String
    private let samples: Int
    private let ttl: Double
    private let logger: Logger

    static let recordScript = """
        redis.call('LPUSH', KEYS[1], ARGV[1])
        redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """

    /// Largest latency accepted from Redis, in milliseconds (one hour).
    static let maxMilliseconds = 3_600_000.0

    public init(redis: RedisClient, prefix: String = "infer", samples: Int = 10, ttl: Double = 3600,
                logger: Logger = Logger(label: "gateway.latency")) {
        precondition(samples > 0 && ttl > 0)
        self.redis = redis
        self.prefix = prefix
        self.samples = samples
        self.ttl = ttl
        self.logger = logger
    }

    func key(_ id: String) -> String { "\(prefix):latency:\(id)" }

    public func record(deploymentID: String, seconds: Double) async {
        guard seconds.isFinite, seconds >= 0 else { return }
        let ms = String(format: "%.3f", min(seconds * 1000, Self.maxMilliseconds))
        do {
            _ = try await redis.command(["EVAL", Self.recordScript, "1", key(deploymentID), ms, String(samples),
                                         String(CheckedConversion.milliseconds(ttl))])
        } catch {
            logger.debug("latency store: redis unavailable", metadata: ["error": "\(error)"])
        }
    }

    public func averages(_ deploymentIDs: [String]) async -> [String: Double]? {
        var out: [String: Double] = [:]
        do {
            for id in deploymentIDs {
                let reply = try await redis.command(["LRANGE", key(id), "0", String(samples - 1)])
                guard case .array(let items) = reply else { continue }
                let values = items.prefix(samples).compactMap { item -> Double? in
                    guard let text = item.string, text.utf8.count <= 32, let v = Double(text), v.isFinite,
                          v >= 0, v <= Self.maxMilliseconds else { return nil }
                    return v / 1000
                }
                if !values.isEmpty { out[id] = values.reduce(0, +) / Double(values.count) }
            }
        } catch {
            logger.debug("latency store: redis unavailable", metadata: ["error": "\(error)"])
            return nil
        }
        return out
    }
}
