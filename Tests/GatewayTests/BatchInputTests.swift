import Foundation
import Gateway
import Testing

/// The Batch API's input files and ids, against well-formed and hostile input.
@Suite("Batch input")
struct BatchInputTests {
    static func line(_ id: String, url: String = "/v1/chat/completions", extra: String = "") -> String {
        #"{"custom_id": "\#(id)", "method": "POST", "url": "\#(url)", "body": {"model": "m", "messages": []}\#(extra)}"#
    }

    static func refusal(_ text: String, limits: BatchInputLimits = BatchInputLimits()) -> BatchInputError? {
        do {
            _ = try BatchInputFile.parse(Data(text.utf8), limits: limits)
            return nil
        } catch let e as BatchInputError {
            return e
        } catch {
            return BatchInputError(code: "unexpected \(error)", message: "", param: nil, line: nil)
        }
    }

    @Test("a file of requests: order, line numbers, each endpoint; blank lines, CRLF and unknown keys ignored")
    func parses() throws {
        let text = Self.line("a") + "\r\n\n" + Self.line("b", url: "/v1/completions", extra: #", "note": 1"#) + "\n"
            + Self.line("c", url: "/v1/embeddings") + "\n   \n"
        let lines = try BatchInputFile.parse(Data(text.utf8))
        #expect(lines.map(\.customID) == ["a", "b", "c"])
        #expect(lines.map(\.line) == [1, 3, 4])
        #expect(lines.map(\.url) == [.chatCompletions, .completions, .embeddings])
        #expect(lines[0].body["model"] == .string("m"))
    }

    @Test("refused with the line and OpenAI-style code", arguments: [
        ("{not json", "invalid_json_line", 1),
        ("[1, 2]", "invalid_request", 1),
        (#"{"method": "POST", "url": "/v1/completions", "body": {}}"#, "invalid_custom_id", 1),
        (#"{"custom_id": "", "method": "POST", "url": "/v1/completions", "body": {}}"#, "invalid_custom_id", 1),
        (#"{"custom_id": 7, "method": "POST", "url": "/v1/completions", "body": {}}"#, "invalid_custom_id", 1),
        (#"{"custom_id": "x", "method": "GET", "url": "/v1/completions", "body": {}}"#, "invalid_method", 1),
        (#"{"custom_id": "x", "method": "POST", "url": "/v1/files", "body": {}}"#, "invalid_url", 1),
        (#"{"custom_id": "x", "method": "POST", "url": "/v1/completions/../files", "body": {}}"#, "invalid_url", 1),
        (#"{"custom_id": "x", "method": "POST", "url": "http://evil/v1/completions", "body": {}}"#, "invalid_url", 1),
        (#"{"custom_id": "x", "method": "POST", "url": "/v1/completions", "body": "text"}"#, "invalid_body", 1),
        (#"{"custom_id": "x", "method": "POST", "url": "/v1/completions"}"#, "invalid_body", 1),
        (line("a") + "\n" + line("b") + "\n" + line("a"), "duplicate_custom_id", 3),
        ("\n \n", "empty_file", nil),
        ("", "empty_file", nil),
    ] as [(String, String, Int?)])
    func refused(_ text: String, _ code: String, _ line: Int?) {
        let e = Self.refusal(text)
        #expect(e?.code == code, "\(String(describing: e))")
        #expect(e?.line == line)
        #expect(!(e?.message.isEmpty ?? true))
    }

    @Test("bounds: file bytes, line bytes, request count, custom_id length; invalid UTF-8 and deep nesting")
    func bounds() throws {
        var limits = BatchInputLimits()
        limits.maxFileBytes = 1000
        #expect(Self.refusal(String(repeating: " ", count: 1001), limits: limits)?.code == "file_too_large")
        limits = BatchInputLimits()
        limits.maxLineBytes = 200
        let huge = Self.line("big", extra: #", "pad": ""# + String(repeating: "x", count: 300) + #"""#)
        let e = Self.refusal(Self.line("ok") + "\n" + huge, limits: limits)
        #expect(e?.code == "line_too_large" && e?.line == 2)
        limits = BatchInputLimits()
        limits.maxLines = 2
        #expect(Self.refusal((1...3).map { Self.line("r\($0)") }.joined(separator: "\n"), limits: limits)?.code == "too_many_requests")
        #expect(Self.refusal(Self.line(String(repeating: "i", count: 513)))?.code == "invalid_custom_id")
        #expect((try? BatchInputFile.parse(Data(Self.line(String(repeating: "i", count: 512)).utf8)))?.count == 1)
        // A byte that is not UTF-8 inside a string value (the JSON parser alone would replace it).
        var bad = Data(Self.line("u").utf8)
        bad.insert(0xFF, at: try #require(Self.line("u").range(of: #""m""#)).lowerBound.utf16Offset(in: Self.line("u")) + 1)
        do {
            _ = try BatchInputFile.parse(bad)
            Issue.record("invalid UTF-8 accepted")
        } catch let e as BatchInputError {
            #expect(e.code == "invalid_json_line" && e.line == 1)
        } catch { Issue.record("\(error)") }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(Self.refusal(#"{"custom_id": "d", "method": "POST", "url": "/v1/completions", "body": {"x": "# + deep + "}}")?
            .code == "invalid_json_line")
    }

    @Test("ids: fresh ones parse back; anything else (traversal, wrong kind, case, length) does not")
    func ids() {
        for kind in BatchObjectID.Kind.allCases {
            let id = BatchObjectID.make(kind)
            #expect(BatchObjectID.parse(id.description, as: kind) == id)
            #expect(id.description.count == kind.rawValue.count + 24)
        }
        #expect(BatchObjectID.make(.file) != BatchObjectID.make(.file))
        let file = BatchObjectID.make(.file).description
        #expect(BatchObjectID.parse(file, as: .batch) == nil)
        for hostile in ["file-../../../../etc/passwd", "file-" + String(repeating: "a", count: 23) + "/",
                        "file-" + String(repeating: "A", count: 24), "file-" + String(repeating: "a", count: 25),
                        "file-" + String(repeating: "a", count: 23) + "\0", "file-" + String(repeating: ".", count: 24),
                        "", "file-", "batch_" + String(repeating: "a", count: 24)] {
            #expect(BatchObjectID.parse(hostile, as: .file) == nil, "\(hostile)")
        }
    }
}
