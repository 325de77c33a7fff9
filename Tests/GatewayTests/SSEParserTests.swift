import Gateway
import Testing

@Suite struct SSEParserTests {
    private func parseAll(_ chunks: [String]) -> [SSEEvent] {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for chunk in chunks { events += parser.feed(Array(chunk.utf8)) }
        return events + parser.finish()
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

    @Test func everySplitPointGivesTheSameEvents() {
        let text = "event: message_start\r\ndata: {\"t\":\"héllo ✓\"}\r\n\r\n: c\n\ndata: x\n\n"
        let bytes = Array(text.utf8)
        let expected = [SSEEvent(event: "message_start", data: "{\"t\":\"héllo ✓\"}"), SSEEvent(data: "x")]
        for split in 0...bytes.count {
            var parser = SSEParser()
            let events = parser.feed(bytes[..<split]) + parser.feed(bytes[split...]) + parser.finish()
            #expect(events == expected, "split at \(split)")
        }
    }

    @Test func byteAtATime() {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for byte in Array("data: a\n\ndata: b\n\n".utf8) { events += parser.feed([byte]) }
        #expect(events.map(\.data) == ["a", "b"])
    }

    @Test func finishFlushesAnUnterminatedEvent() {
        #expect(parseAll(["data: tail"]) == [SSEEvent(data: "tail")])
    }

    @Test func bomIsSkippedOnlyAtStart() {
        #expect(parseAll(["\u{FEFF}data: a\n\n"]) == [SSEEvent(data: "a")])
    }
}
