import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Logging

/// What a fake deployment does with the next request.
enum UpstreamFault: Sendable {
    case none
    /// A status with a JSON body and an optional `retry-after` header.
    case status(Int, body: String, retryAfter: String? = nil)
    /// Never answers (released when the server stops).
    case hang
    /// Streams: the head at once, the first byte after the delay. Non-streaming: the answer after it.
    case slowFirstByte(seconds: Double)
    /// Streams this many chunks, then drops the connection.
    case brokenStream(afterChunks: Int)
    /// OpenAI's 400 context_length_exceeded.
    case contextLength
    /// The first `count` requests get `fault`, later ones succeed.
    indirect case failFirst(Int, UpstreamFault)

    static let serverError = UpstreamFault.status(500, body: #"{"error":{"message":"boom","type":"server_error","param":null,"code":null}}"#)
    static func rateLimited(retryAfter: String) -> UpstreamFault {
        .status(429, body: #"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
                retryAfter: retryAfter)
    }
}

/// Per-deployment faults, hit counters, last request bodies and headers.
actor UpstreamState {
    private var faults: [String: UpstreamFault] = [:]
    private(set) var hits: [String: Int] = [:]
    private(set) var lastBody: [String: JSONValue] = [:]
    private(set) var lastHeaders: [String: [String: String]] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var released = false

    func set(_ name: String, _ fault: UpstreamFault) { faults[name] = fault }

    func register(_ name: String, body: JSONValue, headers: [String: String]) -> UpstreamFault {
        let hit = (hits[name] ?? 0) + 1
        hits[name] = hit
        lastBody[name] = body
        lastHeaders[name] = headers
        switch faults[name] ?? .none {
        case .failFirst(let count, let fault): return hit <= count ? fault : .none
        case let fault: return fault
        }
    }

    func waitForRelease() async {
        if released { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func releaseAll() {
        released = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

/// A live Hummingbird server on 127.0.0.1:0 that plays OpenAI-compatible deployments under
/// `/d/{name}/v1/...` and Anthropic ones under `/d/{name}/v1/messages`, each with a switchable fault.
struct TestUpstream: Sendable {
    let port: Int
    let state: UpstreamState

    /// OpenAI-style `api_base` of deployment `name`.
    func base(_ name: String) -> String { "http://127.0.0.1:\(port)/d/\(name)/v1" }
    /// Anthropic `api_base` of deployment `name` (the provider appends `/v1/messages`).
    func anthropicBase(_ name: String) -> String { "http://127.0.0.1:\(port)/d/\(name)" }
    func hits(_ name: String) async -> Int { await state.hits[name] ?? 0 }
    func set(_ name: String, _ fault: UpstreamFault) async { await state.set(name, fault) }

    /// A port on loopback where nothing listens.
    static let deadBase = "http://127.0.0.1:1/v1"

    static func with<T: Sendable>(_ body: @Sendable (TestUpstream) async throws -> T) async throws -> T {
        let state = UpstreamState()
        let router = Router()
        router.post("/d/{name}/v1/chat/completions") { request, context in
            try await handleOpenAI(request, context, state: state, endpoint: .chat)
        }
        router.post("/d/{name}/v1/completions") { request, context in
            try await handleOpenAI(request, context, state: state, endpoint: .completions)
        }
        router.post("/d/{name}/v1/messages") { request, context in
            try await handleAnthropic(request, context, state: state)
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "test-upstream")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
                              logger: logger)
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let upstream = TestUpstream(port: port, state: state)
        do {
            let value = try await body(upstream)
            await state.releaseAll()
            server.cancel()
            _ = await server.result
            return value
        } catch {
            await state.releaseAll()
            server.cancel()
            _ = await server.result
            throw error
        }
    }

    // MARK: handlers

    private static func read(_ request: Request, _ context: BasicRequestContext, state: UpstreamState)
        async throws -> (name: String, body: JSONValue, fault: UpstreamFault) {
        let name = context.parameters.get("name") ?? "?"
        let buffer = try await request.body.collect(upTo: 1 << 22)
        let body = try JSONValue.parse(Data(buffer.readableBytesView))
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let fault = await state.register(name, body: body, headers: headers)
        return (name, body, fault)
    }

    private static func json(_ status: Int, _ text: String, extra: [(String, String)] = []) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        return Response(status: .init(code: status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    private static func sse(_ events: [String], fault: UpstreamFault, state: UpstreamState) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
            if case .slowFirstByte(let seconds) = fault { try await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
            for (i, event) in events.enumerated() {
                if case .brokenStream(let n) = fault, i == n { throw CancellationError() }
                try await writer.write(ByteBuffer(string: event))
            }
            try await writer.finish(nil)
        })
    }

    /// Common faults that do not depend on the API shape; nil = carry on.
    private static func commonFault(_ fault: UpstreamFault, state: UpstreamState) async throws -> Response? {
        switch fault {
        case .status(let code, let body, let retryAfter):
            return json(code, body, extra: retryAfter.map { [("retry-after", $0)] } ?? [])
        case .hang:
            await state.waitForRelease()
            return json(503, #"{"error":{"message":"released"}}"#)
        case .contextLength:
            return json(400, #"{"error":{"message":"This model's maximum context length is 4097 tokens. However, your messages resulted in 5000 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#)
        default:
            return nil
        }
    }

    private static func handleOpenAI(_ request: Request, _ context: BasicRequestContext, state: UpstreamState,
                                     endpoint: Endpoint) async throws -> Response {
        let (name, body, fault) = try await read(request, context, state: state)
        if let response = try await commonFault(fault, state: state) { return response }
        let model = body["model"]?.stringValueForTest ?? "?"
        let words = ["hello", " from", " \(name)"]
        if body["stream"] == .bool(true) {
            var events: [String] = []
            func chunk(_ choice: String) -> String {
                let object = endpoint == .chat ? "chat.completion.chunk" : "text_completion"
                return "data: {\"id\":\"cmpl-\(name)\",\"object\":\"\(object)\",\"created\":1,\"model\":\"\(model)\",\"choices\":[\(choice)]}\n\n"
            }
            if endpoint == .chat {
                events.append(chunk(#"{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}"#))
                for word in words {
                    events.append(chunk("{\"index\":0,\"delta\":{\"content\":\"\(word)\"},\"logprobs\":null,\"finish_reason\":null}"))
                }
                events.append(chunk(#"{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}"#))
            } else {
                for word in words {
                    events.append(chunk("{\"text\":\"\(word)\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}"))
                }
                events.append(chunk(#"{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}"#))
            }
            events.append("data: [DONE]\n\n")
            return sse(events, fault: fault, state: state)
        }
        if case .slowFirstByte(let seconds) = fault { try await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
        let text = words.joined()
        let usage = #""usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2}}"#
        if endpoint == .chat {
            return json(200, "{\"id\":\"chatcmpl-\(name)\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"\(text)\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\(usage)}")
        }
        return json(200, "{\"id\":\"cmpl-\(name)\",\"object\":\"text_completion\",\"created\":1,\"model\":\"\(model)\",\"choices\":[{\"text\":\"\(text)\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],\(usage)}")
    }

    private static func handleAnthropic(_ request: Request, _ context: BasicRequestContext,
                                        state: UpstreamState) async throws -> Response {
        let (name, body, fault) = try await read(request, context, state: state)
        guard request.headers[HTTPField.Name("x-api-key")!] != nil else {
            return json(401, #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#)
        }
        guard request.headers[HTTPField.Name("anthropic-version")!] != nil else {
            return json(400, #"{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version header is required"}}"#)
        }
        if case .contextLength = fault {
            return json(400, #"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#)
        }
        if let response = try await commonFault(fault, state: state) { return response }
        let model = body["model"]?.stringValueForTest ?? "?"
        if body["stream"] == .bool(true) {
            // Recorded shape of a Messages stream (https://docs.anthropic.com/en/api/messages-streaming).
            let events = [
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_\(name)\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"\(model)\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
                "event: ping\ndata: {\"type\": \"ping\"}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" from \(name)\"}}\n\n",
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            ]
            return sse(events, fault: fault, state: state)
        }
        return json(200, "{\"id\":\"msg_\(name)\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"\(model)\",\"content\":[{\"type\":\"text\",\"text\":\"Hello from \(name)\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":100,\"output_tokens\":6}}")
    }
}

extension JSONValue {
    var stringValueForTest: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}
