import Foundation

/// A `multipart/form-data` body (RFC 7578), as OpenAI's file upload takes it: named parts, each with an
/// optional filename and its bytes. Only what an upload needs: part headers other than
/// `Content-Disposition` and `Content-Type` are ignored, nested multiparts are not parsed.
///
/// Hostile input: the boundary must be 1-70 characters (RFC 2046), at most `maxParts` parts and
/// `maxHeaderBytes` of headers per part are read, and any framing error is a `MultipartForm.Error` (a 400),
/// never a crash; the body is already bounded by `RequestBodyMiddleware`.
struct MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var contentType: String?
        var data: Data
    }

    struct Error: Swift.Error, Equatable {
        let message: String
    }

    static let maxParts = 16
    static let maxHeaderBytes = 8192

    let parts: [Part]

    func part(named name: String) -> Part? { parts.first { $0.name == name } }

    /// The boundary of a `multipart/form-data` content type, or nil when the type is something else.
    static func boundary(contentType: String) throws -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = pieces.first, type.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() {
            guard let eq = piece.firstIndex(of: "="), piece[..<eq].lowercased() == "boundary" else { continue }
            var value = String(piece[piece.index(after: eq)...])
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard (1...70).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
                throw Error(message: "The multipart boundary must be 1 to 70 printable characters.")
            }
            return value
        }
        throw Error(message: "The multipart/form-data content type has no boundary.")
    }

    init(_ body: Data, boundary: String) throws {
        let bytes = [UInt8](body)
        let delimiter = Array("--\(boundary)".utf8)
        guard var position = Self.find(delimiter, in: bytes, from: 0) else {
            throw Error(message: "The multipart body does not contain its boundary.")
        }
        var parts: [Part] = []
        let crlf: [UInt8] = [13, 10]
        while true {
            position += delimiter.count
            if bytes.count >= position + 2, bytes[position] == 45, bytes[position + 1] == 45 { break }   // "--": the end
            guard let lineEnd = Self.find(crlf, in: bytes, from: position) else {
                throw Error(message: "The multipart body ends inside a boundary line.")
            }
            let headerStart = lineEnd + 2
            guard let headerEnd = Self.find([13, 10, 13, 10], in: bytes, from: headerStart, limit: Self.maxHeaderBytes) else {
                throw Error(message: "A multipart part has no end of headers within \(Self.maxHeaderBytes) bytes.")
            }
            guard let next = Self.find(crlf + delimiter, in: bytes, from: headerEnd + 4) else {
                throw Error(message: "A multipart part is not closed by the boundary.")
            }
            guard parts.count < Self.maxParts else { throw Error(message: "The form has more than \(Self.maxParts) parts.") }
            let headerText = String(decoding: bytes[headerStart..<headerEnd], as: UTF8.self)
            parts.append(try Self.part(headers: headerText, data: Data(bytes[(headerEnd + 4)..<next])))
            position = next + 2
        }
        self.parts = parts
    }

    private static func part(headers: String, data: Data) throws -> Part {
        var name: String?, filename: String?, contentType: String?
        for line in headers.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if field == "content-type" { contentType = value }
            guard field == "content-disposition" else { continue }
            for param in value.split(separator: ";").dropFirst() {
                let p = param.trimmingCharacters(in: .whitespaces)
                guard let eq = p.firstIndex(of: "=") else { continue }
                var v = String(p[p.index(after: eq)...])
                if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
                switch p[..<eq].lowercased() {
                case "name": name = v
                case "filename": filename = v
                default: break
                }
            }
        }
        guard let name else { throw Error(message: "A multipart part has no Content-Disposition name.") }
        return Part(name: name, filename: filename, contentType: contentType, data: data)
    }

    /// The first index of `needle` in `haystack` at or after `from` (starting before `from + limit`).
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, limit: Int = .max) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let last = min(haystack.count - needle.count, from > Int.max - limit ? Int.max : from + limit)
        guard from <= last else { return nil }
        let first = needle[0]
        var i = from
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
