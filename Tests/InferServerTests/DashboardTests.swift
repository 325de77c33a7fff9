import Crypto
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer

/// `GET /ui` and `GET /ui/api/summary` on a real (tiny-model) server with a master key and a virtual key.
@Suite("Dashboard")
struct DashboardTests {
    static let master: HTTPFields = [.authorization: "Bearer sk-master"]
    static let virtual: HTTPFields = [.authorization: "Bearer sk-virtual"]

    static func server() throws -> OpenAIServer {
        try Fixtures.tinyServer { s in
            s.apiKey = "sk-master"
            s.virtualKeys = [VirtualKeyConfig(key: "sk-virtual")]
        }
    }

    /// The text between the first `<open>` and the next `</close>` of `html`.
    static func inner(_ html: String, _ tag: String) -> String? {
        guard let start = html.range(of: "<\(tag)>"), let end = html.range(of: "</\(tag)>", range: start.upperBound..<html.endIndex)
        else { return nil }
        return String(html[start.upperBound..<end.lowerBound])
    }

    static func sha256(_ text: String) -> String {
        "'sha256-" + Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString() + "'"
    }

    @Test("the page is open (no data in it) and its CSP allows exactly its inline script and style, by hash")
    func page() async throws {
        try await withRouter(try Self.server()) { c in
            let page = try await c.get("/ui")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let csp = try #require(page.headers[.contentSecurityPolicy])
            let script = try #require(Self.inner(page.text, "script")), style = try #require(Self.inner(page.text, "style"))
            #expect(csp.contains("script-src \(Self.sha256(script))"), "\(csp)")
            #expect(csp.contains("style-src \(Self.sha256(style))"), "\(csp)")
            #expect(csp.hasPrefix("default-src 'self'"))
            #expect(!csp.contains("unsafe"))
            #expect(page.headers[.xContentTypeOptions] == "nosniff")
            #expect(page.headers[.cacheControl] == "no-store")
            // One inline script, nothing loaded from elsewhere, no markup built from data.
            #expect(page.text.components(separatedBy: "<script").count == 2)
            #expect(!page.text.contains("://"))
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                #expect(!script.contains(sink), "\(sink)")
            }
            // The page is the same whoever asks: it holds no data.
            #expect(try await c.get("/ui", headers: Self.master).text == page.text)
        }
    }

    @Test("the summary needs the master key: 401 without a key or with a wrong one, 403 for a virtual key")
    func auth() async throws {
        try await withRouter(try Self.server()) { c in
            let none = try await c.get("/ui/api/summary")
            #expect(none.status == .unauthorized)
            #expect(none.json["error"]?["message"]?.string != nil)
            #expect(try await c.get("/ui/api/summary", headers: [.authorization: "Bearer sk-wrong"]).status == .unauthorized)
            let forbidden = try await c.get("/ui/api/summary", headers: Self.virtual)
            #expect(forbidden.status == .forbidden)
            #expect(!forbidden.text.contains("tiny"))
            #expect(try await c.get("/ui/api/summary", headers: Self.master).status == .ok)
            // Only the page itself is open, not what lies under /ui.
            #expect(try await c.get("/ui/").status == .unauthorized)
            #expect(try await c.get("/ui/api").status == .unauthorized)
        }
    }

    @Test("the summary follows traffic: requests and latency per group, prefix hit tokens, KV blocks, deployments, spend")
    func summary() async throws {
        try await withRouter(try Self.server()) { c in
            let before = try await c.get("/ui/api/summary", headers: Self.master).json
            #expect(before["object"]?.string == "dashboard.summary")
            #expect(before["window_seconds"]?.number == 60)
            let group = try #require(before["groups"]?[0])
            #expect(group["model_group"]?.string == "tiny")
            #expect(group["requests"]?.int == 0)
            #expect(group["latency_p50_seconds"] == .null)
            #expect(before["hit_rates"]?["exact"] == .null)      // no response cache configured
            #expect(before["alerts"] == .null)                   // no alerting configured
            // The engine publishes its prefix-cache numbers from its first step on (null before that).
            let queried = before["hit_rates"]?["prefix"]?["query_tokens"]?.int ?? 0

            // Three requests with one shared prompt (the 2nd and 3rd reuse its cached blocks) from the master
            // key, one from the virtual key; each timed here, as a bound on what the server may report.
            let prompt = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 8)
            var longest = 0.0
            for key in [Self.master, Self.master, Self.master, Self.virtual] {
                let start = Date()
                let r = try await c.post("/v1/completions", #"{"prompt": "\#(prompt)", "max_tokens": 2}"#, headers: key)
                longest = max(longest, Date().timeIntervalSince(start))
                #expect(r.status == .ok, "\(r.text)")
            }
            // Refused before reaching a group: not counted as its traffic.
            #expect(try await c.post("/v1/completions", #"{"model": "nope", "prompt": "x"}"#, headers: Self.master).status == .notFound)

            let after = try await c.get("/ui/api/summary", headers: Self.master).json
            let g = try #require(after["groups"]?[0])
            #expect(g["requests"]?.int == 4)
            #expect(g["failures"]?.int == 0)
            #expect(g["requests_per_second"]?.number == 4.0 / 60)
            let p50 = try #require(g["latency_p50_seconds"]?.number), p95 = try #require(g["latency_p95_seconds"]?.number)
            #expect(p50 > 0 && p50 <= p95 && p95 <= longest)

            let prefix = try #require(after["hit_rates"]?["prefix"])
            #expect((prefix["query_tokens"]?.int ?? 0) > queried)
            #expect((prefix["hit_tokens"]?.int ?? 0) > 0)
            let blocks = try #require(after["kv"]?["blocks"])
            let parts = ["in_use", "cached_idle", "pinned", "free"].compactMap { blocks[$0]?.int }
            #expect(parts.count == 4 && parts.reduce(0, +) == blocks["total"]?.int)
            #expect((blocks["cached_idle"]?.int ?? 0) > 0)
            #expect((after["top_prefixes"]?.array?.first?["hits"]?.int ?? 0) > 0)

            let deployment = try #require(after["deployments"]?[0])
            #expect(deployment["model_id"]?.string == "local")
            #expect(deployment["successes"]?.int == 4)
            #expect(deployment["cooldown_remaining_seconds"] == .null)

            let spend = try #require(after["spend"]?.array)
            let byKey = Dictionary(uniqueKeysWithValues: spend.compactMap { row in
                row["api_key"]?.string.map { ($0, row["requests"]?.int ?? -1) } })
            #expect(byKey == ["master": 3, APIKeyStore.hashedToken("sk-virtual"): 1])
            #expect(!after.serialized().contains("sk-virtual"))   // hashed tokens only, never a key
        }
    }
}
