import Foundation
@testable import Gateway

// Input: a JSON document (the gateway's untrusted request and upstream-response bodies). Invariants:
// - parseOrdered never crashes; serialized() output parses back to the same value (numbers that are not
//   finite excepted: JSON has no infinities) and re-serializes to the same text;
// - the canonical cache-key JSON parses and is idempotent; keys are stable;
// - cache controls, Anthropic request/response translation and cache replay either work or throw.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONValue.parseOrdered(bytes) else { return 0 }

    let text = value.serialized()
    guard let again = try? JSONValue.parseOrdered(Array(text.utf8)) else { fatalError("JSON: serialized output does not parse: \(text)") }
    if isFinite(value) {
        guard again == value else { fatalError("JSON: round trip changed the value: \(text)") }
        guard again.serialized() == text else { fatalError("JSON: second serialization differs: \(text)") }
    }

    let canonical = CacheKey.canonicalJSON(value)
    guard let reparsed = try? JSONValue.parseOrdered(Array(canonical.utf8)) else { fatalError("JSON: canonical JSON does not parse: \(canonical)") }
    if isFinite(value) {
        guard CacheKey.canonicalJSON(reparsed) == canonical else { fatalError("JSON: canonical JSON is not idempotent: \(canonical)") }
    }
    for kind in [CacheRequestKind.chat, .completion, .embedding] {
        let a = CacheKey.make(kind: kind, body: value, namespace: value["model"]?.stringField, tenant: "t")
        guard a == CacheKey.make(kind: kind, body: value, namespace: value["model"]?.stringField, tenant: "t") else {
            fatalError("JSON: cache key not deterministic")
        }
        _ = CacheKey.belongs(a, to: value["model"]?.stringField)
    }
    if let ns = value["namespace"]?.stringField { _ = CacheKey.scanPattern(namespace: ns) }

    _ = try? CacheControls.parse(body: value, header: value["cache_control_header"]?.stringField)

    for endpoint in [Endpoint.chat, .completions] {
        _ = try? AnthropicTranslation.messagesRequest(from: value, endpoint: endpoint, stream: endpoint == .chat)
        let response = AnthropicTranslation.openAIResponse(from: value, endpoint: endpoint, created: 1)
        _ = response.serialized()
    }
    _ = AnthropicTranslation.streamError(value)

    let rewritten = CacheReplay.rewrite(value, model: "m", usage: .zero, now: 1)
    _ = CacheReplay.rewrite(value, model: nil, usage: .stored, now: 1)
    let chunks = CacheReplay.streamChunks(from: rewritten, includeUsage: true)
    _ = CacheReplay.assemble(chunks: chunks)
    if case .array(let items) = value { _ = CacheReplay.assemble(chunks: items) }
    return 0
}

func isFinite(_ v: JSONValue) -> Bool {
    switch v {
    case .double(let d): return d.isFinite
    case .array(let items): return items.allSatisfy(isFinite)
    case .object(let pairs): return pairs.allSatisfy { isFinite($0.1) }
    default: return true
    }
}
