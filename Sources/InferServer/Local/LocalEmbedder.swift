import Dispatch
import Engine
import Foundation
import Gateway
import Logging

/// The local MiniLM model behind the gateway's `Embedder` protocol (semantic cache, `/v1/embeddings`).
/// Encoding runs on one serial dispatch queue, never on Swift's cooperative pool or an event loop.
final class LocalEmbedder: Embedder, Sendable {
    let model: SentenceEmbedder
    private let queue = DispatchQueue(label: "infer.embedder")

    init(model: SentenceEmbedder) { self.model = model }

    var dimension: Int { model.dimensions }

    func embed(_ texts: [String]) async throws -> [[Float]] {
        await withCheckedContinuation { c in
            queue.async { [model] in c.resume(returning: model.embed(texts)) }
        }
    }

    /// Vectors and token counts (with [CLS]/[SEP], truncated as encoded, for usage), tokenizing once.
    func embedCounting(_ texts: [String]) async -> (vectors: [[Float]], tokens: [Int]) {
        await withCheckedContinuation { c in
            queue.async { [model] in
                let ids = texts.map(model.tokenize)
                c.resume(returning: (model.embed(tokenIDs: ids), ids.map(\.count)))
            }
        }
    }
}
