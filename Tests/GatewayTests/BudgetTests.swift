import Foundation
import Gateway
import RedisTestSupport
import Testing

@Suite("Budgets")
struct BudgetTests {
    @Test(arguments: [("30s", 30), ("15m", 900), ("1h", 3_600), ("30d", 2_592_000), ("2w", 1_209_600),
                      ("1mo", 2_592_000), ("3650d", 315_360_000)])
    func durationsParse(text: String, seconds: Int64) {
        #expect(BudgetDuration(text)?.seconds == seconds)
    }

    @Test(arguments: ["", "d", "30", "0d", "-1d", "1.5h", "30 d", "1y", "3651d", "9999999999s", "1h1", "١d", "+1d"])
    func badDurationsAreRefused(text: String) {
        #expect(BudgetDuration(text) == nil)
    }

    @Test func windowsAreAlignedToTheEpoch() throws {
        let day = try #require(BudgetDuration("1d"))
        #expect(day.windowStart(at: 86_400 * 3 + 5) == 86_400 * 3)
        #expect(day.windowStart(at: -5) == 0 && day.windowStart(at: .infinity) >= 0)
    }

    @Test func maxBudgetRefusesOnceReachedAndTheWindowResetsIt() async throws {
        let clock = AuthTests.Clock(1_800_000_000)   // a multiple of 3600: a window starts here
        let tracker = SpendTracker(store: InMemorySpendStore(now: { clock.now }), now: { clock.now })
        var key = VirtualKeyConfig(key: "sk-budget", alias: "team-a")
        key.maxBudget = USDAmount(dollars: 0.001)
        key.budgetDuration = BudgetDuration("1h")
        let other = VirtualKeyConfig(key: "sk-other")
        #expect(await tracker.check(key) == nil)
        let (before, after) = await tracker.charge(key, USDAmount(dollars: 0.0006)!)
        #expect(before == .zero && after == USDAmount(dollars: 0.0006))
        #expect(await tracker.check(key) == nil)   // 0.0006 < 0.001
        await tracker.charge(key, USDAmount(dollars: 0.0004)!)
        let refused = try #require(await tracker.check(key))
        #expect(refused.message == "Budget has been exceeded! Key=team-a Current cost: 0.001, Max budget: 0.001")
        #expect(await tracker.check(other) == nil)
        #expect(await tracker.spend(other) == .zero)
        clock.advance(3_600)   // the next window: spend starts at 0 again
        #expect(await tracker.check(key) == nil)
        #expect(await tracker.spend(key) == .zero)
        let resetAt = try #require(tracker.window(key).resetAt)
        #expect(resetAt == 1_800_007_200)   // the end of the second hour window
    }

    @Test func aKeyWithoutDurationSpendsForever() async {
        let clock = AuthTests.Clock(1_800_000_000)
        let tracker = SpendTracker(store: InMemorySpendStore(now: { clock.now }), now: { clock.now })
        var key = VirtualKeyConfig(key: "sk-forever")
        key.maxBudget = USDAmount(pico: 10)
        await tracker.charge(key, USDAmount(pico: 10))
        clock.advance(86_400 * 365)
        #expect(await tracker.check(key) != nil && tracker.window(key).resetAt == nil)
    }

    @Test func budgetsParseFromTheConfigWithBounds() throws {
        let yaml = "keys:\n  - {key: sk-a, max_budget: 0.5, soft_budget: 0.25, budget_duration: 30d}\n"
        let (config, _) = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(config.keys[0].maxBudget == USDAmount(dollars: 0.5) && config.keys[0].softBudget == USDAmount(dollars: 0.25))
        let seconds = try #require(config.keys[0].budgetDuration?.seconds)
        #expect(seconds == 2_592_000)   // 30 days
        for (bad, message) in [
            ("max_budget: -1", "keys[0].max_budget: expected an amount in USD from 0 to 1000000, got -1.0"),
            ("max_budget: 1e7", "keys[0].max_budget: expected an amount in USD from 0 to 1000000, got 10000000.0"),
            ("soft_budget: .nan", "keys[0].soft_budget: expected a finite number of magnitude at most 1e12, got nan"),
            ("budget_duration: 1y", #"keys[0].budget_duration: expected <n>s, <n>m, <n>h, <n>d, <n>w or <n>mo up to 10 years, got "1y""#),
        ] {
            #expect(throws: ConfigError.self, "\(bad)") {
                try GatewayConfig.parse(yaml: "keys:\n  - {key: sk-a, \(bad)}\n", environment: [:])
            }
            do {
                _ = try GatewayConfig.parse(yaml: "keys:\n  - {key: sk-a, \(bad)}\n", environment: [:])
            } catch {
                #expect(error.message == message)
            }
        }
    }

    @Test func onlyTheMasterKeyOrTheKeyItselfReadsItsInfo() {
        let a = VirtualKeyConfig(key: "sk-a"), b = VirtualKeyConfig(key: "sk-b")
        let store = APIKeyStore(masterKey: "sk-m", keys: [a, b])
        #expect(store.key(presented: "sk-a") == a && store.key(presented: "sk-x") == nil)
        #expect(store.key(presented: APIKeyStore.hashedToken("sk-b")) == b)   // LiteLLM accepts the hashed token too
        #expect(Caller.key(a).mayReadSpend(of: a) && !Caller.key(a).mayReadSpend(of: b))
        #expect(Caller.master.mayReadSpend(of: b))
    }
}

@Suite("Budgets in Redis", .serialized, .enabled(if: TestRedisServer.isAvailable))
struct RedisBudgetTests {
    @Test func instancesAgreeOnSpendAndADeadRedisFallsBackPerInstance() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let a = SpendTracker(store: RedisSpendStore(redis: server.client()), prefix: "budget-test")
        let b = SpendTracker(store: RedisSpendStore(redis: server.client()), prefix: "budget-test")
        var key = VirtualKeyConfig(key: "sk-shared", alias: "shared")
        key.maxBudget = USDAmount(dollars: 0.003)
        key.budgetDuration = BudgetDuration("1d")
        // 1.5e-7 USD three thousand times on two instances: exactly 0.00045 USD each, 0.0009 together.
        let price = USDAmount(dollars: 1.5e-7)!
        for _ in 0..<3_000 { await a.charge(key, price) }
        for _ in 0..<3_000 { await b.charge(key, price) }
        #expect(await a.spend(key) == USDAmount(dollars: 0.0009))
        #expect(await b.spend(key) == USDAmount(dollars: 0.0009))
        await a.charge(key, USDAmount(dollars: 0.0021)!)
        #expect(await b.check(key) != nil, "instance b did not see a's spend")
        // The counter is an integer Redis key with an expiry of about a day.
        let name = a.window(key).name
        #expect(try await server.client().command(["GET", name]).int == 3_000_000_000)
        let ttl = try await server.client().command(["TTL", name]).int ?? -1
        #expect(ttl > 86_000 && ttl <= 86_460)
        server.stop()
        let other = VirtualKeyConfig(key: "sk-alone")
        #expect(await a.charge(other, price).after == price)   // per instance while Redis is away
    }

    @Test func theSharedSpendLogKeepsTheNewestLinesAndSkipsGarbage() async throws {
        let server = try await TestRedisServer()
        defer { server.stop() }
        let store = RedisSpendStore(redis: server.client())
        for i in 0..<12 { await store.appendLog("log", line: #"{"n": \#(i)}"#, limit: 10) }
        #expect(await store.logLines("log") == (2..<12).map { #"{"n": \#($0)}"# })
        let tracker = SpendTracker(store: store, prefix: "budget-test")
        _ = try await server.client().command(["RPUSH", "budget-test:spend:logs", "not json", "[1]", #"{"ok": 1}"#])
        #expect(await tracker.sharedLog() == [["ok": 1]])
        #expect(await SpendTracker(store: InMemorySpendStore()).sharedLog() == nil)   // nothing shared
        server.stop()
        #expect(await store.logLines("log") == nil)   // Redis down: the caller reports its own records
    }
}
