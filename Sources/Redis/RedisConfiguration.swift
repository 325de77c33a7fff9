import Foundation

/// Where and how to connect to Redis, plus the client's timeouts, pool size and circuit-breaker tuning.
///
/// Built from a `redis://[user:pass@]host:port/db` URL, from `REDIS_URL` or `REDIS_HOST` / `REDIS_PORT` /
/// `REDIS_PASSWORD` (+ `REDIS_USERNAME`, `REDIS_DB`) in the environment, or field by field.
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// ACL user name (Redis 6+); nil sends `AUTH password` alone.
    public var username: String?
    public var password: String?
    /// Database index (`SELECT n`), 0 by default.
    public var database: Int
    /// Seconds allowed for the TCP connect (default 200 ms).
    public var connectTimeout: Double
    /// Seconds allowed for one command's write + read (default 500 ms).
    public var commandTimeout: Double
    /// Connections in the pool; each has its own serial dispatch queue (default 2).
    public var poolSize: Int
    /// Consecutive connection failures that open the circuit breaker (default 3).
    public var failureThreshold: Int
    /// First cool-off after the breaker opens, in seconds; doubles on each failed probe (default 0.5 s).
    public var coolOff: Double
    /// Upper bound of the cool-off, in seconds (default 10 s).
    public var maxCoolOff: Double
    /// Commands allowed to wait on one connection before calls fail fast with `.unavailable` (default 256).
    public var maxPendingPerConnection: Int
    /// Redis Cluster startup nodes (LiteLLM's `redis_startup_nodes`); empty = one server at `host:port`. When
    /// set, `host` / `port` are the first startup node's, and the other settings apply to every master.
    public var clusterNodes: [RedisNodeAddress] = []

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
        database: Int = 0, connectTimeout: Double = 0.2, commandTimeout: Double = 0.5, poolSize: Int = 2,
        failureThreshold: Int = 3, coolOff: Double = 0.5, maxCoolOff: Double = 10,
        maxPendingPerConnection: Int = 256
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.poolSize = max(1, poolSize)
        self.failureThreshold = max(1, failureThreshold)
        self.coolOff = coolOff
        self.maxCoolOff = max(coolOff, maxCoolOff)
        self.maxPendingPerConnection = max(1, maxPendingPerConnection)
    }

    /// A cluster configuration: `nodes` validated (`RedisNodeAddress.validateStartupNodes`), `host` / `port`
    /// set to the first one; every other field as `base`.
    public static func cluster(_ nodes: [RedisNodeAddress], base: RedisConfiguration = RedisConfiguration())
        throws(RedisError) -> RedisConfiguration {
        try RedisNodeAddress.validateStartupNodes(nodes)
        guard base.database == 0 else {
            throw RedisError(.configuration, "a Redis Cluster has only database 0, got database \(base.database)")
        }
        var c = base
        c.clusterNodes = nodes
        c.host = nodes[0].host
        c.port = nodes[0].port
        return c
    }

    /// Parses `redis://[[user]:pass@]host[:port][/db]`. `rediss://` (TLS) and `unix://` are rejected:
    /// Debian's hiredis 0.14 is built without TLS.
    public init(url: String) throws(RedisError) {
        self.init()
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw RedisError(.configuration, "invalid redis URL")
        }
        guard scheme == "redis" else {
            throw RedisError(.configuration, "unsupported redis URL scheme '\(scheme)' (only redis:// is supported)")
        }
        if let host = components.host, !host.isEmpty { self.host = host }
        if let port = components.port { self.port = port }
        if let user = components.user?.removingPercentEncoding, !user.isEmpty { username = user }
        if let pass = components.password?.removingPercentEncoding, !pass.isEmpty { password = pass }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else {
                throw RedisError(.configuration, "invalid database '\(path)' in redis URL")
            }
            database = db
        }
    }

    /// Reads `REDIS_URL`, else `REDIS_HOST` (+ `REDIS_PORT`, `REDIS_PASSWORD`, `REDIS_USERNAME`, `REDIS_DB`).
    /// Returns nil when neither `REDIS_URL` nor `REDIS_HOST` is set.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisError) -> RedisConfiguration? {
        if let url = environment["REDIS_URL"], !url.isEmpty {
            return try RedisConfiguration(url: url)
        }
        guard let host = environment["REDIS_HOST"], !host.isEmpty else { return nil }
        var config = RedisConfiguration(host: host)
        if let port = environment["REDIS_PORT"], !port.isEmpty {
            guard let p = Int(port), (1...65535).contains(p) else {
                throw RedisError(.configuration, "REDIS_PORT must be a port number, got '\(port)'")
            }
            config.port = p
        }
        if let pass = environment["REDIS_PASSWORD"], !pass.isEmpty { config.password = pass }
        if let user = environment["REDIS_USERNAME"], !user.isEmpty { config.username = user }
        if let db = environment["REDIS_DB"], !db.isEmpty {
            guard let d = Int(db), d >= 0 else {
                throw RedisError(.configuration, "REDIS_DB must be a non-negative integer, got '\(db)'")
            }
            config.database = d
        }
        return config
    }
}
