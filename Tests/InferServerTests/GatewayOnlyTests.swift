import Engine
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import InferServer

/// Gateway-only mode: a server with no local engine in front of a second, real server over loopback HTTP.
@Suite("Gateway-only server")
struct GatewayOnlyTests {
    /// A gateway-only server (no engine) whose one group `remote` is `upstream` as an `openai/` deployment.
    static func gateway(upstreamPort: Int) async throws -> (OpenAIServer, GatewayBuild) {
        let (config, _) = try GatewayConfig.parse(yaml: """
            model_list:
              - model_name: remote
                litellm_params: {model: openai/tiny, api_base: "http://127.0.0.1:\(upstreamPort)/v1", api_key: unused}
            router_settings: {num_retries: 0}
            """)
        let server = OpenAIServer(engine: nil, settings: ServerSettings(port: 0, servedModelName: ""))
        let build = try await GatewayBuilder.build(config: config, server: server, localModelPath: nil, cache: nil,
                                                   logger: Logger(label: "test"))
        return (server, build)
    }

    @Test("serves a remote deployment with no engine; engine routes are absent, readiness needs no queue")
    func remoteOnly() async throws {
        let upstream = try Fixtures.tinyServer()
        try await buildApplication(upstream).test(.live) { live in
            let port = try #require(live.port)
            let (server, build) = try await Self.gateway(upstreamPort: port)
            #expect(server.local == nil)
            try await buildApplication(server, gateway: build).test(.router) { c in
                let chat = try await c.post("/v1/chat/completions", #"""
                    {"model": "remote", "max_tokens": 3, "temperature": 0,
                     "messages": [{"role": "user", "content": "Hello"}]}
                    """#)
                #expect(chat.status == .ok, "\(chat.text)")
                #expect(chat.json["model"]?.string == "remote")
                #expect(chat.headers[HTTPField.Name("x-litellm-model-api-base")!] == "http://127.0.0.1:\(port)/v1")
                #expect((chat.json["usage"]?["completion_tokens"]?.int ?? 0) > 0)

                let models = try await c.get("/v1/models")
                #expect(models.json["data"]?.array?.compactMap { $0["id"]?.string } == ["remote"])
                #expect(models.json["data"]?[0]?["max_model_len"] == nil)

                let ready = try await c.get("/health/readiness")
                #expect(ready.status == .ok)
                #expect(ready.json["status"]?.string == "ready")

                let metrics = try await c.get("/metrics")
                #expect(metrics.text.contains("infer_open_connections"))
                #expect(!metrics.text.contains("infer_engine_prefill_tokens_total"))

                #expect(try await c.post("/tokenize", #"{"prompt": "Hi"}"#).status == .notFound)
                #expect(try await c.get("/prefix_cache/stats").status == .notFound)
                let unknown = try await c.post("/v1/chat/completions",
                                               #"{"model": "tiny", "messages": [{"role": "user", "content": "x"}]}"#)
                #expect(unknown.status == .notFound)
            }
        }
    }
}
