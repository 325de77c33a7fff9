import Engine
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer

@Suite("Errors: status and OpenAI envelope")
struct ErrorTests {
    /// (route, body, status, param, code)
    static let malformed: [(String, String, Int, String?, String?)] = [
        ("/v1/chat/completions", "{not json", 400, nil, "invalid_json"),
        ("/v1/chat/completions", "[1, 2]", 400, nil, nil),
        ("/v1/chat/completions", #"{"max_tokens": 5}"#, 400, "messages", nil),
        ("/v1/chat/completions", #"{"messages": "hi"}"#, 400, "messages", nil),
        ("/v1/chat/completions", #"{"messages": []}"#, 400, "messages", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "tool", "content": "x"}]}"#, 400, "messages[0].tool_call_id", nil),
        ("/v1/chat/completions", #"{"messages": [{"content": "x"}]}"#, 400, "messages[0].role", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": 5}]}"#, 400, "messages[0].content", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": []}]}"#, 400, "messages[0].content", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}"#, 400, "messages[0].content[0]", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}"#, 400, "temperature", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "temperature": 3}"#, 400, "temperature", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "max_tokens": -1}"#, 400, "max_tokens", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5}"#, 400, "max_tokens", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "n": 0}"#, 400, "n", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "stop": 7}"#, 400, "stop", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "stop": ["a","b","c","d","e"]}"#, 400, "stop", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#, 400, "stream", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "logit_bias": {"abc": 1}}"#, 400, "logit_bias", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}"#, 400, "top_logprobs", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "seed": "abc"}"#, 400, "seed", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "top_p": 0}"#, 400, "top_p", nil),
        // Found by bench/fuzz (openai-request): positive doubles that round to Float 0 passed the > 0 checks.
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "top_p": 1e-50}"#, 400, "top_p", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "repetition_penalty": 1e-60}"#, 400, "repetition_penalty", nil),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "repetition_penalty": 0}"#, 400, "repetition_penalty", nil),
        ("/v1/chat/completions", #"{"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}"#, 404, "model", "model_not_found"),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 40000}"#, 400, "messages", "context_length_exceeded"),
        ("/v1/completions", #"{"max_tokens": 3}"#, 400, "prompt", nil),
        ("/v1/completions", #"{"prompt": 12}"#, 400, "prompt", nil),
        ("/v1/completions", #"{"prompt": [1, "a"]}"#, 400, "prompt", nil),
        ("/v1/completions", #"{"prompt": [99999999]}"#, 400, "prompt", nil),
        ("/v1/completions", #"{"prompt": []}"#, 400, "prompt", nil),
        ("/v1/completions", #"{"prompt": "x", "logprobs": true}"#, 400, "logprobs", nil),
        ("/v1/completions", #"{"prompt": "x", "echo": true, "logprobs": 1}"#, 400, "echo", nil),
        ("/v1/completions", #"{"prompt": "x", "stream_options": 1}"#, 400, "stream_options", nil),
        ("/tokenize", #"{"prompt": 5}"#, 400, "prompt", nil),
        ("/detokenize", #"{"tokens": ["a"]}"#, 400, "tokens", nil),
    ]

    @Test("malformed requests are 400/404 naming the parameter", arguments: malformed)
    func malformedRequest(route: String, body: String, status: Int, param: String?, code: String?) async throws {
        let server = try Fixtures.gemmaServer()
        let r = try await withRouter(server) { c in try await c.post(route, body) }
        #expect(r.status.code == status, "\(body)")
        let error = try #require(r.json["error"], "\(r.text)")
        #expect(Set(error.keys) == ["message", "type", "param", "code"])
        #expect(error["message"]?.string?.isEmpty == false)
        #expect(error["param"] == .optional(param), "\(body) -> \(r.text)")
        if let code { #expect(error["code"]?.string == code) }
        #expect(r.headers[.contentType] == "application/json")
    }

    @Test("a prompt longer than the context is context_length_exceeded naming the limit")
    func contextLength() async throws {
        let server = try Fixtures.tinyServer()
        let limit = server.contextLength
        let ids = Array(repeating: "5", count: limit + 10).joined(separator: ",")
        let r = try await withRouter(server) { c in try await c.post("/v1/completions", #"{"prompt": [\#(ids)]}"#) }
        #expect(r.status == .badRequest)
        #expect(r.json["error"]?["code"]?.string == "context_length_exceeded")
        #expect(r.json["error"]?["message"]?.string?.contains("\(limit)") == true)
    }

    @Test("unknown model on /v1/models/{id} is 404 model_not_found; unknown route is a 404 envelope")
    func notFound() async throws {
        let server = try Fixtures.tinyServer()
        let (model, route) = try await withRouter(server) { c in
            (try await c.get("/v1/models/nope"), try await c.get("/v1/nothing"))
        }
        #expect(model.status == .notFound)
        #expect(model.json["error"]?["code"]?.string == "model_not_found")
        #expect(route.status == .notFound)
        #expect(route.json["error"]?["type"]?.string == "invalid_request_error")
    }

    @Test("a body over the limit is 413")
    func tooLarge() async throws {
        let server = try Fixtures.tinyServer { $0.maxBodyBytes = 1000 }
        let big = #"{"prompt": ""# + String(repeating: "a", count: 5000) + #""}"#
        let r = try await withRouter(server) { c in try await c.post("/v1/completions", big) }
        #expect(r.status == .contentTooLarge)
        #expect(r.json["error"]?["code"]?.string == "request_too_large")
    }

    @Test("a full queue is 429 with Retry-After")
    func overloaded() async throws {
        let server = try Fixtures.tinyServer(options: EngineOptions(kvCacheTokens: 2048, maxQueued: 0))
        let r = try await withRouter(server) { c in
            try await c.post("/v1/completions", #"{"prompt": "hello", "max_tokens": 2}"#)
        }
        #expect(r.status == .tooManyRequests)
        #expect(r.headers[.retryAfter] == "1")
        #expect(r.json["error"]?["code"]?.string == "rate_limit_exceeded")
    }

    @Test("with --api-key, a missing or wrong bearer token is 401; health stays open")
    func apiKey() async throws {
        let server = try Fixtures.tinyServer { $0.apiKey = "sekret" }
        let (none, wrong, right, health) = try await withRouter(server) { c in
            (try await c.get("/v1/models"),
             try await c.get("/v1/models", headers: [.authorization: "Bearer nope"]),
             try await c.get("/v1/models", headers: [.authorization: "Bearer sekret"]),
             try await c.get("/health"))
        }
        #expect(none.status == .unauthorized)
        #expect(none.json["error"]?["code"]?.string == "invalid_api_key")
        #expect(wrong.status == .unauthorized)
        #expect(right.status == .ok)
        #expect(health.status == .ok)
    }
}

