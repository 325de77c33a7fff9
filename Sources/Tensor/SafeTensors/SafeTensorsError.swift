/// Why a `.safetensors` file could not be read. Every malformed input maps to one of these codes; the
/// message names the file and, where it applies, the tensor.
public struct SafeTensorsError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Bounded set of failure kinds (usable as a metric label or in tests).
    public enum Code: String, Sendable {
        case ioError, truncated, badHeaderLength, badHeader, unknownDType, badTensorShape, tensorOutOfBounds,
             missingTensor, typeMismatch
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "safetensors \(code.rawValue): \(message)" }
}
