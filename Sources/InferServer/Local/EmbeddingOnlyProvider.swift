import Dispatch
import Engine
import Foundation
import Gateway
import Logging

/// A `model_list` entry that names the local embedding model: it serves `/v1/embeddings`, and chat or
/// completion requests to it are a 400 (not an error the router should retry or fall back on).
struct EmbeddingOnlyProvider: ChatProvider {
    let group: String
    var apiBase: String? { nil }

    func send(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResult {
        throw ProviderError(status: 400, message: "`\(group)` is an embedding model; use /v1/embeddings.",
                            type: "invalid_request_error", code: "model_not_supported", param: "model",
                            kind: .badRequest)
    }
}
