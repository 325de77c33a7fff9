import Foundation
@testable import Gateway
import Testing

@Suite struct PrefixTreeTests {
    /// The longest common prefix of `text` with any of `texts` (the tree's answer without eviction).
    static func naiveMatch(_ text: [UInt8], _ texts: [[UInt8]]) -> Int {
        texts.map { t in zip(t, text).prefix { $0 == $1 }.count }.max() ?? 0
    }

    /// Random texts over a small alphabet, so that they share prefixes of every length.
    static func randomTexts(_ n: Int, seed: UInt64) -> [[UInt8]] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 97...99, using: &rng) }
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func matchesTheLongestInsertedPrefixWithoutEviction(seed: UInt64) {
        var tree = PrefixTree(maxBytes: 1 << 20)
        let texts = Self.randomTexts(300, seed: seed)
        var inserted: [[UInt8]] = []
        for (i, t) in texts.enumerated() {
            if i % 2 == 0 {
                tree.insert(t)
                inserted.append(t)
            }
            // Every probe, inserted or not, matches exactly what a scan of the inserted texts finds.
            #expect(tree.match(t) == Self.naiveMatch(t, inserted))
        }
        #expect(tree.evictions == 0)
    }

    @Test(arguments: [4, 5] as [UInt64])
    func staysWithinItsBoundAndOnlyForgets(seed: UInt64) {
        var tree = PrefixTree(maxBytes: 2048)
        var inserted: [[UInt8]] = []
        for t in Self.randomTexts(2000, seed: seed) {
            tree.insert(t)
            inserted.append(t)
            #expect(tree.size <= tree.maxBytes)
            #expect(tree.nodeCount * PrefixTree.nodeOverhead <= tree.maxBytes + PrefixTree.nodeOverhead)
            // The newest text is never the one evicted (it is far below the low-water mark).
            #expect(tree.match(t) == t.count)
        }
        #expect(tree.evictions > 0)
        for t in inserted.suffix(50) { #expect(tree.match(t) <= Self.naiveMatch(t, inserted)) }
    }

    @Test func evictsTheLeastRecentlyRoutedTextFirst() {
        // 1024 bytes: each 300-byte text costs 364 with its node; A, B fit (728), C (1092) forces eviction
        // down to 921: exactly one text goes, the least recently used one.
        var tree = PrefixTree(maxBytes: 1024)
        let a = [UInt8](repeating: 97, count: 300), b = [UInt8](repeating: 98, count: 300)
        let c = [UInt8](repeating: 99, count: 300)
        tree.insert(a)
        tree.insert(b)
        tree.insert(a)   // A is now more recent than B
        #expect(tree.size == 728 && tree.evictions == 0)
        tree.insert(c)
        #expect(tree.evictions == 1 && tree.size == 728)
        #expect(tree.match(a) == 300 && tree.match(b) == 0 && tree.match(c) == 300)
    }

    @Test func splitsEdgesWithoutChangingTextBytes() {
        var tree = PrefixTree(maxBytes: 1 << 16)
        tree.insert(Array("abcdef".utf8))
        #expect(tree.size == 6 + 64 && tree.nodeCount == 2)
        tree.insert(Array("abcxyz".utf8))   // split at "abc": one more inner node and one more leaf
        #expect(tree.size == 9 + 3 * 64 && tree.nodeCount == 4)
        #expect(tree.match(Array("abcdeq".utf8)) == 5 && tree.match(Array("abq".utf8)) == 2 && tree.match([]) == 0)
    }
}

@Suite struct PrefixAwareSelectionTests {
    typealias C = PrefixAwareSelection.Candidate

    static func choose(_ c: [C], text: Int = 100) -> ([Int], PrefixAwareSelection.Reason) {
        let r = PrefixAwareSelection.choose(c, textBytes: text, cacheThreshold: 0.5, balanceAbs: 8, balanceRel: 1.5)
        return (r.indices, r.reason)
    }

    @Test func loadImbalanceWinsOverAMatch() {
        // 10 - 1 > 8 and 10 > 1.5 * 1: the idle one, though only the busy one holds the prefix.
        let r = Self.choose([C(load: 10, matched: 100, treeSize: 5), C(load: 1, matched: 0, treeSize: 9)])
        #expect(r.0 == [1] && r.1 == .balance)
    }

    @Test func bothThresholdsMustBeExceeded() {
        // 10 - 3 = 7 is within the absolute threshold: the match decides.
        let r = Self.choose([C(load: 3, matched: 0, treeSize: 5), C(load: 10, matched: 60, treeSize: 9)])
        #expect(r.0 == [1] && r.1 == .prefix)
        // 29 - 20 = 9 is over the absolute threshold, but 29 < 1.5 * 20 = 30: still balanced.
        let balanced = Self.choose([C(load: 20, matched: 0, treeSize: 5), C(load: 29, matched: 60, treeSize: 9)])
        #expect(balanced.0 == [1] && balanced.1 == .prefix)
        // 31 - 20 = 11 > 8 and 31 > 30: imbalanced.
        let imbalanced = Self.choose([C(load: 20, matched: 0, treeSize: 5), C(load: 31, matched: 60, treeSize: 9)])
        #expect(imbalanced.0 == [0] && imbalanced.1 == .balance)
    }

    @Test func aShortMatchSpreadsToTheSmallestTreeAndTiesGoToTheLessBusy() {
        let r = Self.choose([C(load: 0, matched: 40, treeSize: 500), C(load: 0, matched: 30, treeSize: 200)])
        #expect(r.0 == [1] && r.1 == .spread)
        let tie = Self.choose([C(load: 2, matched: 70, treeSize: 1), C(load: 1, matched: 70, treeSize: 2),
                               C(load: 1, matched: 70, treeSize: 3)])
        #expect(tie.0 == [1, 2] && tie.1 == .prefix)
        let empty = Self.choose([C(load: 0, matched: 0, treeSize: 0), C(load: 0, matched: 0, treeSize: 0)], text: 0)
        #expect(empty.0 == [0, 1] && empty.1 == .spread)
    }

    @Test func matchesWithinTheToleranceShareTheLoad() {
        // A hot prefix on two deployments: 1 000 bytes of text, 2 % tolerance = 20 bytes of slack.
        func choose(_ c: [C], tolerance: Double) -> [Int] {
            PrefixAwareSelection.choose(c, textBytes: 1000, cacheThreshold: 0.5, matchTolerance: tolerance,
                                        balanceAbs: 8, balanceRel: 1.5).indices
        }
        let hot = [C(load: 2, matched: 990, treeSize: 5), C(load: 1, matched: 975, treeSize: 9)]
        #expect(choose(hot, tolerance: 0.02) == [1])          // 15 bytes shorter, less busy: it wins
        #expect(choose(hot, tolerance: 0) == [0])             // without tolerance the longest match wins
        // 25 bytes shorter is past the slack: the longest match wins though it is busier.
        #expect(choose([C(load: 2, matched: 990, treeSize: 5), C(load: 1, matched: 965, treeSize: 9)], tolerance: 0.02) == [0])
        // Equally busy within the slack: the longer match.
        #expect(choose([C(load: 1, matched: 980, treeSize: 5), C(load: 1, matched: 990, treeSize: 9)], tolerance: 0.02) == [1])
        // An idle deployment without the prefix does not join (only load balance sends work there).
        #expect(choose([C(load: 3, matched: 600, treeSize: 5), C(load: 0, matched: 0, treeSize: 9)], tolerance: 0.02) == [0])
    }
}

@Suite struct StickySessionsTests {
    @Test func forgetsTheLeastRecentlyUsedSessionPastCapacity() {
        var s = StickySessions(capacity: 3)
        let k = (1...4).map { StickySessions.key(session: "s\($0)", tenant: nil) }
        s.record(k[0], deployment: "a")
        s.record(k[1], deployment: "b")
        s.record(k[2], deployment: "a")
        let first = s.lookup(k[0])        // s1 is now the most recent
        #expect(first == "a")
        s.record(k[3], deployment: "b")  // s2 is the oldest: forgotten
        #expect(s.count == 3)
        var found: [String?] = []
        for key in k { found.append(s.lookup(key)) }
        let expected: [String?] = ["a", nil, "a", "b"]
        #expect(found == expected)
    }

    @Test func keysAreFixedSizeAndPerTenant() {
        let long = String(repeating: "x", count: 100_000)
        #expect(StickySessions.key(session: long, tenant: nil).count == 32)
        #expect(StickySessions.key(session: "s", tenant: "t1") != StickySessions.key(session: "s", tenant: "t2"))
        #expect(StickySessions.key(session: "s", tenant: nil) == StickySessions.key(session: "s", tenant: ""))
    }

    @Test func memoryStaysBoundedUnderManyLookupsAndSessions() {
        var s = StickySessions(capacity: 100)
        let hot = StickySessions.key(session: "hot", tenant: nil)
        s.record(hot, deployment: "a")
        for i in 0..<10_000 {
            _ = s.lookup(hot)
            s.record(StickySessions.key(session: "s\(i)", tenant: nil), deployment: "b")
            #expect(s.count <= 100)
            #expect(s.orderCount <= 2 * 100 + 17)
        }
        let last = s.lookup(hot)
        #expect(last == "a")   // used every round, never the least recent
    }
}

@Suite struct RoutingTextTests {
    @Test func chatTextIsRolesAndContentsInOrderAndCut() {
        let body: JSONValue = ["messages": [
            ["role": "system", "content": "Be terse."],
            ["role": "user", "content": [["type": "text", "text": "Hi "], ["type": "image_url", "image_url": ["url": "x"]],
                                         ["type": "text", "text": "there"]]],
        ]]
        #expect(String(decoding: RoutingText.of(body, endpoint: .chat), as: UTF8.self)
            == "system\u{1}Be terse.\u{2}user\u{1}Hi there\u{2}")
        #expect(RoutingText.of(body, endpoint: .chat, maxBytes: 10) == Array("system\u{1}Be ".utf8))
        #expect(RoutingText.of(["messages": "nope"], endpoint: .chat).isEmpty)
    }

    @Test func completionPrompts() {
        #expect(RoutingText.of(["prompt": "abc"], endpoint: .completions) == Array("abc".utf8))
        #expect(RoutingText.of(["prompt": ["first", "second"]], endpoint: .completions) == Array("first".utf8))
        #expect(RoutingText.of(["prompt": [1, 22, 333]], endpoint: .completions) == Array("1 22 333 ".utf8))
        let huge = JSONValue.string(String(repeating: "y", count: 1 << 20))
        #expect(RoutingText.of(["prompt": huge], endpoint: .completions).count == RoutingText.maxBytes)
    }
}

/// The router with `prefix-aware` and sticky sessions over two real HTTP deployments (`TestUpstream`).
@Suite(.serialized) struct PrefixRouterTests {
    static func router(_ upstream: TestUpstream, strategy: RoutingStrategy, sticky: Bool = false,
                       retries: Int = 0) -> ProviderRouter {
        var s = RouterTests.settings(retries: retries)
        s.routingStrategy = strategy
        s.stickySessions = sticky
        return ProviderRouter(deployments: [RouterTests.deployment("p1", group: "g", base: upstream.base("p1")),
                                            RouterTests.deployment("p2", group: "g", base: upstream.base("p2"))],
                              settings: s, random: SplitMix64(seed: 7))
    }

    @Test func requestsSharingADocumentGoWhereItWasSentAndNewDocumentsSpread() async throws {
        try await TestUpstream.with { upstream in
            let router = Self.router(upstream, strategy: .prefixAware)
            let docA = String(repeating: "Document A talks about apples. ", count: 40)
            let docB = String(repeating: "Document B is about bicycles. ", count: 40)
            @Sendable func ask(_ doc: String, _ q: String) async throws -> String {
                let r = ProviderRequest(endpoint: .chat, body: chatBody(doc + "\nQ: " + q), stream: false)
                return try await router.route(modelGroup: "g", request: r).deploymentID
            }
            let a = try await ask(docA, "color?")
            let b = try await ask(docB, "wheels?")
            #expect(b != a)   // a new document goes to the deployment that has seen less text
            for q in ["size?", "taste?", "price?"] { #expect(try await ask(docA, q) == a) }
            for q in ["brakes?", "gears?"] { #expect(try await ask(docB, q) == b) }
            let m = await router.metricsSnapshot()
            #expect(m.map { $0.prefixRouted["prefix", default: 0] }.reduce(0, +) == 5)
            #expect(m.map { $0.prefixRouted["spread", default: 0] }.reduce(0, +) == 2)
            #expect(m.allSatisfy { $0.prefixTreeBytes > 1200 })
            #expect(await upstream.hits("p1") + upstream.hits("p2") == 7)
        }
    }

    @Test func stickySessionsStayWhileHealthyThenMoveWithTheSession() async throws {
        try await TestUpstream.with { upstream in
            let router = Self.router(upstream, strategy: .simpleShuffle, sticky: true, retries: 1)
            @Sendable func send(_ session: String?, tenant: String? = nil) async throws -> String {
                var r = ProviderRequest(endpoint: .chat, body: chatBody("hi"), stream: false, tenant: tenant)
                r.session = session
                return try await router.route(modelGroup: "g", request: r).deploymentID
            }
            let home = try await send("alice")
            for _ in 0..<10 { #expect(try await send("alice") == home) }
            var seen = Set<String>()
            for _ in 0..<20 { seen.insert(try await send(nil)) }
            #expect(seen.count == 2)   // without a session, simple-shuffle uses both
            // The session's deployment fails: the retry goes to the other one, and the session follows.
            await upstream.set(home, .serverError)
            let moved = try await send("alice")
            #expect(moved != home)
            await upstream.set(home, .none)
            for _ in 0..<5 { #expect(try await send("alice") == moved) }
        }
    }
}
