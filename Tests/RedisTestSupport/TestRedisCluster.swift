import Foundation
import Redis

/// A real Redis Cluster of `masters` masters (no replicas) on free loopback ports, for one test: each node a
/// `redis-server --cluster-enabled yes` (no persistence, `cluster-require-full-coverage no` so a dead master
/// stops only its own slots), joined with `redis-cli --cluster create`, ready once every node reports
/// `cluster_state:ok`. Nodes can be killed and restarted (they rejoin from their nodes.conf). Everything is
/// stopped and the directory removed by `stop()` or on deinit.
public final class TestRedisCluster: @unchecked Sendable {
    public let ports: [Int]
    private let busPorts: [Int]
    public let directory: URL
    private var processes: [Int: Process] = [:]
    private let lock = NSLock()

    public init(masters: Int = 3) async throws {
        var ports: [Int] = [], bus: [Int] = []
        while ports.count < masters * 2 {
            let p = try TestRedisServer.freePort()
            if !ports.contains(p) { ports.append(p) }
        }
        bus = Array(ports[masters...])
        self.ports = Array(ports[..<masters])
        self.busPorts = bus
        directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("infer-redis-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            for i in 0..<masters { try await start(i) }
            let create = try Self.run("/usr/bin/redis-cli",
                                      ["--cluster", "create"] + self.ports.map { "127.0.0.1:\($0)" }
                                          + ["--cluster-replicas", "0", "--cluster-yes"])
            guard create.status == 0 else { throw RedisError(.connection, "redis-cli --cluster create failed: \(create.output)") }
            try await waitUntilHealthy()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// A cluster client configuration naming only the first node as startup node (the others are discovered),
    /// with a fast breaker for tests.
    public var configuration: RedisConfiguration {
        let base = RedisConfiguration(failureThreshold: 2, coolOff: 0.05, maxCoolOff: 0.2)
        // The startup node is valid by construction.
        return try! RedisConfiguration.cluster([try! RedisNodeAddress(host: "127.0.0.1", port: ports[0])], base: base)
    }

    /// A plain (non-cluster) client of node `i`, for inspection (`CLUSTER ...`, `DBSIZE`, raw reads).
    public func nodeClient(_ i: Int) -> RedisClient {
        RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: ports[i], failureThreshold: 2,
                                                      coolOff: 0.05, maxCoolOff: 0.2))
    }

    /// Starts node `i` (again) and waits until it answers PING.
    public func start(_ i: Int) async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        p.currentDirectoryURL = directory
        p.arguments = ["--port", String(ports[i]), "--cluster-port", String(busPorts[i]), "--bind", "127.0.0.1",
                       "--cluster-enabled", "yes", "--cluster-config-file", "nodes-\(ports[i]).conf",
                       "--cluster-require-full-coverage", "no", "--cluster-node-timeout", "2000",
                       "--dir", directory.path, "--save", "", "--appendonly", "no", "--protected-mode", "no"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        lock.withLock { processes[i] = p }
        let port = ports[i]
        let up = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async { c.resume(returning: TestRedisServer.waitForPong(port: port, seconds: 30)) }
        }
        guard up else { throw RedisError(.connection, "cluster node on port \(port) did not start") }
    }

    /// Kills node `i` (SIGKILL: an abrupt failure) and waits for it to exit.
    public func kill(_ i: Int) {
        let p = lock.withLock { processes.removeValue(forKey: i) }
        guard let p else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Stops every node and removes the directory.
    public func stop() {
        for i in ports.indices { kill(i) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Waits (at most 30 s) until every running node reports `cluster_state:ok`.
    public func waitUntilHealthy() async throws {
        let running = lock.withLock { Array(processes.keys) }
        for i in running {
            let client = nodeClient(i)
            var ok = false
            for _ in 0..<300 {
                if let info = try? await client.command(["CLUSTER", "INFO"]).string, info.contains("cluster_state:ok") {
                    ok = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            await client.close()
            guard ok else { throw RedisError(.connection, "cluster node \(ports[i]) never reported cluster_state:ok") }
        }
    }

    /// Node `i`'s cluster id (`CLUSTER MYID`).
    public func nodeID(_ i: Int) async throws -> String {
        let client = nodeClient(i)
        defer { Task { await client.close() } }
        guard let id = try await client.command(["CLUSTER", "MYID"]).string else {
            throw RedisError(.unexpectedReply, "CLUSTER MYID")
        }
        return id
    }

    /// The index of the node serving `slot`, asked of node `asking` (`CLUSTER SLOTS`).
    public func owner(ofSlot slot: Int, asking: Int = 0) async throws -> Int? {
        let client = nodeClient(asking)
        defer { Task { await client.close() } }
        guard case .array(let ranges) = try await client.command(["CLUSTER", "SLOTS"]) else { return nil }
        for case .array(let fields) in ranges {
            guard fields.count >= 3, case .int(let start) = fields[0], case .int(let end) = fields[1],
                  case .array(let master) = fields[2], master.count >= 2, case .int(let port) = master[1] else { continue }
            if (start...end).contains(slot) { return ports.firstIndex(of: port) }
        }
        return nil
    }

    /// Runs a program and returns its exit status and combined output.
    public static func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
