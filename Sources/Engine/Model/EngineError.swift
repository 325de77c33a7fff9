/// Errors of the Engine module: loading models, bad requests to the engine.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// Bounded set of failure kinds.
    public enum Code: String, Sendable {
        case unsupportedArchitecture, missingTensor, badTensorShape, unsupportedTensorType, badHyperparameter,
             contextOverflow, invalidInput, loadFailed, overloaded, internalError
    }

    public let code: Code
    public let message: String
    public let underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying { return "\(message) (\(underlying))" }
        return message
    }
}
