import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Logging
import OpenAIRequest

/// `POST /v1/embeddings` (OpenAI's shape) on the local sentence-embedding models of the config (or the
/// default MiniLM). Like LiteLLM, the response cache works per input item: each string is looked up alone,
/// only the misses are encoded (in one batch), and each fresh vector is stored alone.
struct EmbeddingsRoute: Sendable {
    let server: OpenAIServer
    /// Model group name -> model.
    let embedders: [String: LocalEmbedder]
    let cache: CacheLayer?
    /// Prices, spend and budgets.
    let gateway: GatewayPipeline

    /// Inputs per request (OpenAI allows 2048).
    static let maxInputs = 2048

    func handle(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        let (body, headers) = try await embed(try await server.readFields(request), caller: context.caller,
                                              cacheControl: request.headers[.cacheControl], logger: context.logger)
        return server.json(body, headers: headers)
    }

    /// The answer to one embeddings request (also a Batch API line's): the body and the response headers.
    func embed(_ f: RequestFields, caller: Caller, cacheControl: String?, logger: Logger) async throws -> (JSONValue, HTTPFields) {
        let name: String
        if let m = try f.string("model") {
            name = m
        } else if embedders.count == 1, let only = embedders.keys.first {
            name = only
        } else {
            throw OpenAIError.badParameter("model", "'model' is required.")
        }
        guard let embedder = embedders[name] else { throw OpenAIError.modelNotFound(name) }
        guard caller.mayUse(model: name) else { throw OpenAIError.modelNotAllowed(name) }
        try await gateway.checkBudget(caller)
        let start = Date().timeIntervalSince1970
        let inputs = try Self.inputs(f)
        let format = try f.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else {
            throw OpenAIError.badParameter("encoding_format", "'encoding_format' must be 'float' or 'base64', got '\(format)'.")
        }
        if let d = try f.int("dimensions"), d != embedder.dimension {
            throw OpenAIError.badParameter("dimensions",
                "'\(name)' produces \(embedder.dimension) dimensions; 'dimensions' \(d) is not supported.")
        }

        // Per-item cache lookups.
        var vectors = [[Float]?](repeating: nil, count: inputs.count)
        var lookups = [CacheLookup?](repeating: nil, count: inputs.count)
        var hits = 0
        if let cache {
            for (i, text) in inputs.enumerated() {
                var item = f.object
                if case .object(var pairs) = item {
                    pairs.removeAll { $0.0 == "input" || $0.0 == "encoding_format" }
                    pairs.append(("input", .string(text)))
                    item = .object(pairs)
                }
                do {
                    let l = try await cache.lookup(kind: .embedding, body: item,
                                                   cacheControlHeader: cacheControl,
                                                   tenant: server.tenant(of: caller),
                                                   namespace: caller.cacheNamespace)
                    lookups[i] = l
                    if case .array(let data)? = l.response?["data"], let first = data.first,
                       case .array(let values)? = first["embedding"] {
                        vectors[i] = values.compactMap { v -> Float? in
                            switch v {
                            case .double(let d): Float(d)
                            case .int(let n): Float(n)
                            default: nil
                            }
                        }
                        hits += 1
                    }
                } catch {
                    throw OpenAIError.badParameter(error.field, error.message)
                }
            }
        }
        let missing = inputs.indices.filter { vectors[$0] == nil }
        let (fresh, counts) = await embedder.embedCounting(missing.map { inputs[$0] })
        for (j, i) in missing.enumerated() {
            vectors[i] = fresh[j]
            if let cache, let l = lookups[i] {
                await cache.store(l, response: Self.body(model: name, vectors: [fresh[j]], base64: false,
                                                         promptTokens: counts[j]))
            }
        }
        let tokens = counts.reduce(0, +)
        var headers = HTTPFields()
        let cost = await gateway.recordEmbedding(group: name, caller: caller, promptTokens: tokens, start: start,
                                                 logger: logger).cost
        headers[HTTPField.Name(GatewayRoute.costHeader)!] = cost.description
        if cache != nil, let n = HTTPField.Name("x-cache") {
            headers[n] = hits == inputs.count ? "HIT" : (hits == 0 ? "MISS" : "PARTIAL_HIT")
        }
        return (Self.body(model: name, vectors: vectors.map { $0 ?? [] }, base64: format == "base64",
                          promptTokens: tokens), headers)
    }

    /// `input`: a string or an array of strings (token-id inputs are for other tokenizers: a 400).
    static func inputs(_ f: RequestFields) throws -> [String] {
        guard let raw = f.value("input") else { throw OpenAIError.badParameter("input", "'input' is required.") }
        switch raw {
        case .string(let s): return [s]
        case .array(let items):
            guard !items.isEmpty else { throw OpenAIError.badParameter("input", "'input' must not be empty.") }
            guard items.count <= maxInputs else {
                throw OpenAIError.badParameter("input", "'input' has \(items.count) items; the limit is \(maxInputs).")
            }
            return try items.map { item in
                guard case .string(let s) = item else { throw f.typeError("input", "a string or an array of strings", raw) }
                return s
            }
        default: throw f.typeError("input", "a string or an array of strings", raw)
        }
    }

    static func body(model: String, vectors: [[Float]], base64: Bool, promptTokens: Int) -> JSONValue {
        let data: [JSONValue] = vectors.enumerated().map { i, v in
            let embedding: JSONValue = base64
                ? .string(v.withUnsafeBufferPointer { Data(buffer: $0) }.base64EncodedString())
                : .array(v.map { .float($0) })
            return ["object": "embedding", "index": .int(i), "embedding": embedding]
        }
        return ["object": "list", "data": .array(data), "model": .string(model),
                "usage": ["prompt_tokens": .int(promptTokens), "total_tokens": .int(promptTokens)]]
    }
}
