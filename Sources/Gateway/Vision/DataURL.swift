import Foundation

/// An image given inline as a `data:` URL (RFC 2397): `data:image/png;base64,....`. Only base64 payloads
/// with an `image/*` media type are accepted; the decoded size is bounded before anything is decoded.
public struct DataURL: Sendable, Equatable {
    /// The media type, lowercased, without parameters (e.g. `image/png`).
    public var mediaType: String
    public var bytes: [UInt8]

    public init(mediaType: String, bytes: [UInt8]) {
        self.mediaType = mediaType
        self.bytes = bytes
    }

    /// Why a data URL was refused (the message names what is wrong; the caller adds the field path).
    public struct Invalid: Error, Equatable, Sendable {
        public var message: String
        public init(message: String) { self.message = message }
    }

    /// Parses and decodes `text`. `maxBytes` bounds the decoded size (checked on the encoded length first).
    public static func parse(_ text: String, maxBytes: Int) throws(Invalid) -> DataURL {
        guard text.count > 5, text.prefix(5).lowercased() == "data:" else {
            throw Invalid(message: "not a data: URL")
        }
        guard let comma = text.firstIndex(of: ",") else { throw Invalid(message: "data URL without a ',' before its data") }
        let header = text[text.index(text.startIndex, offsetBy: 5)..<comma]
        var parameters = header.split(separator: ";", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        let media = parameters.removeFirst()
        guard parameters.last == "base64" else {
            throw Invalid(message: "data URL images must be base64-encoded (';base64,')")
        }
        guard media.hasPrefix("image/"), media.count > 6,
              media.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ",") }) else {
            throw Invalid(message: "data URL media type must be image/*, got '\(media.isEmpty ? "(none)" : String(media.prefix(64)))'")
        }
        let payload = text.utf8[text.utf8.index(after: comma)...]
        // base64: 4 characters per 3 bytes; refuse before decoding when even the smallest decoding is too big.
        let (quads, partial) = payload.count.quotientAndRemainder(dividingBy: 4)
        guard partial == 0 else { throw Invalid(message: "data URL payload is not valid base64 (length \(payload.count) is not a multiple of 4)") }
        if quads > 0, (quads - 1) * 3 + 1 > maxBytes {
            throw Invalid(message: "image is larger than the limit of \(maxBytes) bytes")
        }
        guard let data = Data(base64Encoded: Data(payload)) else {
            throw Invalid(message: "data URL payload is not valid base64")
        }
        guard !data.isEmpty else { throw Invalid(message: "data URL image is empty") }
        guard data.count <= maxBytes else { throw Invalid(message: "image is larger than the limit of \(maxBytes) bytes") }
        return DataURL(mediaType: media, bytes: Array(data))
    }

    /// `data:<type>;base64,<bytes>`.
    public static func encode(mediaType: String, bytes: [UInt8]) -> String {
        "data:\(mediaType);base64,\(Data(bytes).base64EncodedString())"
    }
}
