import Tensor

/// A 2-D weight matrix in the mmapped file: `rows` rows of `cols` elements in `type` (GGUF ne = [cols, rows]).
/// `y = W·x` gives `y[o] = Σ_i W[o][i]·x[i]` (SPEC-model.md 1.4).
///
/// NOTE: `@unchecked Sendable`: points into a read-only mapping kept alive by `ModelWeights.file`.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let data: UnsafeRawPointer
    public let type: GGMLType
    public let cols: Int
    public let rows: Int
    /// The same matrix repacked for `ck_gemm_r16` (nil: the kernels read `data`). See `ModelWeights.repack`.
    public var repacked: RepackedWeights? = nil

    public var rowBytes: Int { type.rowBytes(cols) }
    public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }
}

/// A 1-D f32 vector (norm weight or bias) converted once at load (they are tiny).
public typealias WeightVector = [Float]

/// Weights of one transformer block. Optional members depend on the architecture.
public struct LayerWeights: Sendable {
    public var attnNorm: WeightVector
    public var wq: WeightMatrix, wk: WeightMatrix, wv: WeightMatrix, wo: WeightMatrix
    public var bq: WeightVector?, bk: WeightVector?, bv: WeightVector?, bo: WeightVector?
    public var qNorm: WeightVector?, kNorm: WeightVector?            // gemma3
    public var postAttnNorm: WeightVector?, postFFNNorm: WeightVector?  // gemma3
    public var ffnNorm: WeightVector
    public var gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix
    public var bGate: WeightVector?, bUp: WeightVector?, bDown: WeightVector?  // llama (optional)
}

/// All weights of a model, bound to tensors of one GGUF file (which they keep alive).
public struct ModelWeights: Sendable {
    public let file: GGUFFile
    public var tokenEmbedding: WeightMatrix
    public var output: WeightMatrix             // token_embd when tied
    public var outputBias: WeightVector?        // qwen2 (optional)
    public var outputNorm: WeightVector
    public var ropeFreqs: WeightVector?         // llama (optional rope_freqs.weight)
    public var layers: [LayerWeights]

    /// Binds and validates every tensor the architecture needs: presence, shape and type.
    public init(file: GGUFFile, config c: ModelConfig) throws(EngineError) {
        self.file = file
        let binder = TensorBinder(file: file)
        tokenEmbedding = try binder.matrix("token_embd.weight", cols: c.embeddingLength, rows: c.vocabularySize)
        if binder.has("output.weight") {
            output = try binder.matrix("output.weight", cols: c.embeddingLength, rows: c.vocabularySize)
        } else {
            output = tokenEmbedding
        }
        outputBias = c.architecture == .qwen2 ? try binder.optionalVector("output.bias", count: c.vocabularySize) : nil
        outputNorm = try binder.vector("output_norm.weight", count: c.embeddingLength)
        ropeFreqs = c.architecture == .llama ? try binder.optionalVector("rope_freqs.weight", count: c.headDim / 2) : nil
        var layers: [LayerWeights] = []
        for il in 0..<c.layerCount {
            let p = "blk.\(il)."
            let e = c.embeddingLength
            let gemma = c.architecture == .gemma3
            let llama = c.architecture == .llama
            layers.append(LayerWeights(
                attnNorm: try binder.vector(p + "attn_norm.weight", count: e),
                wq: try binder.matrix(p + "attn_q.weight", cols: e, rows: c.qDim),
                wk: try binder.matrix(p + "attn_k.weight", cols: e, rows: c.kvDim),
                wv: try binder.matrix(p + "attn_v.weight", cols: e, rows: c.kvDim),
                wo: try binder.matrix(p + "attn_output.weight", cols: c.qDim, rows: e),
                bq: gemma ? nil : try binder.optionalVector(p + "attn_q.bias", count: c.qDim),
                bk: gemma ? nil : try binder.optionalVector(p + "attn_k.bias", count: c.kvDim),
                bv: gemma ? nil : try binder.optionalVector(p + "attn_v.bias", count: c.kvDim),
                bo: llama ? try binder.optionalVector(p + "attn_output.bias", count: e) : nil,
                qNorm: gemma ? try binder.vector(p + "attn_q_norm.weight", count: c.headDim) : nil,
                kNorm: gemma ? try binder.vector(p + "attn_k_norm.weight", count: c.headDim) : nil,
                postAttnNorm: gemma ? try binder.vector(p + "post_attention_norm.weight", count: e) : nil,
                postFFNNorm: gemma ? try binder.vector(p + "post_ffw_norm.weight", count: e) : nil,
                ffnNorm: try binder.vector(p + "ffn_norm.weight", count: e),
                gate: try binder.matrix(p + "ffn_gate.weight", cols: e, rows: c.feedForwardLength),
                up: try binder.matrix(p + "ffn_up.weight", cols: e, rows: c.feedForwardLength),
                down: try binder.matrix(p + "ffn_down.weight", cols: c.feedForwardLength, rows: e),
                bGate: llama ? try binder.optionalVector(p + "ffn_gate.bias", count: c.feedForwardLength) : nil,
                bUp: llama ? try binder.optionalVector(p + "ffn_up.bias", count: c.feedForwardLength) : nil,
                bDown: llama ? try binder.optionalVector(p + "ffn_down.bias", count: e) : nil
            ))
        }
        self.layers = layers
    }

    /// Repacks every layer matrix whose type has a row-interleaved kernel (`RepackedWeights`), then releases
    /// the mapped pages of those tensors (they stay readable through `data`). The token embedding is not
    /// repacked: its rows are looked up one at a time, and its use as the tied output projection computes one
    /// logits row per sequence. Returns the bytes allocated.
    @discardableResult
    public mutating func repack(threads: ThreadPool) -> Int {
        let paths: [WritableKeyPath<LayerWeights, WeightMatrix>] = [\.wq, \.wk, \.wv, \.wo, \.gate, \.up, \.down]
        let matrices = layers.flatMap { l in paths.map { l[keyPath: $0] } }
        let results = UnsafeMutableBufferPointer<RepackedWeights?>.allocate(capacity: matrices.count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        // One matrix per task: the workers write disjoint slots of `results`.
        threads.parallelFor(matrices.count) { range in
            for i in range {
                let m = matrices[i]
                results[i] = RepackedWeights(type: m.type, weight: m.data, rows: m.rows, cols: m.cols)
            }
        }
        var total = 0
        for (i, r) in results.enumerated() {
            guard let r else { continue }
            let (il, p) = i.quotientAndRemainder(dividingBy: paths.count)
            layers[il][keyPath: paths[p]].repacked = r
            total += r.byteCount
            file.releasePages(matrices[i].data, count: matrices[i].rowBytes * matrices[i].rows)
        }
        return total
    }
}

/// Looks tensors up by name and checks their shapes and types, with errors that name the tensor.
struct TensorBinder {
    let file: GGUFFile

    func has(_ name: String) -> Bool { file.tensor(name) != nil }

    func matrix(_ name: String, cols: Int, rows: Int) throws(EngineError) -> WeightMatrix {
        guard let t = file.tensor(name) else {
            throw EngineError(.missingTensor, "tensor \(name) is missing from the model file")
        }
        guard t.type.isSupported else {
            throw EngineError(.unsupportedTensorType, "tensor \(name) has type \(t.type), which is not supported")
        }
        guard t.ne.count <= 2, t.ne[0] == cols, t.rowCount == rows else {
            throw EngineError(.badTensorShape, "tensor \(name) has shape \(t.ne), expected [\(cols), \(rows)]")
        }
        return WeightMatrix(name: name, data: file.data(of: t), type: t.type, cols: cols, rows: rows)
    }

    func vector(_ name: String, count: Int) throws(EngineError) -> WeightVector {
        guard let v = try optionalVector(name, count: count) else {
            throw EngineError(.missingTensor, "tensor \(name) is missing from the model file")
        }
        return v
    }

    func optionalVector(_ name: String, count: Int) throws(EngineError) -> WeightVector? {
        guard let t = file.tensor(name) else { return nil }
        guard t.elementCount == count, t.ne[0] == count else {
            throw EngineError(.badTensorShape, "tensor \(name) has shape \(t.ne), expected [\(count)]")
        }
        guard t.type.isSupported else {
            throw EngineError(.unsupportedTensorType, "tensor \(name) has type \(t.type), which is not supported")
        }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { Dequant.row(t.type, file.data(of: t), $0.baseAddress!, count: count) }
        return out
    }
}
