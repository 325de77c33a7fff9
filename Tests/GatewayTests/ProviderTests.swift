import CurlHTTP
import Foundation
import Gateway
import Testing

func collect(_ result: ProviderResult) async throws -> [JSONValue] {
    guard case .stream(let stream) = result else { throw ProviderTestError.notAStream }
    var chunks: [JSONValue] = []
    for try await chunk in stream { chunks.append(chunk) }
    return chunks
}

func response(_ result: ProviderResult) throws -> JSONValue {
    guard case .response(let json) = result else { throw ProviderTestError.notAResponse }
    return json
}

func text(of chunks: [JSONValue]) -> String {
    chunks.compactMap { chunk -> String? in
        guard case .array(let choices)? = chunk["choices"], let first = choices.first else { return nil }
        return (first["delta"]?["content"] ?? first["text"])?.stringValueForTest
    }.joined()
}

enum ProviderTestError: Error { case notAStream, notAResponse }

/// The value with object keys sorted at every level, for order-insensitive comparison
/// (`JSONValue.parse` on the test server does not keep key order).
func sorted(_ value: JSONValue?) -> JSONValue? {
    switch value {
    case .object(let pairs)?: .object(pairs.map { ($0.0, sorted($0.1)!) }.sorted { $0.0 < $1.0 })
    case .array(let items)?: .array(items.map { sorted($0)! })
    default: value
    }
}

let chatBody: JSONValue = ["model": "m", "messages": [["role": "user", "content": "hi"]]]

@Suite(.serialized) struct ProviderTests {
    @Test func openAIChatRoundTripNonStreamingAndStreaming() async throws {
        try await TestUpstream.with { upstream in
            let provider = OpenAICompatibleProvider(apiBase: upstream.base("o"), apiKey: "sk-test")
            let json = try response(try await provider.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: false)))
            #expect(json["choices"]?.arrayField?.first?["message"]?["content"] == "hello from o")
            #expect(json["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 2)
            #expect(await upstream.state.lastHeaders["o"]?["authorization"] == "Bearer sk-test")
            #expect(await upstream.state.lastBody["o"]?["stream"] == false)

            let chunks = try await collect(try await provider.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: true)))
            #expect(text(of: chunks) == "hello from o")
            #expect(chunks.count == 5)
            #expect(chunks.last?["choices"]?.arrayField?.first?["finish_reason"] == "stop")

            let completion = try await collect(try await provider.send(ProviderRequest(
                endpoint: .completions, body: ["model": "m", "prompt": "x"], stream: true)))
            #expect(text(of: completion) == "hello from o")
            let plain = try response(try await provider.send(ProviderRequest(
                endpoint: .completions, body: ["model": "m", "prompt": "x"], stream: false)))
            #expect(plain["choices"]?.arrayField?.first?["text"] == "hello from o")
        }
    }

    @Test func connectionsAreReused() async throws {
        try await TestUpstream.with { upstream in
            let client = HTTPClient()
            let request = HTTPClientRequest(url: upstream.base("r") + "/chat/completions",
                                            headers: [("Content-Type", "application/json")],
                                            body: Array(chatBody.serialized().utf8), timeout: 5)
            let first = try await client.execute(request)
            _ = try await first.collect()
            let second = try await client.execute(request)
            _ = try await second.collect()
            #expect(first.head.newConnections == 1)
            #expect(second.head.newConnections == 0)
        }
    }

    @Test func upstreamErrorsAreClassified() async throws {
        try await TestUpstream.with { upstream in
            let provider = OpenAICompatibleProvider(apiBase: upstream.base("e"), apiKey: nil)
            let request = ProviderRequest(endpoint: .chat, body: chatBody, stream: true)
            let cases: [(UpstreamFault, ProviderError.Kind, Int)] = [
                (.contextLength, .contextWindowExceeded, 400), (.rateLimited(retryAfter: "7"), .rateLimited, 429),
                (.serverError, .server, 500), (.status(401, body: "{}"), .authentication, 401),
                (.status(404, body: "not here"), .notFound, 404),
                (.status(400, body: #"{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 3000 tokens","type":"BadRequestError","code":400}"#), .contextWindowExceeded, 400),
                (.status(400, body: #"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","code":"content_policy_violation"}}"#), .contentPolicy, 400),
            ]
            for (fault, kind, status) in cases {
                await upstream.set("e", fault)
                await #expect(throws: ProviderError.self) { try await provider.send(request) }
                do {
                    _ = try await provider.send(request)
                } catch let error as ProviderError {
                    #expect(error.kind == kind && error.status == status, "\(fault)")
                    if kind == .rateLimited { #expect(error.retryAfter == 7) }
                    if kind == .contextWindowExceeded { #expect(error.code == "context_length_exceeded") }
                }
            }
        }
    }

    @Test func deadPortIsAConnectionError() async throws {
        let provider = OpenAICompatibleProvider(apiBase: TestUpstream.deadBase, apiKey: nil)
        do {
            _ = try await provider.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: false, timeout: 5))
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .connection && error.status == 503)
        }
    }

    @Test func timeoutAndStreamTimeoutAreEnforced() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("hang", .hang)
            let hang = OpenAICompatibleProvider(apiBase: upstream.base("hang"), apiKey: nil)
            let start = ContinuousClock.now
            do {
                _ = try await hang.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: false, timeout: 0.3))
                Issue.record("expected a timeout")
            } catch let error as ProviderError {
                #expect(error.kind == .timeout && error.status == 408)
            }
            #expect(start.duration(to: .now) < .seconds(3))

            await upstream.set("slow", .slowFirstByte(seconds: 0.8))
            let slow = OpenAICompatibleProvider(apiBase: upstream.base("slow"), apiKey: nil)
            do {
                _ = try await slow.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: true, timeout: 10,
                                                        streamTimeout: 0.2))
                Issue.record("expected a first-byte timeout")
            } catch let error as ProviderError {
                #expect(error.kind == .timeout)
            }
            let chunks = try await collect(try await slow.send(ProviderRequest(
                endpoint: .chat, body: chatBody, stream: true, timeout: 10, streamTimeout: 5)))
            #expect(text(of: chunks) == "hello from slow")
        }
    }

    @Test func brokenStreamFailsAfterTheFirstChunks() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("b", .brokenStream(afterChunks: 2))
            let provider = OpenAICompatibleProvider(apiBase: upstream.base("b"), apiKey: nil)
            let result = try await provider.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: true, timeout: 5))
            guard case .stream(let stream) = result else { Issue.record("not a stream"); return }
            var received = 0
            do {
                for try await _ in stream { received += 1 }
                Issue.record("expected the stream to fail")
            } catch {
                #expect(received == 2)
            }
            // broken before the first chunk: thrown from send
            await upstream.set("b0", .brokenStream(afterChunks: 0))
            let early = OpenAICompatibleProvider(apiBase: upstream.base("b0"), apiKey: nil)
            await #expect(throws: ProviderError.self) {
                try await early.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: true, timeout: 5))
            }
        }
    }

    @Test func anthropicTranslatesRequestsResponsesAndUsage() async throws {
        try await TestUpstream.with { upstream in
            let provider = AnthropicProvider(apiBase: upstream.anthropicBase("an"), apiKey: "sk-ant")
            let body: JSONValue = [
                "model": "claude-sonnet-4-5",
                "messages": [
                    ["role": "system", "content": [["type": "text", "text": "Be brief.", "cache_control": ["type": "ephemeral"]]]],
                    ["role": "user", "content": "hi"],
                ],
                "stop": "END", "temperature": 0.5, "top_k": 3,
            ]
            let json = try response(try await provider.send(ProviderRequest(endpoint: .chat, body: body, stream: false)))
            let sent = await upstream.state.lastBody["an"]
            #expect(sorted(sent?["system"]) == sorted([["type": "text", "text": "Be brief.", "cache_control": ["type": "ephemeral"]]]))
            #expect(sorted(sent?["messages"]) == sorted([["role": "user", "content": [["type": "text", "text": "hi"]]]]))
            #expect(sent?["max_tokens"] == 4096 && sent?["stop_sequences"] == ["END"])
            #expect(sent?["temperature"] == 0.5 && sent?["top_k"] == 3)
            #expect(await upstream.state.lastHeaders["an"]?["x-api-key"] == "sk-ant")
            #expect(await upstream.state.lastHeaders["an"]?["anthropic-version"] == "2023-06-01")

            let choice = json["choices"]?.arrayField?.first
            #expect(choice?["message"]?["content"] == "Hello from an" && choice?["finish_reason"] == "stop")
            #expect(json["object"] == "chat.completion")
            #expect(json["usage"]?["prompt_tokens"] == 115 && json["usage"]?["completion_tokens"] == 6)
            #expect(json["usage"]?["total_tokens"] == 121)
            #expect(json["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 100)

            let chunks = try await collect(try await provider.send(ProviderRequest(endpoint: .chat, body: body, stream: true)))
            #expect(text(of: chunks) == "Hello from an")
            #expect(chunks.first?["choices"]?.arrayField?.first?["delta"]?["role"] == "assistant")
            let last = chunks.last
            #expect(last?["choices"]?.arrayField?.first?["finish_reason"] == "length")
            #expect(last?["usage"]?["prompt_tokens"] == 130 && last?["usage"]?["completion_tokens"] == 15)
            #expect(last?["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 100)
            #expect(chunks.allSatisfy { $0["object"] == "chat.completion.chunk" && $0["id"] == "msg_an" })
        }
    }

    @Test func anthropicTranslatesToolsAndToolTurns() async throws {
        try await TestUpstream.with { upstream in
            let provider = AnthropicProvider(apiBase: upstream.anthropicBase("tools") + "/v1", apiKey: "k")
            let body: JSONValue = [
                "model": "claude",
                "messages": [
                    ["role": "user", "content": "weather?"],
                    ["role": "assistant", "content": .null, "tool_calls": [
                        ["id": "call_1", "type": "function", "function": ["name": "get_weather", "arguments": "{\"city\":\"Paris\"}"]],
                    ]],
                    ["role": "tool", "tool_call_id": "call_1", "content": "sunny"],
                ],
                "tools": [["type": "function", "function": ["name": "get_weather", "description": "d",
                                                            "parameters": ["type": "object"]]]],
                "tool_choice": "required", "max_completion_tokens": 50, "user": "u1",
            ]
            _ = try await provider.send(ProviderRequest(endpoint: .chat, body: body, stream: false))
            let sent = try #require(await upstream.state.lastBody["tools"])
            #expect(sorted(sent["messages"]) == sorted([
                ["role": "user", "content": [["type": "text", "text": "weather?"]]],
                ["role": "assistant", "content": [["type": "tool_use", "id": "call_1", "name": "get_weather",
                                                   "input": ["city": "Paris"]]]],
                ["role": "user", "content": [["type": "tool_result", "tool_use_id": "call_1", "content": "sunny"]]],
            ]))
            #expect(sorted(sent["tools"]) == sorted([["name": "get_weather", "description": "d", "input_schema": ["type": "object"]]]))
            #expect(sent["tool_choice"] == ["type": "any"] && sent["max_tokens"] == 50)
            #expect(sent["metadata"] == ["user_id": "u1"] && sent["system"] == nil)
        }
    }

    @Test func anthropicErrorsAreClassified() async throws {
        try await TestUpstream.with { upstream in
            await upstream.set("cw", .contextLength)
            let provider = AnthropicProvider(apiBase: upstream.anthropicBase("cw"), apiKey: "k")
            do {
                _ = try await provider.send(ProviderRequest(endpoint: .chat, body: chatBody, stream: true))
                Issue.record("expected an error")
            } catch let error as ProviderError {
                #expect(error.kind == .contextWindowExceeded && error.status == 400)
            }
            await upstream.set("ov", .status(529, body: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
            do {
                _ = try await AnthropicProvider(apiBase: upstream.anthropicBase("ov"), apiKey: "k")
                    .send(ProviderRequest(endpoint: .chat, body: chatBody, stream: false))
                Issue.record("expected an error")
            } catch let error as ProviderError {
                #expect(error.kind == .overloaded && error.message == "Overloaded")
            }
            do {
                _ = try await AnthropicProvider(apiBase: upstream.anthropicBase("nokey"), apiKey: nil)
                    .send(ProviderRequest(endpoint: .chat, body: chatBody, stream: false))
                Issue.record("expected an error")
            } catch let error as ProviderError {
                #expect(error.kind == .authentication && error.status == 401)
            }
        }
    }
}

extension JSONValue {
    var arrayField: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
