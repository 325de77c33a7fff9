import Foundation

/// One line of a batch's output or error file, in OpenAI's shape:
/// `{"id": "batch_req_…", "custom_id": "…", "response": {"status_code": 200, "request_id": "…", "body": {…}},
/// "error": null}`; a request that got no response at all (the batch expired or was cancelled before it ran)
/// has `"response": null` and `"error": {"code", "message"}`.
public enum BatchResultLine {
    public static func response(customID: String, statusCode: Int, requestID: String, body: JSONValue) -> JSONValue {
        .object([("id", .string(lineID())), ("custom_id", .string(customID)),
                 ("response", .object([("status_code", .int(statusCode)), ("request_id", .string(requestID)),
                                       ("body", body)])),
                 ("error", .null)])
    }

    public static func failure(customID: String, code: String, message: String) -> JSONValue {
        .object([("id", .string(lineID())), ("custom_id", .string(customID)), ("response", .null),
                 ("error", .object([("code", .string(code)), ("message", .string(message))]))])
    }

    /// The line's `custom_id`.
    public static func customID(_ line: JSONValue) -> String? { line["custom_id"]?.stringField }

    /// Whether the line belongs in the output file (a 2xx response) rather than the error file.
    public static func succeeded(_ line: JSONValue) -> Bool {
        if case .int(let status)? = line["response"]?["status_code"] { return (200..<300).contains(status) }
        return false
    }

    private static func lineID() -> String {
        "batch_req_" + BatchObjectID.make(.batch).description.dropFirst(BatchObjectID.Kind.batch.rawValue.count)
    }
}
