import Gateway
import Logging
import Testing

@Suite("Cache controls")
struct CacheControlsTests {
    @Test func bodyControls() throws {
        let body = chatBody("hi", extra: [("cache", ["no-cache": true, "no-store": true, "ttl": 60,
                                                     "s-maxage": 5, "namespace": "team", "use-cache": true])])
        let c = try CacheControls.parse(body: body, header: nil)
        #expect(c.noCache && c.noStore && c.ttl == 60 && c.sMaxAge == 5 && c.namespace == "team" && c.useCache == true)
        let alt = try CacheControls.parse(body: chatBody("hi", extra: [("cache", ["s-max-age": 2.5])]), header: nil)
        #expect(alt.sMaxAge == 2.5)
        #expect(try CacheControls.parse(body: chatBody("hi"), header: nil) == CacheControls())
    }

    @Test func headerControls() throws {
        let c = try CacheControls.parse(body: chatBody("hi"), header: "No-Cache, max-age=100, s-maxage=30, no-store")
        #expect(c.noCache && c.noStore && c.sMaxAge == 30)
        let bodyWins = try CacheControls.parse(body: chatBody("hi", extra: [("cache", ["s-maxage": 7])]), header: "s-maxage=30")
        #expect(bodyWins.sMaxAge == 7)
        #expect(try CacheControls.parse(body: chatBody("hi"), header: "max-age=5").sMaxAge == nil)
    }

    @Test(arguments: [
        (JSONValue.object([("cache", "yes")]), "cache"),
        (JSONValue.object([("cache", ["no-cache": "true"])]), "cache.no-cache"),
        (JSONValue.object([("cache", ["no-store": 1])]), "cache.no-store"),
        (JSONValue.object([("cache", ["ttl": "60"])]), "cache.ttl"),
        (JSONValue.object([("cache", ["ttl": -1])]), "cache.ttl"),
        (JSONValue.object([("cache", ["ttl": 1e300])]), "cache.ttl"),
        (JSONValue.object([("cache", ["ttl": 1e19])]), "cache.ttl"),
        (JSONValue.object([("cache", ["ttl": .double(.infinity)])]), "cache.ttl"),
        (JSONValue.object([("cache", ["ttl": .double(.nan)])]), "cache.ttl"),
        (JSONValue.object([("cache", ["ttl": .int(Int.max)])]), "cache.ttl"),
        (JSONValue.object([("cache", ["ttl": 31_536_001])]), "cache.ttl"),
        (JSONValue.object([("cache", ["s-maxage": 1e300])]), "cache.s-maxage"),
        (JSONValue.object([("cache", ["s-maxage": true])]), "cache.s-maxage"),
        (JSONValue.object([("cache", ["namespace": 3])]), "cache.namespace"),
        (JSONValue.object([("cache", ["use-cache": "no"])]), "cache.use-cache"),
    ] as [(JSONValue, String)])
    func badTypesNameTheField(body: JSONValue, field: String) {
        #expect(throws: CacheControlError.self) { try CacheControls.parse(body: body, header: nil) }
        do {
            _ = try CacheControls.parse(body: body, header: nil)
        } catch {
            #expect(error.field == field)
        }
    }

    @Test func badHeaderValue() throws {
        #expect(throws: CacheControlError(field: "Cache-Control",
                                          message: "s-maxage must be a non-negative number of seconds, at most one year, got 'abc'")) {
            try CacheControls.parse(body: chatBody("hi"), header: "s-maxage=abc")
        }
        for value in ["1e300", "inf", "nan", "31536001"] {
            #expect(throws: CacheControlError.self) { try CacheControls.parse(body: chatBody("hi"), header: "s-maxage=\(value)") }
        }
        #expect(try CacheControls.parse(body: chatBody("hi"), header: "s-maxage=31536000").sMaxAge == 31_536_000)
    }

    /// `cache_params.supported_call_types`: other kinds bypass the cache (never stored, never served).
    @Test func unsupportedCallTypesBypass() async throws {
        var settings = CacheSettings(enabled: true, namespace: "k")
        settings.supportedKinds = [.completion]
        let layer = await CacheLayer(settings: settings, embedder: nil, logger: Logger(label: "test"))
        let chat = try await layer.lookup(kind: .chat, body: chatBody("hello"), cacheControlHeader: nil, tenant: nil)
        guard case .bypass(let reason) = chat.outcome else { Issue.record("expected bypass"); return }
        #expect(reason.contains("supported_call_types"))
        await layer.store(chat, response: chatResponse("A"))
        let again = try await layer.lookup(kind: .chat, body: chatBody("hello"), cacheControlHeader: nil, tenant: nil)
        #expect(again.response == nil)
        let body: JSONValue = ["model": "m", "prompt": "hi"]
        let text = try await layer.lookup(kind: .completion, body: body, cacheControlHeader: nil, tenant: nil)
        guard case .miss = text.outcome else { Issue.record("expected a miss"); return }
        await layer.store(text, response: chatResponse("B"))
        let hit = try await layer.lookup(kind: .completion, body: body, cacheControlHeader: nil, tenant: nil)
        #expect(hit.response != nil)
    }

    @Test func layerAppliesControls() async throws {
        let clock = ManualClock()
        let layer = await CacheLayer(settings: CacheSettings(enabled: true, namespace: "t"), embedder: nil,
                                     logger: Logger(label: "test"), clock: clock.cacheClock)
        let body = chatBody("hello")
        // no-store: miss, nothing stored.
        let noStore = chatBody("hello", extra: [("cache", ["no-store": true])])
        let l1 = try await layer.lookup(kind: .chat, body: noStore, cacheControlHeader: nil, tenant: nil)
        await layer.store(l1, response: chatResponse("A"))
        #expect(try await isMiss(layer, body))
        // Normal miss, stored; then hit.
        let l2 = try await layer.lookup(kind: .chat, body: body, cacheControlHeader: nil, tenant: nil)
        await layer.store(l2, response: chatResponse("A"))
        let hit = try await layer.lookup(kind: .chat, body: body, cacheControlHeader: nil, tenant: nil)
        #expect(hit.response?["choices"] == chatResponse("A")["choices"])
        #expect(hit.headers.contains { $0 == ("x-cache", "HIT") })
        #expect(hit.headers.contains { $0.0 == "x-litellm-cache-key" && $0.1 == hit.key })
        // no-cache: bypass the lookup, but the fresh answer replaces the entry.
        let l3 = try await layer.lookup(kind: .chat, body: body, cacheControlHeader: "no-cache", tenant: nil)
        guard case .bypass = l3.outcome else { Issue.record("expected bypass"); return }
        #expect(l3.headers.contains { $0 == ("x-cache", "BYPASS") })
        await layer.store(l3, response: chatResponse("B"))
        let hitB = try await layer.lookup(kind: .chat, body: body, cacheControlHeader: nil, tenant: nil)
        #expect(hitB.response?["choices"] == chatResponse("B")["choices"])
        // s-maxage: an entry 10 s old is rejected by s-maxage=5, accepted by s-maxage=20.
        clock.advance(10)
        #expect(try await isMiss(layer, chatBody("hello", extra: [("cache", ["s-maxage": 5])])))
        #expect(try await !isMiss(layer, chatBody("hello", extra: [("cache", ["s-maxage": 20])])))
        // namespace override: a different key space.
        #expect(try await isMiss(layer, chatBody("hello", extra: [("cache", ["namespace": "other"])])))
        // use-cache false opts out.
        let off = try await layer.lookup(kind: .chat, body: chatBody("hello", extra: [("cache", ["use-cache": false])]),
                                         cacheControlHeader: nil, tenant: nil)
        guard case .bypass = off.outcome else { Issue.record("expected bypass"); return }
    }

    @Test func defaultOffModeNeedsOptIn() async throws {
        let layer = await CacheLayer(settings: CacheSettings(enabled: true, mode: .defaultOff), embedder: nil,
                                     logger: Logger(label: "test"))
        let plain = try await layer.lookup(kind: .chat, body: chatBody("q"), cacheControlHeader: nil, tenant: nil)
        guard case .bypass(let reason) = plain.outcome else { Issue.record("expected bypass"); return }
        #expect(reason == "default_off")
        await layer.store(plain, response: chatResponse("A"))   // not stored
        let optIn = chatBody("q", extra: [("cache", ["use-cache": true])])
        let miss = try await layer.lookup(kind: .chat, body: optIn, cacheControlHeader: nil, tenant: nil)
        guard case .miss = miss.outcome else { Issue.record("expected miss, got \(miss.outcome)"); return }
        await layer.store(miss, response: chatResponse("A"))
        let hit = try await layer.lookup(kind: .chat, body: optIn, cacheControlHeader: nil, tenant: nil)
        guard case .hit = hit.outcome else { Issue.record("expected hit"); return }
        let stillOff = try await layer.lookup(kind: .chat, body: chatBody("q"), cacheControlHeader: nil, tenant: nil)
        guard case .bypass = stillOff.outcome else { Issue.record("expected bypass"); return }
    }

    @Test func disabledAndUnstorable() async throws {
        let off = await CacheLayer(settings: CacheSettings(enabled: false), embedder: nil, logger: Logger(label: "test"))
        guard case .disabled = try await off.lookup(kind: .chat, body: chatBody("q"), cacheControlHeader: nil, tenant: nil).outcome else {
            Issue.record("expected disabled"); return
        }
        #expect(!CacheLayer.isStorable(["error": ["message": "boom"]], kind: .chat))
        #expect(!CacheLayer.isStorable(chatResponse(""), kind: .chat))
        #expect(CacheLayer.isStorable(chatResponse("x"), kind: .chat))
        #expect(!CacheLayer.isStorable(["object": "list", "data": []], kind: .embedding))
        let layer = await CacheLayer(settings: CacheSettings(enabled: true), embedder: nil, logger: Logger(label: "test"))
        let miss = try await layer.lookup(kind: .chat, body: chatBody("q"), cacheControlHeader: nil, tenant: nil)
        await layer.store(miss, response: chatResponse(""))
        #expect(try await isMiss(layer, chatBody("q")))
    }
}

func isMiss(_ layer: CacheLayer, _ body: JSONValue, tenant: String? = nil) async throws -> Bool {
    let lookup = try await layer.lookup(kind: .chat, body: body, cacheControlHeader: nil, tenant: tenant)
    if case .miss = lookup.outcome { return true }
    return false
}
