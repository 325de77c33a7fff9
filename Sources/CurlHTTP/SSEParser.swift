/// One server-sent event.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field (nil when absent: the default type "message").
    public var event: String?
    /// The `data:` lines joined with "\n".
    public var data: String
    /// The `id:` field, if any.
    public var id: String?
    /// The `retry:` field in milliseconds, if any.
    public var retry: Int?

    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }
}

/// An incremental parser for `text/event-stream` (WHATWG HTML, "Server-sent events", section 9.2.6):
/// feed it bytes in any chunking and it returns the events completed so far.
///
/// Lines end in CRLF, LF or CR (a CR at the end of one chunk followed by LF at the start of the next is
/// one line ending). Lines starting with ":" are comments. `data` lines accumulate; a blank line
/// dispatches the event, unless no data was seen. A field without ":" has an empty value; one leading
/// space after the colon is dropped. Lines are decoded as UTF-8 only once complete, so a multi-byte
/// character split across chunks is safe.
///
/// NOTE: unlike the browser algorithm, `finish()` dispatches a final event that lacks its blank line:
/// some upstreams end the stream right after the last `data:` line.
///
/// NOTE: a line longer than `maxLineBytes`, or an event whose data passes `maxEventBytes`, is an error
/// (`SSEParser.LimitExceeded`): an upstream that streams one endless line must not grow our memory without
/// bound. OpenAI's chunks are a few hundred bytes; the default limits (1 MiB) leave room for large tool
/// arguments.
public struct SSEParser: Sendable {
    /// An upstream line or event over the parser's limits.
    public struct LimitExceeded: Error, Sendable, Equatable, CustomStringConvertible {
        /// What was too long: "line" or "event".
        public var what: String
        public var limit: Int
        public var description: String { "server-sent \(what) longer than \(limit) bytes" }

        public init(what: String, limit: Int) {
            self.what = what
            self.limit = limit
        }
    }

    /// Longest line accepted, in bytes.
    public var maxLineBytes: Int
    /// Most data bytes in one event.
    public var maxEventBytes: Int
    private var line: [UInt8] = []
    private var eventBytes = 0
    private var lastWasCR = false
    private var sawFirstLine = false
    private var eventType: String?
    private var dataLines: [String] = []
    private var hasData = false
    private var lastID: String?
    private var retry: Int?

    public init(maxLineBytes: Int = 1 << 20, maxEventBytes: Int = 1 << 20) {
        self.maxLineBytes = maxLineBytes
        self.maxEventBytes = maxEventBytes
    }

    /// Consumes a chunk and returns the events it completed; throws when a line or event passes the limits
    /// (the parser is then unusable: the stream is broken).
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) throws(LimitExceeded) -> [SSEEvent]
    where Bytes.Element == UInt8 {
        var events: [SSEEvent] = []
        for byte in bytes {
            if byte == 0x0A, lastWasCR {   // LF of a CRLF split or not: already ended the line at CR
                lastWasCR = false
                continue
            }
            lastWasCR = false
            if byte == 0x0D || byte == 0x0A {
                lastWasCR = byte == 0x0D
                if let event = try processLine() { events.append(event) }
                line.removeAll(keepingCapacity: true)
            } else {
                guard line.count < maxLineBytes else { throw LimitExceeded(what: "line", limit: maxLineBytes) }
                line.append(byte)
            }
        }
        return events
    }

    /// Ends the stream: processes a last unterminated line and dispatches any pending event.
    public mutating func finish() throws(LimitExceeded) -> [SSEEvent] {
        var events: [SSEEvent] = []
        if !line.isEmpty {
            if let event = try processLine() { events.append(event) }
            line.removeAll()
        }
        if let event = dispatch() { events.append(event) }
        return events
    }

    private mutating func processLine() throws(LimitExceeded) -> SSEEvent? {
        var bytes = line[...]
        if !sawFirstLine {
            sawFirstLine = true
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }   // UTF-8 BOM
        }
        if bytes.isEmpty { return dispatch() }
        if bytes.first == UInt8(ascii: ":") { return nil }
        let field: String
        var value: String
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: bytes[..<colon], as: UTF8.self)
            var rest = bytes[(colon + 1)...]
            if rest.first == UInt8(ascii: " ") { rest = rest.dropFirst() }
            value = String(decoding: rest, as: UTF8.self)
        } else {
            field = String(decoding: bytes, as: UTF8.self)
            value = ""
        }
        switch field {
        case "data":
            eventBytes += value.utf8.count + 1
            guard eventBytes <= maxEventBytes else { throw LimitExceeded(what: "event", limit: maxEventBytes) }
            dataLines.append(value)
            hasData = true
        case "event": eventType = value
        // NOTE: NUL is looked for in the bytes: `String.contains` compares Characters, and a NUL followed by a
        // combining mark is one Character ("\0\u{302}"), so the spec's "ignore ids containing NUL" missed it
        // (bench/fuzz `sse` regression).
        case "id": if !value.utf8.contains(0) { lastID = value }
        case "retry": if let ms = Int(value), ms >= 0 { retry = ms }
        default: value = ""
        }
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            dataLines.removeAll()
            eventBytes = 0
            hasData = false
            eventType = nil
            retry = nil
        }
        guard hasData else { return nil }
        return SSEEvent(event: eventType, data: dataLines.joined(separator: "\n"), id: lastID, retry: retry)
    }
}
