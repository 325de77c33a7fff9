import Foundation

/// Ids of Batch API objects as OpenAI spells them (`file-<24>` for files, `batch_<24>` for batches), made
/// from random bytes. An id from a request is only ever used after `parse` accepted it: lowercase letters
/// and digits after the prefix, fixed length, so it is safe as a file name (no `/`, `..`, NUL or other
/// separators) and cannot name anything but an object of its kind.
public struct BatchObjectID: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case file = "file-"
        case batch = "batch_"
    }

    public static let suffixLength = 24
    public let kind: Kind
    public let description: String

    private init(kind: Kind, text: String) {
        self.kind = kind
        description = text
    }

    /// A fresh random id.
    public static func make(_ kind: Kind) -> BatchObjectID {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let suffix = String((0..<suffixLength).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
        return BatchObjectID(kind: kind, text: kind.rawValue + suffix)
    }

    /// `text` as an id of `kind`, or nil when it is anything else.
    public static func parse(_ text: String, as kind: Kind) -> BatchObjectID? {
        let prefix = kind.rawValue
        guard text.utf8.count == prefix.utf8.count + suffixLength, text.hasPrefix(prefix) else { return nil }
        let ok = text.utf8.dropFirst(prefix.utf8.count).allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) }
        return ok ? BatchObjectID(kind: kind, text: text) : nil
    }
}
