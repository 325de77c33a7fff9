import Foundation
import Redis

/// A real `redis-server` on a free port for one test (shared by the Gateway and KV tier suites): no persistence, killed by `stop()` (or when the
/// helper is deallocated), restartable on the same port.
public final class TestRedisServer: @unchecked Sendable {
    public let port: Int
    private var process: Process?
    private let lock = NSLock()

    /// Whether the Redis suites run: redis-server is installed, or `make test` requires them
    /// (`INFER_REQUIRE_REDIS=1`, so a machine without it fails them instead of skipping them silently).
    public static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server")
            || ProcessInfo.processInfo.environment["INFER_REQUIRE_REDIS"] == "1"
    }

    public init() async throws {
        port = try Self.freePort()
        try await start()
    }

    deinit { process?.terminate() }

    public var configuration: RedisConfiguration {
        RedisConfiguration(host: "127.0.0.1", port: port, failureThreshold: 2, coolOff: 0.05, maxCoolOff: 0.2)
    }

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server and waits until it answers PING (at most 30 s).
    public func start() async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        p.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                       "--protected-mode", "no"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        lock.withLock { process = p }
        // The readiness probe polls from a GCD thread with plain sockets: when the parallel test run keeps
        // Swift's cooperative pool busy (long synchronous tests), a probe loop on the pool could not run
        // before its deadline even though the server was up in milliseconds.
        let port = self.port
        let up = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async { c.resume(returning: Self.waitForPong(port: port, seconds: 30)) }
        }
        if up { return }
        stop()   // never leave an orphan behind a failed start
        throw RedisError(.connection, "redis-server on port \(port) did not start")
    }

    /// Polls 127.0.0.1:`port` with `PING` until `+PONG` (true) or `seconds` pass (false). Blocking.
    static func waitForPong(port: Int, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            if fd >= 0 {
                defer { close(fd) }
                var timeout = timeval(tv_sec: 1, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                    }
                }
                if connected, send(fd, "PING\r\n", 6, 0) == 6 {
                    var buffer = [UInt8](repeating: 0, count: 16)
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n >= 5, String(decoding: buffer[0..<5], as: UTF8.self) == "+PONG" { return true }
                }
            }
            usleep(50_000)
        }
        return false
    }

    /// Stops the server (SIGKILL: an abrupt failure, as in production) and waits for it to exit.
    public func stop() {
        let p = lock.withLock { () -> Process? in
            defer { process = nil }
            return process
        }
        guard let p else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: a hung Redis that still accepts connections.
    public func freeze(_ frozen: Bool) {
        if let p = lock.withLock({ process }) { kill(p.processIdentifier, frozen ? SIGSTOP : SIGCONT) }
    }

    /// A client for direct inspection (raw GET, TTL, ...).
    public func client() -> RedisClient { RedisClient(configuration: configuration) }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RedisError(.connection, "socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw RedisError(.connection, "bind() failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

