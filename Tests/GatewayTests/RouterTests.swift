import Foundation
import Gateway
import Testing

@Suite(.serialized) struct RouterTests {
    static func deployment(_ id: String, group: String, base: String, weight: Double? = nil,
                           anthropic: Bool = false) -> Deployment {
        let provider: any ChatProvider = anthropic
            ? AnthropicProvider(apiBase: base, apiKey: "k")
            : OpenAICompatibleProvider(apiBase: base, apiKey: "k")
        return Deployment(id: id, group: group, provider: provider, upstreamModel: "up-\(id)", weight: weight)
    }

    static func settings(retries: Int = 0, fallbacks: [String: [String]] = [:], cooldown: Double = 5) -> RouterSettings {
        var s = RouterSettings()
        s.numRetries = retries
        s.fallbacks = fallbacks
        s.cooldownTime = cooldown
        s.retryBackoffBase = 0.01
        s.timeout = 5
        return s
    }

    static let request = ProviderRequest(endpoint: .chat, body: chatBody, stream: false)

    @Test func threeGroupChainWithRetriesAndADeadPort() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("a1", .serverError)
            let router = ProviderRouter(
                deployments: [
                    Self.deployment("a1", group: "a", base: upstream.base("a1")),
                    Self.deployment("b1", group: "b", base: TestUpstream.deadBase),
                    Self.deployment("c1", group: "c", base: upstream.base("c1")),
                ],
                settings: Self.settings(retries: 1, fallbacks: ["a": ["b"], "b": ["c"]]))
            let routed = try await router.route(modelGroup: "a", request: Self.request)
            #expect(routed.deploymentID == "c1" && routed.modelGroup == "c" && routed.requestedModel == "a")
            #expect(routed.attemptedRetries == 2 && routed.attemptedFallbacks == 2)
            #expect(routed.apiBase == upstream.base("c1"))
            let json = try response(routed.result)
            #expect(json["model"] == "a")   // the name the client asked for
            #expect(await upstream.state.lastBody["c1"]?["model"] == "up-c1")
            #expect(await upstream.hits("a1") == 2)
            #expect(routed.headers.contains { $0 == ("x-litellm-attempted-fallbacks", "2") })
            let metrics = await router.metricsSnapshot()
            #expect(metrics.map(\.failures) == [2, 2, 0] && metrics.map(\.successes) == [0, 0, 1])
            #expect(metrics.map(\.fallbacks) == [1, 1, 0])
        }
    }

    @Test func notFoundIsNeverRetriedAndContextWindowUsesItsOwnList() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("nf", .status(404, body: #"{"error":{"message":"no such model"}}"#))
            await upstream.set("small", .contextLength)
            var settings = Self.settings(retries: 3, fallbacks: ["a": ["generic"], "s": ["generic"]])
            settings.contextWindowFallbacks = ["s": ["big"]]
            let router = ProviderRouter(deployments: [
                Self.deployment("nf", group: "a", base: upstream.base("nf")),
                Self.deployment("small", group: "s", base: upstream.base("small")),
                Self.deployment("generic", group: "generic", base: upstream.base("generic")),
                Self.deployment("big", group: "big", base: upstream.base("big"), anthropic: false),
            ], settings: settings)
            let first = try await router.route(modelGroup: "a", request: Self.request)
            #expect(first.deploymentID == "generic" && first.attemptedRetries == 0 && first.attemptedFallbacks == 1)
            #expect(await upstream.hits("nf") == 1)
            let second = try await router.route(modelGroup: "s", request: Self.request)
            #expect(second.deploymentID == "big" && second.attemptedRetries == 0)
            #expect(await upstream.hits("small") == 1)
        }
    }

    @Test func requestFallbacksAndDisableFallbacks() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("a1", .serverError)
            let router = ProviderRouter(deployments: [
                Self.deployment("a1", group: "a", base: upstream.base("a1")),
                Self.deployment("b1", group: "b", base: upstream.base("b1")),
                Self.deployment("anth", group: "claude", base: upstream.anthropicBase("anth"), anthropic: true),
            ], settings: Self.settings(fallbacks: ["a": ["b"]]))
            let routed = try await router.route(modelGroup: "a", request: Self.request, requestFallbacks: ["claude"])
            #expect(routed.deploymentID == "anth")
            #expect(try response(routed.result)["model"] == "a")
            do {
                _ = try await router.route(modelGroup: "a", request: Self.request, disableFallbacks: true)
                Issue.record("expected an error")
            } catch let error as RouterError {
                #expect(error.error.status == 500 && error.attemptedFallbacks == 0)
            }
            do {
                _ = try await router.route(modelGroup: "nope", request: Self.request)
                Issue.record("expected an error")
            } catch let error as RouterError {
                #expect(error.error.status == 400 && error.error.code == "model_not_found")
            }
        }
    }

    /// A key limited to `cheap` is never served by `paid`: not through the request's fallbacks, not through
    /// the config's generic, context-window or default fallbacks; it still gets `cheap-backup`, which it may use.
    @Test func fallbacksSkipGroupsTheCallerMayNotUse() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("cheap", .serverError)
            await upstream.set("small", .contextLength)
            var settings = Self.settings(fallbacks: ["cheap": ["paid", "cheap-backup"], "small": ["paid"]])
            settings.contextWindowFallbacks = ["small": ["paid"]]
            settings.defaultFallbacks = ["paid"]
            let router = ProviderRouter(deployments: [
                Self.deployment("cheap", group: "cheap", base: upstream.base("cheap")),
                Self.deployment("small", group: "small", base: upstream.base("small")),
                Self.deployment("paid", group: "paid", base: upstream.base("paid")),
                Self.deployment("backup", group: "cheap-backup", base: upstream.base("backup")),
            ], settings: settings)
            let limited = Caller.key(VirtualKeyConfig(key: "sk-cheap", models: ["cheap", "small", "cheap-backup"]))
            let routed = try await router.route(modelGroup: "cheap", request: Self.request, caller: limited)
            #expect(routed.deploymentID == "backup" && routed.attemptedFallbacks == 1)
            for fallbacks in [["paid"], nil] as [[String]?] {
                do {
                    _ = try await router.route(modelGroup: "small", request: Self.request, requestFallbacks: fallbacks,
                                               caller: limited)
                    Issue.record("expected an error")
                } catch let error as RouterError {
                    #expect(error.error.code == "context_length_exceeded" && error.attemptedFallbacks == 0)
                }
            }
            do {
                _ = try await router.route(modelGroup: "paid", request: Self.request, caller: limited)
                Issue.record("expected an error")
            } catch let error as RouterError {
                #expect(error.error.status == 403)
            }
            #expect(await upstream.hits("paid") == 0)
            // The same router serves the master key through `paid`.
            let master = try await router.route(modelGroup: "small", request: Self.request, caller: .master)
            #expect(master.deploymentID == "paid")
        }
    }

    /// `litellm_params.max_retries`: transient failures are retried on the same deployment before the
    /// router's own retries; a client error is not.
    @Test func deploymentMaxRetriesRetriesTransientFailuresInPlace() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("flaky", .failFirst(2, .serverError))
            await upstream.set("bad", .status(400, body: #"{"error":{"message":"bad"}}"#))
            var flaky = Self.deployment("flaky", group: "f", base: upstream.base("flaky"))
            flaky.maxRetries = 2
            var bad = Self.deployment("bad", group: "b", base: upstream.base("bad"))
            bad.maxRetries = 2
            let router = ProviderRouter(deployments: [flaky, bad], settings: Self.settings())
            let routed = try await router.route(modelGroup: "f", request: Self.request)
            #expect(routed.deploymentID == "flaky" && routed.attemptedRetries == 0)
            #expect(await upstream.hits("flaky") == 3)
            await #expect(throws: RouterError.self) { _ = try await router.route(modelGroup: "b", request: Self.request) }
            #expect(await upstream.hits("bad") == 1)
        }
    }

    @Test func retryAfterIsHonoured() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("rl", .failFirst(1, .rateLimited(retryAfter: "0.4")))
            let router = ProviderRouter(deployments: [Self.deployment("rl", group: "g", base: upstream.base("rl"))],
                                        settings: Self.settings(retries: 2))
            let start = ContinuousClock.now
            let routed = try await router.route(modelGroup: "g", request: Self.request)
            let elapsed = start.duration(to: .now)
            #expect(routed.attemptedRetries == 1 && routed.deploymentID == "rl")
            #expect(elapsed >= .milliseconds(400))
            #expect(await upstream.hits("rl") == 2)
        }
    }

    @Test func cooldownThenRecoveryWithAnInjectedClock() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("p", .failFirst(1, .status(401, body: #"{"error":{"message":"bad key"}}"#)))
            let clock = ManualSwiftClock()
            let store = InMemoryCooldownStore(policy: CooldownPolicy(cooldownTime: 5, allowedFails: 3), clock: clock)
            let router = ProviderRouter(deployments: [
                Self.deployment("p", group: "g", base: upstream.base("p"), weight: 1),
                Self.deployment("s", group: "g", base: upstream.base("s"), weight: 0),
            ], settings: Self.settings(retries: 2), cooldowns: store, random: SplitMix64(seed: 1))
            let first = try await router.route(modelGroup: "g", request: Self.request)
            #expect(first.deploymentID == "s" && first.attemptedRetries == 1)
            #expect(await store.cooldownRemaining(deploymentID: "p") == 5)
            let second = try await router.route(modelGroup: "g", request: Self.request)
            #expect(second.deploymentID == "s" && second.attemptedRetries == 0)
            clock.advance(by: .seconds(5))
            let third = try await router.route(modelGroup: "g", request: Self.request)
            #expect(third.deploymentID == "p")
            #expect(await upstream.hits("p") == 2)
            let metrics = await router.metricsSnapshot()
            #expect(metrics.first?.cooldowns == 1)
        }
    }

    @Test func allDeploymentsCoolingDownIsA429() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("solo", .status(401, body: #"{"error":{"message":"bad key"}}"#))
            let store = InMemoryCooldownStore(policy: CooldownPolicy(cooldownTime: 5, allowedFails: 3), clock: ManualSwiftClock())
            let router = ProviderRouter(deployments: [Self.deployment("solo", group: "g", base: upstream.base("solo"))],
                                        settings: Self.settings(retries: 2), cooldowns: store)
            do {
                _ = try await router.route(modelGroup: "g", request: Self.request)
                Issue.record("expected an error")
            } catch let error as RouterError {
                #expect(error.error.status == 401 && error.attemptedRetries == 0)
            }
            do {
                _ = try await router.route(modelGroup: "g", request: Self.request)
                Issue.record("expected an error")
            } catch let error as RouterError {
                #expect(error.error.status == 429)
                #expect(error.error.message.hasPrefix("No deployments available for selected model, try again in 5 seconds"))
            }
            #expect(await upstream.hits("solo") == 1)
        }
    }

    @Test func streamingFallsBackBeforeTheFirstChunkAndRewritesModel() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("s1", .slowFirstByte(seconds: 2))
            var settings = Self.settings(fallbacks: ["a": ["claude"]])
            settings.streamTimeout = 0.2
            let router = ProviderRouter(deployments: [
                Self.deployment("s1", group: "a", base: upstream.base("s1")),
                Self.deployment("anth", group: "claude", base: upstream.anthropicBase("anth"), anthropic: true),
            ], settings: settings)
            let routed = try await router.route(
                modelGroup: "a", request: ProviderRequest(endpoint: .chat, body: chatBody, stream: true))
            #expect(routed.deploymentID == "anth" && routed.attemptedFallbacks == 1)
            let chunks = try await collect(routed.result)
            #expect(text(of: chunks) == "Hello from anth")
            #expect(chunks.allSatisfy { $0["model"] == "a" })
            let metrics = await router.metricsSnapshot()
            #expect(metrics.map(\.inFlight) == [0, 0])
        }
    }

    @Test func timeoutFallsBackToTheNextGroup() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("h", .hang)
            var settings = Self.settings(fallbacks: ["a": ["b"]])
            settings.timeout = 0.3
            let router = ProviderRouter(deployments: [
                Self.deployment("h", group: "a", base: upstream.base("h")),
                Self.deployment("b1", group: "b", base: upstream.base("b1")),
            ], settings: settings)
            let start = ContinuousClock.now
            let routed = try await router.route(modelGroup: "a", request: Self.request)
            #expect(routed.deploymentID == "b1")
            #expect(start.duration(to: .now) < .seconds(3))
        }
    }

    @Test func leastBusyAndWeightedSelection() {
        let d = { (id: String, w: Double?, rpm: Int?) in
            Deployment(id: id, group: "g", provider: OpenAICompatibleProvider(apiBase: "http://x", apiKey: nil),
                       upstreamModel: id, weight: w, rpm: rpm)
        }
        #expect(DeploymentSelection.weights([d("a", 3, nil), d("b", 1, nil)]) == [3, 1])
        #expect(DeploymentSelection.weights([d("a", nil, 600), d("b", nil, nil)]) == [600, 600])
        #expect(DeploymentSelection.weights([d("a", nil, nil), d("b", nil, nil)]) == [1, 1])
        #expect(DeploymentSelection.weightedIndex([3, 1], unit: 0.74) == 0)
        #expect(DeploymentSelection.weightedIndex([3, 1], unit: 0.76) == 1)
        #expect(DeploymentSelection.weightedIndex([0, 1], unit: 0) == 1)
        #expect(DeploymentSelection.argmins([2, 1, 1]) == [1, 2])
    }
}
