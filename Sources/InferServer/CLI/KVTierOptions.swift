import ArgumentParser
import Engine
import Foundation
import Gateway
import KVTier
import Redis

/// `--kv-redis`, `--kv-disk` and friends: the KV block tiers behind the local pool, and the admission order.
struct KVTierOptions: ParsableArguments {
    @Option(name: .long, help: "Redis for a KV block tier shared by every instance using it: redis://[user:pass@]host:port/db (config: general_settings.kv_redis).")
    var kvRedis: String?

    @Option(name: .long, help: "Redis Cluster for the KV block tier: startup nodes as host:port,host:port (config: general_settings.kv_redis_startup_nodes; over --kv-redis; password from --kv-redis's URL or REDIS_PASSWORD).")
    var kvRedisStartupNodes: String?

    @Option(name: .long, help: "Seconds a KV block lives in the Redis tier (default: general_settings.kv_redis_ttl or 3600).")
    var kvRedisTtl: Double?

    @Option(name: .long, help: "Directory of a disk KV block tier; a restarted server finds its prefixes there (config: general_settings.kv_disk).")
    var kvDisk: String?

    @Option(name: .long, help: "Size cap of the disk tier in GiB, least recently used blocks go first (default: general_settings.kv_disk_gib or 8).")
    var kvDiskGib: Double?

    @Option(name: .long, help: "Secret that authenticates tier entries (HMAC-SHA256; every instance sharing a tier needs the same; default: general_settings.kv_tier_secret or INFER_KV_TIER_SECRET). Without it entries are checksummed, not authenticated.")
    var kvTierSecret: String?

    @Option(name: .long, help: "Admission order of waiting requests: lpm (longest cached prefix first, with aging) | fcfs (default: general_settings.schedule_policy or lpm).")
    var schedulePolicy: SchedulePolicy?

    @Option(name: .long, help: "Seconds after which a waiting request is admitted in arrival order ahead of better-cached ones.")
    var scheduleAging = EngineOptions().scheduleAging

    func validate() throws {
        if let t = kvRedisTtl, !(t > 0 && t <= 365 * 86_400) { throw ValidationError("--kv-redis-ttl must be in (0, 31536000] seconds") }
        if let g = kvDiskGib, !(g > 0 && g <= 1_048_576) { throw ValidationError("--kv-disk-gib must be in (0, 1048576]") }
        guard scheduleAging >= 0, scheduleAging <= 86_400 else { throw ValidationError("--schedule-aging must be in [0, 86400] seconds") }
        if let s = kvTierSecret, s.isEmpty { throw ValidationError("--kv-tier-secret must not be empty") }
    }

    /// Whether a flag asks for a KV tier (they need a local engine).
    var isSet: Bool { kvRedis != nil || kvRedisStartupNodes != nil || kvDisk != nil || kvDiskGib != nil || kvRedisTtl != nil || kvTierSecret != nil }

    /// Sets the admission order and the tiers (flags over `general_settings`) on `options`. Prints what it
    /// found on disk unless `quiet`.
    func apply(to options: inout EngineOptions, model: LanguageModel, general: GeneralSettings?, quiet: Bool) throws {
        options.schedulePolicy = schedulePolicy ?? general?.schedulePolicy.flatMap(SchedulePolicy.init(rawValue:)) ?? .longestPrefix
        options.scheduleAging = scheduleAging
        let layout = KVBlockLayout(model: model, options: options)
        var stores: [any KVBlockStore] = []
        if let root = kvDisk ?? general?.kvDisk {
            let gib = kvDiskGib ?? general?.kvDiskGiB ?? 8
            let disk: DiskKVBlockStore
            do {
                disk = try DiskKVBlockStore(root: root, layout: layout, capacityBytes: Int(gib * 1_073_741_824))
            } catch {
                throw ValidationError("--kv-disk \(root): \(error.localizedDescription)")
            }
            if !quiet {
                let usage = disk.usage
                Console.error(String(format: "[serve] KV disk tier: %@ (%d blocks, %.1f MiB from earlier runs; cap %.1f GiB)",
                                     disk.directory.path, usage.entries, Double(usage.bytes) / 1_048_576, gib))
            }
            stores.append(disk)
        }
        if let configuration = try redisConfiguration(general: general) {
            var configuration = configuration
            // Blocks are large (a 2k-token prefix is tens of MB): more time per command and more connections
            // than the response caches use.
            configuration.commandTimeout = 2
            configuration.poolSize = 4
            let ttl = kvRedisTtl ?? general?.kvRedisTTL ?? 3600
            stores.append(RedisKVBlockStore(client: RedisClient(configuration: configuration), layout: layout, ttl: ttl))
            if !quiet {
                let cluster = configuration.clusterNodes.isEmpty ? "" : " cluster of \(configuration.clusterNodes.count) startup nodes,"
                Console.error("[serve] KV Redis tier: \(configuration.host):\(configuration.port)\(cluster) (namespace \(layout.namespace), ttl \(Int(ttl)) s)")
            }
        }
        guard !stores.isEmpty else { return }
        let secret = kvTierSecret ?? general?.kvTierSecret ?? ProcessInfo.processInfo.environment["INFER_KV_TIER_SECRET"]
        options.kvTier = KVTier(layout: layout, stores: stores, secret: secret.map { Array($0.utf8) })
    }

    /// The KV tier's Redis: startup nodes (flag, then config) make it a cluster, the URL (flag, then config)
    /// gives the password; nil when neither is set.
    func redisConfiguration(general: GeneralSettings?) throws -> RedisConfiguration? {
        var base: RedisConfiguration?
        if let url = kvRedis ?? general?.kvRedis {
            do {
                base = try RedisConfiguration(url: url)
            } catch {
                throw ValidationError("--kv-redis: \(error)")
            }
        }
        var nodes = general?.kvRedisStartupNodes
        if let text = kvRedisStartupNodes {
            var parsed: [RedisNodeAddress] = []
            for part in text.split(separator: ",") {
                do throws(RedisError) {
                    parsed.append(try RedisNodeAddress(part.trimmingCharacters(in: .whitespaces)))
                } catch {
                    throw ValidationError("--kv-redis-startup-nodes: \(error.message)")
                }
            }
            nodes = parsed
        }
        guard let nodes else { return base }
        var cluster = base ?? RedisConfiguration()
        if base == nil { cluster.password = ProcessInfo.processInfo.environment["REDIS_PASSWORD"] }
        do {
            return try RedisConfiguration.cluster(nodes, base: cluster)
        } catch {
            throw ValidationError("--kv-redis-startup-nodes: \(error.message)")
        }
    }
}

extension SchedulePolicy: ExpressibleByArgument {}
