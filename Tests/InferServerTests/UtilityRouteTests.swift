import Engine
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer

@Suite("Models, tokenize, health, metrics")
struct UtilityRouteTests {
    @Test("models list and lookup")
    func models() async throws {
        let server = try Fixtures.tinyServer()
        let (list, one) = try await withRouter(server) { c in
            (try await c.get("/v1/models"), try await c.get("/v1/models/tiny"))
        }
        #expect(list.json["object"]?.string == "list")
        #expect(list.json["data"]?[0]?["id"]?.string == "tiny")
        #expect(list.json["data"]?[0]?["object"]?.string == "model")
        #expect(one.json["id"]?.string == "tiny")
        #expect(one.json["max_model_len"]?.int == server.contextLength)
    }

    @Test("tokenize and detokenize round-trip (vLLM's shape)")
    func tokenize() async throws {
        let server = try Fixtures.gemmaServer()
        let (tok, chat) = try await withRouter(server) { c in
            (try await c.post("/tokenize", #"{"model": "gemma-test", "prompt": "Hello world"}"#),
             try await c.post("/tokenize", #"{"messages": [{"role": "user", "content": "Hi"}]}"#))
        }
        let tokens = try #require(tok.json["tokens"]?.array).compactMap(\.int)
        #expect(tokens == [2, 9259, 1902])
        #expect(tok.json["count"]?.int == 3)
        #expect(tok.json["max_model_len"]?.int == 32768)
        let chatTokens = try #require(chat.json["tokens"]?.array).compactMap(\.int)
        #expect(Array(chatTokens.prefix(4)) == [2, 105, 2364, 107])
        let ids = tokens.dropFirst().map(String.init).joined(separator: ",")
        let detok = try await withRouter(server) { c in try await c.post("/detokenize", #"{"tokens": [\#(ids)]}"#) }
        #expect(detok.json["prompt"]?.string == "Hello world")
    }

    @Test("health, readiness and Prometheus metrics")
    func health() async throws {
        let server = try Fixtures.tinyServer()
        let (health, ready, _, metrics) = try await withRouter(server) { c in
            (try await c.get("/health"), try await c.get("/health/readiness"),
             try await c.post("/v1/completions", #"{"prompt": "hi", "max_tokens": 2, "ignore_eos": true}"#),
             try await c.get("/metrics"))
        }
        #expect(health.status == .ok)
        #expect(ready.status == .ok)
        #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
        let text = metrics.text
        for name in ["infer_requests_total{route=\"/v1/completions\",status=\"200\"} 1",
                     "infer_request_duration_seconds_bucket", "infer_time_to_first_token_seconds_count 1",
                     "infer_prompt_tokens_total", "infer_generation_tokens_total 2", "infer_queue_depth",
                     "infer_prefix_cache_query_tokens_total", "infer_prefix_cache_hit_tokens_total",
                     "infer_kv_blocks{state=\"used\"}", "infer_kv_blocks{state=\"free\"}",
                     "infer_kv_blocks{state=\"cached\"}"] {
            #expect(text.contains(name), "\(name)")
        }
    }

    @Test("a live server streams over a real socket and a dropped client frees the sequence")
    func liveDisconnect() async throws {
        // A private Gemma engine: its 32k context would take minutes to fill, so only a cancellation can
        // bring `running` back to 0 within the polling window.
        let engine = try InferenceEngine(model: try Fixtures.load(Fixtures.gemmaPath),
                                         options: EngineOptions(kvCacheTokens: 4096))
        defer { engine.shutdown() }
        let server = OpenAIServer(engine: engine, settings: ServerSettings(port: 0, servedModelName: "g"))
        try await buildApplication(server).test(.live) { client in
            let port = try #require(client.port)
            // Start a long stream on a raw socket, read the first event, then close the socket.
            let body = #"{"prompt": "a", "ignore_eos": true, "stream": true}"#   // until the context is full
            let request = "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            // Blocking socket calls run on their own thread, never on the cooperative pool.
            let head = try await RawSocket.offPool {
                let socket = try RawSocket(port: port)
                defer { socket.close() }
                try socket.send(request)
                return try socket.receive(until: "data: ")
            }
            #expect(head.contains("200 OK"))
            // The engine drops the request once the next write fails: poll its stats (bounded).
            var running = 1
            for _ in 0..<200 where running > 0 {
                try await Task.sleep(for: .milliseconds(50))
                running = server.engine.stats().running
            }
            #expect(running == 0)
        }
    }
}

/// A minimal blocking TCP client for the disconnect test (the test client cannot drop a stream midway).
final class RawSocket: @unchecked Sendable {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)   // a hung server fails the test instead of hanging it
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Runs blocking work on a new thread and returns its result.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    func send(_ s: String) throws {
        let bytes = Array(s.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw POSIXError(.EIO) }
    }

    func receive(until marker: String) throws -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: data, as: UTF8.self).contains(marker) {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw POSIXError(.ECONNRESET) }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    func close() { _ = Glibc.close(fd) }
}
