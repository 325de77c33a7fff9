import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import InferServer

/// The Files and Batch API routes over HTTP on the tiny model: a whole batch, ownership between keys, and
/// hostile uploads and ids.
@Suite("Batch API", .serialized)
struct BatchAPITests {
    static let boundary = "----infer-test-boundary-7MA4YWxkTrZu0gW"

    static func multipart(_ parts: [(name: String, filename: String?, data: String)]) -> String {
        var body = ""
        for p in parts {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(p.name)\""
            if let f = p.filename { body += "; filename=\"\(f)\"\r\nContent-Type: application/jsonl" }
            body += "\r\n\r\n\(p.data)\r\n"
        }
        return body + "--\(boundary)--\r\n"
    }

    static func line(_ id: String, model: String = "tiny", system: String, user: String, url: String = "/v1/chat/completions") -> String {
        #"{"custom_id": "\#(id)", "method": "POST", "url": "\#(url)", "body": {"model": "\#(model)", "max_tokens": 3, "temperature": 0, "messages": [{"role": "system", "content": "\#(system)"}, {"role": "user", "content": "\#(user)"}]}}"#
    }

    static func auth(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)"] }

    /// Runs `body` against a keyed tiny server with the Batch API in a fresh directory.
    static func withBatchServer(_ body: @Sendable @escaping (any TestClientProtocol, BatchService) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("batch-api-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try Fixtures.tinyServer(settings: {
            $0.apiKey = "sk-master"
            $0.virtualKeys = [VirtualKeyConfig(key: "sk-alice"), VirtualKeyConfig(key: "sk-bob")]
        })
        let gateway = GatewayBuild(pipeline: .quickPath(server, logger: Logger(label: "test")), embedders: [:])
        let batches = BatchService(directory: dir, concurrency: 2, server: server, gateway: gateway,
                                   logger: Logger(label: "test"))
        try await buildApplication(server, gateway: gateway, batches: batches).test(.router) { client in
            try await body(client, batches)
        }
        await batches.runner.stop()
    }

    static func upload(_ client: any TestClientProtocol, _ content: String, key: String, purpose: String = "batch",
                       contentType: String? = nil) async throws -> Reply {
        var headers = auth(key)
        headers[.contentType] = contentType ?? "multipart/form-data; boundary=\(boundary)"
        let body = multipart([("purpose", nil, purpose), ("file", "input.jsonl", content)])
        return try await client.execute(uri: "/v1/files", method: .post, headers: headers, body: ByteBuffer(string: body)) {
            Reply(status: $0.status, headers: $0.headers, text: String(buffer: $0.body))
        }
    }

    static func waitForEnd(_ client: any TestClientProtocol, _ id: String, key: String) async throws -> JSONValue {
        for _ in 0..<600 {
            let b = try await client.get("/v1/batches/\(id)", headers: auth(key)).json
            if let s = b["status"]?.string, ["completed", "failed", "cancelled", "expired"].contains(s) { return b }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("batch \(id) did not finish")
        return .null
    }

    @Test("upload, create, poll, download: every request answered by the model, in input order")
    func wholeBatch() async throws {
        try await Self.withBatchServer { client, _ in
            let systems = ["You are terse.", "You answer in French."]
            var lines: [String] = []
            for i in 0..<6 { lines.append(Self.line("r\(i)", system: systems[i % 2], user: "Say \(i).")) }
            lines.append(Self.line("bad-model", model: "nope", system: "x", user: "y"))
            let file = try await Self.upload(client, lines.joined(separator: "\n") + "\n", key: "sk-alice")
            #expect(file.status == .ok)
            #expect(file.json["object"] == "file")
            #expect(file.json["purpose"] == "batch")
            #expect(file.json["filename"] == "input.jsonl")
            let fileID = try #require(file.json["id"]?.string)
            #expect(fileID.hasPrefix("file-"))

            let created = try await client.post("/v1/batches", #"{"input_file_id": "\#(fileID)", "endpoint": "/v1/chat/completions", "completion_window": "24h", "metadata": {"job": "test"}}"#,
                                                headers: Self.auth("sk-alice"))
            #expect(created.status == .ok)
            #expect(created.json["object"] == "batch")
            #expect(created.json["metadata"]?["job"] == "test")
            let id = try #require(created.json["id"]?.string)
            let done = try await Self.waitForEnd(client, id, key: "sk-alice")
            #expect(done["status"] == "completed")
            #expect(done["request_counts"]?["total"] == 7)
            #expect(done["request_counts"]?["completed"] == 6)
            #expect(done["request_counts"]?["failed"] == 1)

            let outputID = try #require(done["output_file_id"]?.string)
            let output = try await client.get("/v1/files/\(outputID)/content", headers: Self.auth("sk-alice"))
            #expect(output.status == .ok)
            let results = output.text.split(separator: "\n").map { try! JSONValue.parse(Data($0.utf8)) }
            #expect(results.compactMap { $0["custom_id"]?.string } == (0..<6).map { "r\($0)" })
            for r in results {
                #expect(r["response"]?["status_code"] == 200)
                #expect(r["response"]?["body"]?["object"] == "chat.completion")
                #expect(r["response"]?["body"]?["usage"]?["completion_tokens"] == 3)
            }
            let errorID = try #require(done["error_file_id"]?.string)
            let errors = try await client.get("/v1/files/\(errorID)/content", headers: Self.auth("sk-alice")).text
            let errorLine = try JSONValue.parse(Data(errors.split(separator: "\n")[0].utf8))
            #expect(errorLine["custom_id"] == "bad-model")
            #expect(errorLine["response"]?["status_code"] == 404)

            // The same answers as an interactive request (greedy).
            let single = try await client.post("/v1/chat/completions", #"{"model": "tiny", "max_tokens": 3, "temperature": 0, "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say 0."}]}"#,
                                               headers: Self.auth("sk-alice"))
            #expect(single.json["choices"]?[0]?["message"]?["content"] == results[0]["response"]?["body"]?["choices"]?[0]?["message"]?["content"])

            let listed = try await client.get("/v1/batches?limit=5", headers: Self.auth("sk-alice")).json
            #expect(listed["data"]?.array?.compactMap { $0["id"]?.string } == [id])
        }
    }

    @Test("another key sees none of it: the same 404 as an id that does not exist; the master key sees all")
    func ownership() async throws {
        try await Self.withBatchServer { client, _ in
            let file = try await Self.upload(client, Self.line("a", system: "s", user: "u"), key: "sk-alice")
            let fileID = try #require(file.json["id"]?.string)
            let created = try await client.post("/v1/batches", #"{"input_file_id": "\#(fileID)", "endpoint": "/v1/chat/completions", "completion_window": "24h"}"#,
                                                headers: Self.auth("sk-alice"))
            let id = try #require(created.json["id"]?.string)
            _ = try await Self.waitForEnd(client, id, key: "sk-alice")
            for uri in ["/v1/files/\(fileID)", "/v1/files/\(fileID)/content", "/v1/batches/\(id)"] {
                let r = try await client.get(uri, headers: Self.auth("sk-bob"))
                #expect(r.status == .notFound, "\(uri)")
                #expect(r.json["error"]?["message"]?.string?.hasPrefix("No such") == true)
                #expect(try await client.get(uri, headers: Self.auth("sk-master")).status == .ok, "\(uri)")
            }
            #expect(try await client.post("/v1/batches/\(id)/cancel", "", headers: Self.auth("sk-bob")).status == .notFound)
            let stolen = try await client.post("/v1/batches", #"{"input_file_id": "\#(fileID)", "endpoint": "/v1/chat/completions"}"#,
                                               headers: Self.auth("sk-bob"))
            #expect(stolen.status == .notFound)
            #expect(try await client.get("/v1/files", headers: Self.auth("sk-bob")).json["data"]?.array?.isEmpty == true)
            #expect(try await client.get("/v1/batches", headers: Self.auth("sk-bob")).json["data"]?.array?.isEmpty == true)
            let deleted = try await client.execute(uri: "/v1/files/\(fileID)", method: .delete, headers: Self.auth("sk-bob")) { $0.status }
            #expect(deleted == .notFound)
            #expect(try await client.get("/v1/files/\(fileID)", headers: Self.auth("sk-alice")).status == .ok)
            // Without a key: 401.
            #expect(try await client.get("/v1/batches/\(id)").status == .unauthorized)
            // A finished batch cannot be cancelled.
            #expect(try await client.post("/v1/batches/\(id)/cancel", "", headers: Self.auth("sk-alice")).status == .conflict)
        }
    }

    @Test("hostile uploads and ids are refused with clear errors")
    func hostile() async throws {
        try await Self.withBatchServer { client, _ in
            let good = Self.line("a", system: "s", user: "u")
            let notMultipart = try await Self.upload(client, good, key: "sk-alice", contentType: "application/json")
            #expect(notMultipart.status == .badRequest)
            let noBoundary = try await Self.upload(client, good, key: "sk-alice", contentType: "multipart/form-data")
            #expect(noBoundary.status == .badRequest)
            let wrongBoundary = try await Self.upload(client, good, key: "sk-alice", contentType: "multipart/form-data; boundary=nothere")
            #expect(wrongBoundary.status == .badRequest)
            let fineTune = try await Self.upload(client, good, key: "sk-alice", purpose: "fine-tune")
            #expect(fineTune.status == .badRequest)
            #expect(fineTune.json["error"]?["param"] == "purpose")
            let brokenLine = try await Self.upload(client, good + "\n{not json\n", key: "sk-alice")
            #expect(brokenLine.status == .badRequest)
            #expect(brokenLine.json["error"]?["message"]?.string?.contains("line 2") == true)
            let duplicate = try await Self.upload(client, good + "\n" + good, key: "sk-alice")
            #expect(duplicate.json["error"]?["code"] == "duplicate_custom_id")
            // Truncated multipart: no closing boundary.
            var headers = Self.auth("sk-alice")
            headers[.contentType] = "multipart/form-data; boundary=\(Self.boundary)"
            let truncated = String(Self.multipart([("purpose", nil, "batch"), ("file", "x.jsonl", good)]).dropLast(30))
            let t = try await client.execute(uri: "/v1/files", method: .post, headers: headers, body: ByteBuffer(string: truncated)) { $0.status }
            #expect(t == .badRequest)

            for bad in ["..%2F..%2Fetc%2Fpasswd", "file-..", "file-AAAAAAAAAAAAAAAAAAAAAAAA", "file-aaaaaaaaaaaaaaaaaaaaaaa%00",
                        "batch_aaaaaaaaaaaaaaaaaaaaaaaa"] {
                #expect(try await client.get("/v1/files/\(bad)", headers: Self.auth("sk-master")).status == .notFound, "\(bad)")
                #expect(try await client.get("/v1/files/\(bad)/content", headers: Self.auth("sk-master")).status == .notFound, "\(bad)")
            }
            #expect(try await client.get("/v1/batches/file-aaaaaaaaaaaaaaaaaaaaaaaa", headers: Self.auth("sk-master")).status == .notFound)
            let file = try await Self.upload(client, good, key: "sk-alice")
            let fileID = try #require(file.json["id"]?.string)
            for (body, param) in [
                (#"{"input_file_id": "\#(fileID)", "endpoint": "/v1/images", "completion_window": "24h"}"#, "endpoint"),
                (#"{"input_file_id": "\#(fileID)", "endpoint": "/v1/chat/completions", "completion_window": "1h"}"#, "completion_window"),
                (#"{"endpoint": "/v1/chat/completions"}"#, "input_file_id"),
                (#"{"input_file_id": 7, "endpoint": "/v1/chat/completions"}"#, "input_file_id"),
                (#"{"input_file_id": "\#(fileID)", "endpoint": "/v1/chat/completions", "metadata": {"k": 1}}"#, "metadata"),
            ] {
                let r = try await client.post("/v1/batches", body, headers: Self.auth("sk-alice"))
                #expect(r.status == .badRequest, "\(body)")
                #expect(r.json["error"]?["param"]?.string == param, "\(body)")
            }
        }
    }
    @Test("a gateway-only server runs a batch through the router on a remote deployment")
    func remoteGroup() async throws {
        let upstream = try Fixtures.tinyServer()
        try await buildApplication(upstream).test(.live) { live in
            let port = try #require(live.port)
            let (server, build) = try await GatewayOnlyTests.gateway(upstreamPort: port)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("batch-remote-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let batches = BatchService(directory: dir, concurrency: 2, server: server, gateway: build,
                                       logger: Logger(label: "test"))
            try await buildApplication(server, gateway: build, batches: batches).test(.router) { client in
                let lines = (0..<3).map { Self.line("x\($0)", model: "remote", system: "s", user: "Say \($0).") }
                var headers = HTTPFields()
                headers[.contentType] = "multipart/form-data; boundary=\(Self.boundary)"
                let body = Self.multipart([("purpose", nil, "batch"), ("file", "in.jsonl", lines.joined(separator: "\n"))])
                let file = try await client.execute(uri: "/v1/files", method: .post, headers: headers,
                                                    body: ByteBuffer(string: body)) { String(buffer: $0.body) }
                let fileID = try #require(try JSONValue.parse(Data(file.utf8))["id"]?.string)
                let created = try await client.post("/v1/batches", #"{"input_file_id": "\#(fileID)", "endpoint": "/v1/chat/completions", "completion_window": "24h"}"#)
                let id = try #require(created.json["id"]?.string)
                let done = try await Self.waitForEnd(client, id, key: "unused")
                #expect(done["status"] == "completed")
                #expect(done["request_counts"]?["completed"] == 3)
                let output = try await client.get("/v1/files/\(try #require(done["output_file_id"]?.string))/content")
                let first = try JSONValue.parse(Data(try #require(output.text.split(separator: "\n").first).utf8))
                #expect(first["response"]?["body"]?["model"] == "remote")
                #expect(first["response"]?["body"]?["usage"]?["completion_tokens"] == 3)
            }
            await batches.runner.stop()
        }
    }
}
