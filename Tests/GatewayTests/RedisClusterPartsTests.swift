import Foundation
import Gateway
@testable import Redis
import Testing

/// The pure parts of the Redis Cluster client: key slots, redirects, the slot map's validation, the address
/// policy, command routing, startup-node validation and the config keys.
@Suite("Redis cluster parts")
struct RedisClusterPartsTests {
    @Test func crc16MatchesTheClusterSpecsCheckValue() {
        #expect(RedisKeySlot.crc16(Array("123456789".utf8)) == 0x31C3)
    }

    /// Expected slots computed with a real `redis-cli -p P cluster keyslot KEY` (Redis 7.0.15).
    @Test func keySlotsMatchRedis() {
        let reference: [(String, Int)] = [
            ("123456789", 12739), ("foo", 12182), ("bar", 5061), ("{user1000}.following", 3443),
            ("{user1000}.followers", 3443), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015), ("foo{bar}{zap}", 5061),
            ("infer:kv:abc:00ff", 13241), ("{}", 15257), ("a{b", 13340),
        ]
        for (key, slot) in reference { #expect(RedisKeySlot.slot(key) == slot, "\(key)") }
    }

    @Test func redirectsAreParsedAndGarbageIsNot() throws {
        let node = try RedisNodeAddress(host: "127.0.0.1", port: 7000)
        #expect(RedisRedirect(error: "MOVED 3999 127.0.0.1:7002", answeredBy: node)
            == .moved(slot: 3999, to: try RedisNodeAddress(host: "127.0.0.1", port: 7002)))
        #expect(RedisRedirect(error: "ASK 1 10.0.0.5:6380", answeredBy: node)
            == .ask(slot: 1, to: try RedisNodeAddress(host: "10.0.0.5", port: 6380)))
        // Redis 7 with an unknown endpoint: the host of the node that answered.
        #expect(RedisRedirect(error: "MOVED 5 :7001", answeredBy: node)?.target == (try RedisNodeAddress(host: "127.0.0.1", port: 7001)))
        for garbage in ["MOVED 16384 127.0.0.1:7000", "MOVED -1 127.0.0.1:7000", "MOVED 1 127.0.0.1", "MOVED 1 127.0.0.1:0",
                        "MOVED 1 127.0.0.1:70000", "MOVED 1", "MOVED x 127.0.0.1:1", "WRONGTYPE Operation against a key",
                        "MOVED 1 bad host:1 extra", "MOVED 1 ho\u{0}st:7000"] {
            #expect(RedisRedirect(error: garbage, answeredBy: node) == nil, "\(garbage)")
        }
    }

    static func range(_ start: Int, _ end: Int, _ host: String, _ port: Int) -> RedisReply {
        .array([.int(start), .int(end), .array([.bulk(Array(host.utf8)), .int(port), .bulk(Array("id".utf8))])])
    }

    @Test func slotMapIsBuiltFromClusterSlots() throws {
        let queried = try RedisNodeAddress(host: "127.0.0.1", port: 7000)
        let policy = ClusterAddressPolicy(startupNodes: [queried])
        let reply = RedisReply.array([Self.range(0, 5460, "127.0.0.1", 7000), Self.range(5461, 10922, "", 7001),
                                      Self.range(10923, 16383, "127.0.0.1", 7002)])
        let map = try ClusterSlotMap.parse(clusterSlots: reply, queried: queried, policy: policy)
        #expect(map.masters.map(\.port) == [7000, 7001, 7002])
        #expect(map.node(forSlot: 0)?.port == 7000 && map.node(forSlot: 5461)?.port == 7001)
        #expect(map.node(forSlot: 16383)?.port == 7002 && map.coveredSlots == 16384)
        #expect(map.node(forSlot: 6000)?.host == "127.0.0.1", "an empty host is the queried node's")
        var moved = map
        moved.assign(slot: 0, to: try RedisNodeAddress(host: "127.0.0.1", port: 7002))
        #expect(moved.node(forSlot: 0)?.port == 7002 && moved.masters.count == 3)
        let partial = try ClusterSlotMap.parse(clusterSlots: .array([Self.range(0, 99, "127.0.0.1", 7000)]),
                                               queried: queried, policy: policy)
        #expect(partial.node(forSlot: 100) == nil && partial.coveredSlots == 100)
    }

    @Test func slotMapRefusesGarbage() throws {
        let queried = try RedisNodeAddress(host: "127.0.0.1", port: 7000)
        let policy = ClusterAddressPolicy(startupNodes: [queried])
        let cases: [(RedisReply, String)] = [
            (.bulk(Array("x".utf8)), "expected an array"),
            (.array([]), "no slot is assigned"),
            (.array([Self.range(0, 16384, "127.0.0.1", 7000)]), "outside 0-16383"),
            (.array([Self.range(-1, 5, "127.0.0.1", 7000)]), "outside 0-16383"),
            (.array([Self.range(10, 5, "127.0.0.1", 7000)]), "outside 0-16383"),
            (.array([Self.range(0, 5, "127.0.0.1", 0)]), "port must be 1-65535"),
            (.array([Self.range(0, 5, "127.0.0.1", 65536)]), "port must be 1-65535"),
            (.array([Self.range(0, 5, "evil host", 7000)]), "invalid redis host"),
            (.array([Self.range(0, 5, "10.9.9.9", 7000)]), "not on the startup nodes' network"),
            (.array([.array([.int(0), .int(5)])]), "not [start, end, master"),
            (.array([.array([.int(0), .int(5), .array([.int(1)])])]), "no [host, port] master"),
        ]
        for (reply, message) in cases {
            do {
                _ = try ClusterSlotMap.parse(clusterSlots: reply, queried: queried, policy: policy)
                Issue.record("accepted \(reply)")
            } catch {
                #expect(error.code == .unexpectedReply && error.message.contains(message), "\(error)")
            }
        }
        #expect(throws: RedisError.self) {
            try ClusterSlotMap.parse(clusterSlots: .error("ERR This instance has cluster support disabled"), queried: queried, policy: policy)
        }
    }

    @Test func addressPolicyAllowsOnlyTheStartupNodesNetwork() throws {
        let loopback = ClusterAddressPolicy(startupNodes: [try RedisNodeAddress(host: "localhost", port: 7000)])
        #expect(loopback.allows(try RedisNodeAddress(host: "127.0.0.1", port: 7005)))
        #expect(loopback.allows(try RedisNodeAddress(host: "127.0.200.3", port: 7005)))
        #expect(!loopback.allows(try RedisNodeAddress(host: "127.1.0.1", port: 7005)))
        #expect(!loopback.allows(try RedisNodeAddress(host: "10.0.0.1", port: 7005)))
        #expect(!loopback.allows(try RedisNodeAddress(host: "attacker.example", port: 7005)))
        let named = ClusterAddressPolicy(startupNodes: [try RedisNodeAddress(host: "redis-a.internal", port: 6379),
                                                        try RedisNodeAddress(host: "10.1.2.3", port: 6379)])
        #expect(named.allows(try RedisNodeAddress(host: "REDIS-A.internal", port: 6380)))
        #expect(named.allows(try RedisNodeAddress(host: "10.1.77.8", port: 6379)))
        #expect(!named.allows(try RedisNodeAddress(host: "10.2.0.1", port: 6379)))
        #expect(!named.allows(try RedisNodeAddress(host: "redis-b.internal", port: 6379)))
        #expect(ClusterAddressPolicy.ipv4("1.2.3") == nil && ClusterAddressPolicy.ipv4("1.2.3.256") == nil)
    }

    @Test func commandsAreRoutedByTheirKeys() throws {
        func routing(_ args: [String]) throws(RedisError) -> RedisCommandKeys.Routing {
            try RedisCommandKeys.routing(args.map { Array($0.utf8) })
        }
        #expect(try routing(["GET", "foo"]) == .slot(12182))
        #expect(try routing(["SET", "bar", "1", "PX", "5"]) == .slot(5061))
        #expect(try routing(["PING"]) == .anyNode && (try routing(["PUBLISH", "ch", "m"])) == .anyNode)
        #expect(try routing(["EVAL", "return 1", "0"]) == .anyNode)
        #expect(try routing(["EVAL", "s", "2", "{t}a", "{t}b", "arg"]) == .slot(RedisKeySlot.slot("t")))
        #expect(try routing(["DEL", "{user1000}.following", "{user1000}.followers"]) == .slot(3443))
        #expect(try routing(["MSET", "{a}1", "x", "{a}2", "y"]) == .slot(RedisKeySlot.slot("a")))
        for crossing in [["DEL", "foo", "bar"], ["EVAL", "s", "2", "foo", "bar"], ["MGET", "foo", "bar"]] {
            let error = #expect(throws: RedisError.self) { try routing(crossing) }
            #expect(error?.message.contains("CROSSSLOT") == true)
        }
        for refused in [["SCAN", "0"], ["KEYS", "*"], ["FLUSHALL"], ["EVAL", "s", "5", "a"], ["EVAL", "s", "-1"]] {
            #expect(throws: RedisError.self) { try routing(refused) }
        }
    }

    @Test func startupNodesAreValidated() throws {
        #expect(throws: RedisError.self) { try RedisNodeAddress(host: "", port: 1) }
        #expect(throws: RedisError.self) { try RedisNodeAddress(host: "a b", port: 1) }
        #expect(throws: RedisError.self) { try RedisNodeAddress(host: "h", port: 0) }
        #expect(throws: RedisError.self) { try RedisNodeAddress(host: "h", port: 65536) }
        #expect(throws: RedisError.self) { try RedisNodeAddress(host: String(repeating: "a", count: 256), port: 1) }
        #expect(try RedisNodeAddress("::1:7000") == RedisNodeAddress(host: "::1", port: 7000))
        #expect(throws: RedisError.self) { try RedisNodeAddress("nohostport") }
        #expect(throws: RedisError.self) { try RedisNodeAddress.validateStartupNodes([]) }
        let many = try (1...65).map { try RedisNodeAddress(host: "127.0.0.1", port: 7000 + $0) }
        #expect(throws: RedisError.self) { try RedisNodeAddress.validateStartupNodes(many) }
        #expect(throws: RedisError.self) { try RedisNodeAddress.validateStartupNodes([many[0], many[0]]) }
        var db3 = RedisConfiguration()
        db3.database = 3
        #expect(throws: RedisError.self) { try RedisConfiguration.cluster([many[0]], base: db3) }
        let c = try RedisConfiguration.cluster(Array(many.prefix(2)))
        #expect(c.host == "127.0.0.1" && c.port == 7001 && c.clusterNodes.count == 2)
    }

    @Test func configAcceptsStartupNodesAndRefusesBadOnes() throws {
        let yaml = """
            model_list: [{model_name: m, litellm_params: {model: openai/m, api_base: "http://127.0.0.1:1"}}]
            router_settings:
              redis_startup_nodes: [{host: 127.0.0.1, port: 7001}]
            litellm_settings:
              cache: true
              cache_params:
                type: redis
                redis_startup_nodes: [{"host": "127.0.0.1", "port": "7001"}, {host: 127.0.0.1, port: 7002}]
            general_settings:
              kv_redis_startup_nodes: [{host: redis-a.internal, port: 6379}]
            """
        let (config, _) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(config.litellmSettings.cacheParams.startupNodes?.map(\.port) == [7001, 7002])
        #expect(config.routerSettings.redisStartupNodes?.first?.port == 7001)
        #expect(config.generalSettings.kvRedisStartupNodes?.first?.host == "redis-a.internal")
        let bad: [(String, String)] = [
            ("[]", "the list is empty"),
            ("[{host: 127.0.0.1, port: 0}]", "redis_startup_nodes[0]: redis port must be 1-65535"),
            ("[{host: 127.0.0.1, port: 70000}]", "port must be 1-65535"),
            ("[{port: 7000}]", "redis_startup_nodes[0].host: required"),
            ("[{host: 127.0.0.1}]", "redis_startup_nodes[0].port: required"),
            ("[{host: 127.0.0.1, port: x}]", "expected an integer"),
            ("[{host: 127.0.0.1, port: 7000, db: 1}]", "redis_startup_nodes[0].db: unknown key"),
            ("[{host: 'a b', port: 7000}]", "invalid redis host"),
            ("[{host: h, port: 1}, {host: h, port: 1}]", "listed twice"),
            ("{host: h, port: 1}", "expected a list"),
            ("[" + (1...65).map { "{host: h, port: \($0)}" }.joined(separator: ", ") + "]", "at most 64"),
        ]
        for (nodes, message) in bad {
            let text = "model_list: [{model_name: m, litellm_params: {model: openai/m, api_base: \"http://127.0.0.1:1\"}}]\n"
                + "litellm_settings:\n  cache_params:\n    redis_startup_nodes: \(nodes)\n"
            do {
                _ = try GatewayConfig.parse(yaml: text, environment: [:])
                Issue.record("accepted \(nodes)")
            } catch {
                #expect("\(error)".contains(message) && "\(error)".contains("litellm_settings.cache_params.redis_startup_nodes"),
                        "\(error)")
            }
        }
    }
}
