/// Why a GGUF file could not be read. Every malformed input maps to one of these codes;
/// the message names the problem and, where it applies, the byte offset.
public struct GGUFError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Bounded set of failure kinds (usable as a metric label or in tests).
    public enum Code: String, Sendable {
        case ioError, badMagic, unsupportedVersion, truncated, absurdCount, badValueType, duplicateKey,
             badAlignment, unknownTensorType, badTensorShape, tensorOutOfBounds, misalignedOffset,
             duplicateTensor, missingKey, typeMismatch, invalidUTF8
    }

    public let code: Code
    public let message: String
    /// Byte offset in the file where the problem was found, when meaningful.
    public let offset: Int?

    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String {
        if let offset { return "GGUF \(code.rawValue) at offset \(offset): \(message)" }
        return "GGUF \(code.rawValue): \(message)"
    }
}
