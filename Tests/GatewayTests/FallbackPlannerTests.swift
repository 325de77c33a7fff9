import Gateway
import Testing

@Suite struct FallbackPlannerTests {
    static let groups: Set<String> = ["a", "b", "c", "d", "e", "f", "g", "h", "big"]

    static func err(_ status: Int, _ kind: ProviderError.Kind, retryAfter: Double? = nil) -> ProviderError {
        ProviderError(status: status, message: "e\(status)", retryAfter: retryAfter, kind: kind)
    }

    static let server = err(500, .server)

    private func planner(_ policy: FallbackPlanner.Policy, requestFallbacks: [String]? = nil,
                         disable: Bool = false) -> FallbackPlanner {
        FallbackPlanner(group: "a", policy: policy, knownGroups: Self.groups, requestFallbacks: requestFallbacks,
                        disableFallbacks: disable)
    }

    @Test func retriesWithinTheGroupWithExponentialBackoffThenFallsBack() {
        var p = planner(.init(numRetries: 3, fallbacks: ["a": ["b"]]))
        #expect(p.start() == .attempt(group: "a", delay: 0))
        #expect(p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "a", delay: 0.5))
        #expect(p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "a", delay: 1))
        #expect(p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "a", delay: 2))
        #expect(p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "b", delay: 0))
        #expect(p.attemptedRetries == 3 && p.attemptedFallbacks == 1)
        #expect(p.next(.succeeded) == .finish)
    }

    @Test func retryIsImmediateWhenAnotherDeploymentIsHealthyAndRetryAfterIsHonoured() {
        var p = planner(.init(numRetries: 3, minRetryDelay: 0.25))
        #expect(p.next(.failed(Self.server, groupSize: 2, healthyOthers: 1)) == .attempt(group: "a", delay: 0.25))
        #expect(p.next(.failed(Self.err(429, .rateLimited, retryAfter: 3), groupSize: 1, healthyOthers: 0))
            == .attempt(group: "a", delay: 3))
        // retry-after beyond 60 s is ignored: exponential backoff (third retry: 2 s)
        #expect(p.next(.failed(Self.err(429, .rateLimited, retryAfter: 600), groupSize: 1, healthyOthers: 0))
            == .attempt(group: "a", delay: 2))
    }

    @Test(arguments: [
        (ProviderError.Kind.notFound, 404, 1), (.notFound, 404, 3), (.contextWindowExceeded, 400, 3),
        (.overloaded, 503, 3), (.contentPolicy, 400, 3), (.badRequest, 400, 3), (.authentication, 401, 1),
    ])
    func errorsThatFallBackWithoutRetrying(kind: ProviderError.Kind, status: Int, groupSize: Int) {
        var p = planner(.init(numRetries: 2, fallbacks: ["a": ["b"]]))
        #expect(p.next(.failed(Self.err(status, kind), groupSize: groupSize, healthyOthers: groupSize - 1))
            == .attempt(group: "b", delay: 0))
        #expect(p.attemptedRetries == 0)
    }

    @Test func authenticationErrorIsRetriedInAMultiDeploymentGroup() {
        var p = planner(.init(numRetries: 2))
        #expect(p.next(.failed(Self.err(401, .authentication), groupSize: 2, healthyOthers: 1))
            == .attempt(group: "a", delay: 0))
    }

    @Test func rateLimitWithNoHealthyDeploymentSkipsRetriesOnlyWhenFallbacksExist() {
        var withFallbacks = planner(.init(numRetries: 2, fallbacks: ["a": ["b"]]))
        #expect(withFallbacks.next(.failed(Self.err(429, .rateLimited), groupSize: 2, healthyOthers: 0))
            == .attempt(group: "b", delay: 0))
        var without = planner(.init(numRetries: 2))
        #expect(without.next(.failed(Self.err(429, .rateLimited), groupSize: 2, healthyOthers: 0))
            == .attempt(group: "a", delay: 0.5))
    }

    @Test func errorClassesPickTheirFallbackLists() {
        let policy = FallbackPlanner.Policy(numRetries: 0, fallbacks: ["a": ["b"]], contextWindowFallbacks: ["a": ["big"]],
                                            contentPolicyFallbacks: ["a": ["c"]], defaultFallbacks: ["d"])
        var cw = planner(policy)
        #expect(cw.next(.failed(Self.err(400, .contextWindowExceeded), groupSize: 1, healthyOthers: 0)) == .attempt(group: "big", delay: 0))
        var cp = planner(policy)
        #expect(cp.next(.failed(Self.err(400, .contentPolicy), groupSize: 1, healthyOthers: 0)) == .attempt(group: "c", delay: 0))
        var generic = planner(policy)
        #expect(generic.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "b", delay: 0))
        // no entry for the group: "*" first, then default_fallbacks
        var star = planner(.init(numRetries: 0, fallbacks: ["*": ["e"]], defaultFallbacks: ["d"]))
        #expect(star.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "e", delay: 0))
        var defaults = planner(.init(numRetries: 0, fallbacks: ["x": ["b"]], defaultFallbacks: ["d"]))
        #expect(defaults.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "d", delay: 0))
        // a context-window error without its own list uses the generic one
        var cwGeneric = planner(.init(numRetries: 0, fallbacks: ["a": ["b"]]))
        #expect(cwGeneric.next(.failed(Self.err(400, .contextWindowExceeded), groupSize: 1, healthyOthers: 0)) == .attempt(group: "b", delay: 0))
    }

    @Test func requestFallbacksReplaceConfiguredOnesAndDisableTurnsThemOff() {
        var p = planner(.init(numRetries: 0, fallbacks: ["a": ["b"]]), requestFallbacks: ["c", "zzz-unknown", "d"])
        #expect(p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "c", delay: 0))
        #expect(p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .attempt(group: "d", delay: 0))
        guard case .giveUp = p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) else {
            Issue.record("expected give up"); return
        }
        var off = planner(.init(numRetries: 0, fallbacks: ["a": ["b"]]), disable: true)
        #expect(off.next(.failed(Self.server, groupSize: 1, healthyOthers: 0)) == .giveUp(Self.server))
    }

    @Test func depthFirstNoCyclesAndAtMostFiveHops() {
        let policy = FallbackPlanner.Policy(numRetries: 0, fallbacks: [
            "a": ["b", "c"], "b": ["a", "d"], "d": ["b", "e"], "e": ["f"], "f": ["g"], "g": ["h"], "c": ["a"],
        ])
        var p = planner(policy)
        var visited: [String] = []
        var action = p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0))
        while case .attempt(let group, _) = action {
            visited.append(group)
            action = p.next(.failed(Self.server, groupSize: 1, healthyOthers: 0))
        }
        #expect(visited == ["b", "d", "e", "f", "g"])
        #expect(p.attemptedFallbacks == 5)
        guard case .giveUp(let error) = action else { Issue.record("expected give up"); return }
        #expect(error.status == 500 && error.message.hasPrefix("e500 (fallbacks tried: b, d, e, f, g"))
    }

    @Test func givesUpWithTheRequestedGroupsError() {
        var p = planner(.init(numRetries: 0, fallbacks: ["a": ["b"]]))
        _ = p.next(.failed(Self.err(429, .rateLimited), groupSize: 1, healthyOthers: 0))
        guard case .giveUp(let error) = p.next(.failed(Self.err(503, .connection), groupSize: 1, healthyOthers: 0)) else {
            Issue.record("expected give up"); return
        }
        #expect(error.status == 429 && error.kind == .rateLimited)
    }

    @Test func noDeploymentAvailableIsA429ThatFallsBack() {
        var alone = planner(.init(numRetries: 2))
        guard case .giveUp(let error) = alone.next(.noDeploymentAvailable(retryIn: 4.2)) else {
            Issue.record("expected give up"); return
        }
        #expect(error.status == 429)
        #expect(error.message.hasPrefix("No deployments available for selected model, try again in 5 seconds"))
        var p = planner(.init(numRetries: 2, fallbacks: ["a": ["b"]]))
        #expect(p.next(.noDeploymentAvailable(retryIn: 1)) == .attempt(group: "b", delay: 0))
    }

    @Test func fallbackGroupsGetTheirOwnRetries() {
        var p = planner(.init(numRetries: 1, fallbacks: ["a": ["b"]]))
        #expect(p.next(.failed(Self.server, groupSize: 2, healthyOthers: 1)) == .attempt(group: "a", delay: 0))
        #expect(p.next(.failed(Self.server, groupSize: 2, healthyOthers: 1)) == .attempt(group: "b", delay: 0))
        #expect(p.next(.failed(Self.server, groupSize: 2, healthyOthers: 1)) == .attempt(group: "b", delay: 0))
        #expect(p.attemptedRetries == 2 && p.attemptedFallbacks == 1)
    }
}
