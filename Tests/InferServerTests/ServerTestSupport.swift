import Engine
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import InferServer
import Gateway

/// Models, shared engines and request helpers for the server tests.
enum Fixtures {
    /// Repository root (three levels above this file).
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `shared/reference` beside the repository (or beside its parent, for a working copy one level down).
    static let reference: URL = {
        let candidates = [repo.deletingLastPathComponent(), repo.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("shared/reference") }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) } ?? candidates[0]
    }()

    static let gemmaPath = repo.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    static let tinyLlamaPath = reference.appendingPathComponent("tiny-llama-spm/tiny-llama-spm.gguf").path

    static func load(_ path: String) throws -> LanguageModel {
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingFile(path: path)
        }
        return try LanguageModel(path: path, maxBatch: 128)
    }

    struct MissingFile: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing \(path): run `models/install` (or `make test`, which installs it)" }
    }

    /// One Gemma engine shared by every test (tests run in parallel; the engine batches them).
    static let gemma: Result<OpenAIServer, any Error> = Result {
        let engine = try InferenceEngine(model: try load(gemmaPath), options: EngineOptions(kvCacheTokens: 16384))
        return OpenAIServer(engine: engine, settings: ServerSettings(port: 0, servedModelName: "gemma-test"))
    }

    static func gemmaServer() throws -> OpenAIServer { try gemma.get() }

    /// A tiny-model server with custom settings and engine options (fast checks of limits).
    static func tinyServer(settings: (inout ServerSettings) -> Void = { _ in },
                           options: EngineOptions = EngineOptions(kvCacheTokens: 2048)) throws -> OpenAIServer {
        var s = ServerSettings(port: 0, servedModelName: "tiny")
        settings(&s)
        let engine = try InferenceEngine(model: try load(tinyLlamaPath), options: options)
        return OpenAIServer(engine: engine, settings: s)
    }
}

/// A response decoded for assertions.
struct Reply {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: JSONValue { (try? JSONValue.parse(Data(text.utf8))) ?? .null }

    /// The `data:` payloads of an SSE body, in order.
    var events: [String] {
        text.components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }
}

extension TestClientProtocol {
    /// POSTs a JSON body (a string, sent verbatim).
    func post(_ uri: String, _ body: String, headers: HTTPFields = [:]) async throws -> Reply {
        var h = headers
        h[.contentType] = "application/json"
        return try await execute(uri: uri, method: .post, headers: h, body: ByteBuffer(string: body)) { r in
            Reply(status: r.status, headers: r.headers, text: String(buffer: r.body))
        }
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> Reply {
        try await execute(uri: uri, method: .get, headers: headers) { r in
            Reply(status: r.status, headers: r.headers, text: String(buffer: r.body))
        }
    }
}

extension JSONValue {
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var int: Int? { if case .int(let i) = self { i } else { nil } }
    var number: Double? {
        switch self { case .int(let i): Double(i); case .double(let d): d; default: nil }
    }
    var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    var keys: [String] { if case .object(let p) = self { p.map(\.0) } else { [] } }
    subscript(index: Int) -> JSONValue? { array.flatMap { index < $0.count ? $0[index] : nil } }
}

/// Runs `body` against the in-process router of `server`.
func withRouter<T>(_ server: OpenAIServer, _ body: @Sendable @escaping (any TestClientProtocol) async throws -> T) async throws -> T {
    try await buildApplication(server).test(.router) { client in try await body(client) }
}

/// The local engine of a test server (every fixture server has one; gateway-only servers are built apart).
extension OpenAIServer {
    var engine: InferenceEngine { local!.engine }
    var template: ChatTemplate { local!.template }
    var tokenizer: any Tokenizer { local!.tokenizer }
    var contextLength: Int { local!.contextLength }
}
