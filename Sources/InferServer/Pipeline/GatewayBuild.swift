import Dispatch
import Engine
import Foundation
import Gateway
import Logging

/// What `infer serve` builds from its flags and config file.
struct GatewayBuild {
    var pipeline: GatewayPipeline
    /// Embedding model groups served by `/v1/embeddings` (name -> model).
    var embedders: [String: LocalEmbedder]
}
