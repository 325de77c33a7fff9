import CurlHTTP
import Gateway
import Testing

@Suite struct SSEParserTests {
    private func parseAll(_ chunks: [String]) -> [SSEEvent] {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for chunk in chunks { events += try! parser.feed(Array(chunk.utf8)) }
        return events + (try! parser.finish())
    }

    @Test func basicEventsAndDone() {
        let events = parseAll(["data: {\"a\":1}\n\ndata: [DONE]\n\n"])
        #expect(events.map(\.data) == ["{\"a\":1}", "[DONE]"])
    }

    @Test func crlfAndCrLineEndings() {
        #expect(parseAll(["event: x\r\ndata: 1\r\n\r\n", "data: 2\r\rdata: 3\n\n"])
            == [SSEEvent(event: "x", data: "1"), SSEEvent(data: "2"), SSEEvent(data: "3")])
    }

    @Test func crlfSplitAcrossChunksIsOneLineEnding() {
        #expect(parseAll(["data: a\r", "\n", "\r", "\ndata: b\n\n"]) == [SSEEvent(data: "a"), SSEEvent(data: "b")])
    }

    @Test func multiLineDataCommentsAndFields() {
        let events = parseAll([": keep-alive\n", "data: line1\ndata:line2\ndata\nid: 7\nretry: 300\nevent: delta\nfoo: bar\n\n"])
        #expect(events == [SSEEvent(event: "delta", data: "line1\nline2\n", id: "7", retry: 300)])
    }

    @Test func eventWithoutDataIsNotDispatched() {
        #expect(parseAll(["event: ping\n\n", ":comment\n\n"]).isEmpty)
    }

    @Test func everySplitPointGivesTheSameEvents() throws {
        let text = "event: message_start\r\ndata: {\"t\":\"héllo ✓\"}\r\n\r\n: c\n\ndata: x\n\n"
        let bytes = Array(text.utf8)
        let expected = [SSEEvent(event: "message_start", data: "{\"t\":\"héllo ✓\"}"), SSEEvent(data: "x")]
        for split in 0...bytes.count {
            var parser = SSEParser()
            let events = try parser.feed(bytes[..<split]) + parser.feed(bytes[split...]) + parser.finish()
            #expect(events == expected, "split at \(split)")
        }
    }

    @Test func byteAtATime() throws {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for byte in Array("data: a\n\ndata: b\n\n".utf8) { events += try parser.feed([byte]) }
        #expect(events.map(\.data) == ["a", "b"])
    }

    @Test func finishFlushesAnUnterminatedEvent() {
        #expect(parseAll(["data: tail"]) == [SSEEvent(data: "tail")])
    }

    @Test func bomIsSkippedOnlyAtStart() {
        #expect(parseAll(["\u{FEFF}data: a\n\n"]) == [SSEEvent(data: "a")])
    }

    /// An upstream that streams one endless line (no newline ever) is cut off at the line limit, whatever
    /// the chunking, instead of growing the buffer without bound.
    @Test func endlessLineHitsTheLineLimit() throws {
        var parser = SSEParser(maxLineBytes: 1000)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 300)
        #expect(try parser.feed(Array("data: ".utf8)).isEmpty)
        #expect(throws: SSEParser.LimitExceeded(what: "line", limit: 1000)) {
            for _ in 0..<10 { _ = try parser.feed(chunk) }
        }
        // Exactly at the limit is fine.
        var exact = SSEParser(maxLineBytes: 10)
        #expect(try exact.feed(Array("data: 1234\n\n".utf8)) == [SSEEvent(data: "1234")])
    }

    /// Many short `data:` lines add up to one event: bounded too; the count restarts with each event.
    @Test func eventDataHitsTheEventLimitAndResetsPerEvent() throws {
        var parser = SSEParser(maxEventBytes: 100)
        let line = Array("data: 123456789\n".utf8)   // 10 data bytes per line (9 + the joining newline)
        for _ in 0..<10 { _ = try parser.feed(line) }
        #expect(try parser.feed(Array("\n".utf8)).count == 1)
        for _ in 0..<10 { _ = try parser.feed(line) }
        #expect(throws: SSEParser.LimitExceeded(what: "event", limit: 100)) { _ = try parser.feed(line) }
    }
}
