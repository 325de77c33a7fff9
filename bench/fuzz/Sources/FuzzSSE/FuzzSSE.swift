import CurlHTTP
@testable import Gateway

// Input: byte 0 seeds the chunking, the rest is the stream. Invariants: no crash; the events (or the limit
// error: small limits here, so the fuzzer reaches them) do not depend on how the stream is split into chunks
// (one chunk, one byte at a time, pseudo-random splits); every
// event field is what the spec allows (no CR / LF in event type or id, data never contains CR). The events
// then go through the provider stream translators (OpenAI pass-through, Anthropic Messages -> OpenAI chunks)
// the way SSEStreamPump drives them: until `.done` or the first error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSE(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    var seed = UInt64(data[0]) &* 0x9E37_79B9_7F4A_7C15 | 1
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    func parser() -> SSEParser { SSEParser(maxLineBytes: 64, maxEventBytes: 256) }
    var whole = parser()
    let reference: [SSEEvent]
    let refError: SSEParser.LimitExceeded?
    do {
        reference = try whole.feed(stream) + whole.finish()
        refError = nil
    } catch {
        reference = []
        refError = error
    }

    var bytewise = parser()
    var events: [SSEEvent] = []
    do {
        for b in stream { events += try bytewise.feed(CollectionOfOne(b)) }
        events += try bytewise.finish()
        guard refError == nil, events == reference else { fatalError("SSE: byte-at-a-time events differ from one chunk") }
    } catch {
        guard error == refError else { fatalError("SSE: byte-at-a-time limit error differs from one chunk") }
    }

    var random = parser()
    events = []
    var at = 0
    do {
        while at < stream.count {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
            let n = min(stream.count - at, Int(seed % 9))
            events += try random.feed(stream[at..<(at + n)])
            at += n
        }
        events += try random.finish()
        guard refError == nil, events == reference else { fatalError("SSE: randomly chunked events differ from one chunk") }
    } catch {
        guard error == refError else { fatalError("SSE: randomly chunked limit error differs from one chunk") }
    }

    for e in reference {
        if let type = e.event, type.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) { fatalError("SSE: newline in event type") }
        if let id = e.id, id.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) { fatalError("SSE: bad id") }
        if e.data.utf8.contains(0x0D) { fatalError("SSE: CR in data") }
        if let r = e.retry, r < 0 { fatalError("SSE: negative retry") }
    }

    translate(reference, OpenAISSETranslator())
    for endpoint in [Endpoint.chat, .completions] {
        translate(reference, AnthropicStreamTranslator(endpoint: endpoint, created: 1))
    }
    return 0
}

func translate(_ events: [SSEEvent], _ start: some SSEChunkTranslator) {
    var translator = start
    for e in events {
        do {
            switch try translator.translate(e) {
            case .done: return
            case .chunks(let chunks): for c in chunks { _ = c.serialized() }
            }
        } catch {
            return
        }
    }
}
