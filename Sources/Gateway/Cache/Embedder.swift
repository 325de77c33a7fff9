/// Turns texts into embedding vectors for the semantic cache. The server plugs in the local MiniLM model
/// (384 dims) or an embedding deployment from `model_list`; tests use a deterministic embedder.
///
/// Contract: returns one vector of `dimension` floats per input text, in order. Vectors need not be
/// normalised (the semantic cache L2-normalises them).
public protocol Embedder: Sendable {
    var dimension: Int { get }
    func embed(_ texts: [String]) async throws -> [[Float]]
}
