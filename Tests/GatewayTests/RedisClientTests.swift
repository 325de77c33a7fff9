import Foundation
import Gateway
import Redis
import RedisTestSupport
import Testing

@Suite("Redis client", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct RedisClientTests {
    @Test func binarySafeRoundTripAndHelpers() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let client = server.client()
        #expect(try await client.ping())
        let bytes: [UInt8] = [0, 1, 2, 255, 13, 10, 0]
        try await client.set("bin", bytes)
        #expect(try await client.get("bin") == bytes)
        #expect(try await client.get("missing") == nil)
        try await client.hset("h", [("a", [0, 1]), ("b", Array("x".utf8))])
        #expect(try await client.hgetall("h") == ["a": [0, 1], "b": Array("x".utf8)])
        for i in 0..<30 { try await client.set("scan:\(i)", [1]) }
        #expect(Set(try await client.scan(match: "scan:*", count: 7)).count == 30)
        #expect(try await client.unlink(["bin", "h", "nope"]) == 2)
        if case .error = try await client.command(["NOSUCHCOMMAND"]) {} else { Issue.record("expected an error reply") }
        try await client.set("ttl", [1], ttl: 100)
        #expect((try await client.command(["PTTL", "ttl"]).int ?? 0) > 90_000)
    }

    @Test func authAndSelect() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let admin = server.client()
        _ = try await admin.command(["CONFIG", "SET", "requirepass", "s3cret"])
        var config = server.configuration
        config.password = "s3cret"
        config.database = 3
        let client = RedisClient(configuration: config)
        try await client.set("in-db-3", Array("v".utf8))
        var db0 = config
        db0.database = 0
        #expect(try await RedisClient(configuration: db0).get("in-db-3") == nil)
        #expect(try await RedisClient(configuration: config).get("in-db-3") == Array("v".utf8))
        config.password = "wrong"
        await #expect(throws: RedisError.self) { try await RedisClient(configuration: config).ping() }
    }

    @Test func circuitBreakerFailsFastThenRecovers() async throws {
        let server = try await TestRedisServer()
        let client = server.client()
        #expect(try await client.ping())
        server.stop()
        var codes: [RedisError.Code] = []
        for _ in 0..<5 {
            do { _ = try await client.ping() } catch { codes.append(error.code) }
        }
        #expect(codes.count == 5 && codes.last == .unavailable && client.isCircuitOpen)
        let start = ContinuousClock.now
        for _ in 0..<100 { _ = try? await client.ping() }
        #expect(ContinuousClock.now - start < .milliseconds(200))
        try await server.start()
        let deadline = ContinuousClock.now + .seconds(5)
        var recovered = false
        while ContinuousClock.now < deadline, !recovered {
            recovered = (try? await client.ping()) == true
            if !recovered { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(recovered && !client.isCircuitOpen)
        server.stop()
    }

    @Test func subscriberDeliversMessages() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let subscriber = RedisSubscriber(configuration: server.configuration, channels: ["chan"])
        var iterator = subscriber.events.makeAsyncIterator()
        #expect(await iterator.next() == .subscribed)
        #expect(try await server.client().publish("chan", [0, 42]) == 1)
        #expect(await iterator.next() == .message(channel: "chan", payload: [0, 42]))
        subscriber.stop()
        #expect(await iterator.next() == nil)
    }

    @Test func configurationFromURLAndEnvironment() throws {
        let c = try RedisConfiguration(url: "redis://user:p%40ss@cache.local:6380/2")
        #expect(c.host == "cache.local" && c.port == 6380 && c.username == "user" && c.password == "p@ss" && c.database == 2)
        let d = try RedisConfiguration(url: "redis://:pw@10.0.0.1")
        #expect(d.host == "10.0.0.1" && d.port == 6379 && d.username == nil && d.password == "pw" && d.database == 0)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "rediss://x:1") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://x:1/abc") }
        let env = try RedisConfiguration.fromEnvironment(["REDIS_HOST": "h", "REDIS_PORT": "7000", "REDIS_PASSWORD": "pw"])
        #expect(env?.host == "h" && env?.port == 7000 && env?.password == "pw")
        #expect(try RedisConfiguration.fromEnvironment(["REDIS_URL": "redis://u:1/4"])?.database == 4)
        #expect(try RedisConfiguration.fromEnvironment([:]) == nil)
        #expect(throws: RedisError.self) { try RedisConfiguration.fromEnvironment(["REDIS_HOST": "h", "REDIS_PORT": "x"]) }
    }
}
