import Foundation

/// The endpoints a Batch API request line may name (OpenAI's `url`; also the batch's `endpoint`).
public enum BatchEndpoint: String, Sendable, CaseIterable {
    case chatCompletions = "/v1/chat/completions"
    case completions = "/v1/completions"
    case embeddings = "/v1/embeddings"
}

/// One request of a Batch API input file: OpenAI's
/// `{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}`.
public struct BatchRequestLine: Sendable, Equatable {
    public var customID: String
    public var url: BatchEndpoint
    public var body: JSONValue
    /// 1-based line number in the file.
    public var line: Int

    public init(customID: String, url: BatchEndpoint, body: JSONValue, line: Int) {
        self.customID = customID
        self.url = url
        self.body = body
        self.line = line
    }
}

/// Bounds on an input file, checked before anything is kept (OpenAI's: 50 000 requests, 200 MB).
public struct BatchInputLimits: Sendable, Equatable {
    public var maxFileBytes = 200 * 1024 * 1024
    public var maxLines = 50_000
    public var maxLineBytes = 4 * 1024 * 1024
    public var maxCustomIDBytes = 512

    public init() {}
}

/// A refused input file: the first problem found, with its 1-based line (nil: the whole file), in the shape
/// of OpenAI's batch `errors.data[]` (`code`, `message`, `param`, `line`).
public struct BatchInputError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var param: String?
    public var line: Int?

    public init(code: String, message: String, param: String?, line: Int?) {
        self.code = code
        self.message = message
        self.param = param
        self.line = line
    }

    public var description: String { (line.map { "line \($0): " } ?? "") + message }
}

/// Parses and validates a Batch API input file (JSONL: one JSON object per line; blank lines and a final
/// newline are ignored, `\r\n` accepted). Every line must be an object with a non-empty `custom_id` unique in
/// the file, `method` `POST`, a `url` of `BatchEndpoint` and an object `body`; other keys are ignored, as
/// OpenAI does.
public enum BatchInputFile {
    public static func parse(_ data: Data, limits: BatchInputLimits = BatchInputLimits()) throws -> [BatchRequestLine] {
        guard data.count <= limits.maxFileBytes else {
            throw BatchInputError(code: "file_too_large", message: "The file has \(data.count) bytes; at most "
                                  + "\(limits.maxFileBytes) are accepted.", param: "file", line: nil)
        }
        var lines: [BatchRequestLine] = []
        var seen = Set<String>()
        var number = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var bytes = raw[...]
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard bytes.count <= limits.maxLineBytes else {
                throw BatchInputError(code: "line_too_large", message: "The line has \(bytes.count) bytes; at most "
                                      + "\(limits.maxLineBytes) are accepted.", param: nil, line: number)
            }
            guard lines.count < limits.maxLines else {
                throw BatchInputError(code: "too_many_requests", message: "The file has more than \(limits.maxLines) "
                                      + "requests.", param: nil, line: number)
            }
            let request = try parseLine(Data(bytes), number: number, limits: limits)
            guard seen.insert(request.customID).inserted else {
                throw BatchInputError(code: "duplicate_custom_id", message: "custom_id '\(request.customID)' is used by "
                                      + "an earlier line; each request needs its own.", param: "custom_id", line: number)
            }
            lines.append(request)
        }
        guard !lines.isEmpty else {
            throw BatchInputError(code: "empty_file", message: "The file holds no requests.", param: "file", line: nil)
        }
        return lines
    }

    static func parseLine(_ data: Data, number: Int, limits: BatchInputLimits) throws -> BatchRequestLine {
        func refuse(_ code: String, _ message: String, _ param: String?) -> BatchInputError {
            BatchInputError(code: code, message: message, param: param, line: number)
        }
        guard String(data: data, encoding: .utf8) != nil else {
            throw refuse("invalid_json_line", "The line is not valid UTF-8.", nil)
        }
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch {
            throw refuse("invalid_json_line", "The line is not valid JSON.", nil)
        }
        guard case .object = value else { throw refuse("invalid_request", "Each line must be a JSON object.", nil) }
        guard case .string(let id)? = value["custom_id"], !id.isEmpty, id.utf8.count <= limits.maxCustomIDBytes else {
            throw refuse("invalid_custom_id", "'custom_id' must be a non-empty string of at most "
                         + "\(limits.maxCustomIDBytes) bytes.", "custom_id")
        }
        guard value["method"] == .string("POST") else {
            throw refuse("invalid_method", "'method' must be \"POST\".", "method")
        }
        guard case .string(let path)? = value["url"], let url = BatchEndpoint(rawValue: path) else {
            throw refuse("invalid_url", "'url' must be one of "
                         + BatchEndpoint.allCases.map(\.rawValue).joined(separator: ", ") + ".", "url")
        }
        guard let body = value["body"], case .object = body else {
            throw refuse("invalid_body", "'body' must be a JSON object (the request to send).", "body")
        }
        return BatchRequestLine(customID: id, url: url, body: body, line: number)
    }
}
