import NumericCore
import Tensor

/// Hyperparameters of a BERT encoder, from the model's `config.json` (Hugging Face `BertConfig`).
struct BertConfig: Sendable {
    var hidden: Int
    var layers: Int
    var heads: Int
    var intermediate: Int
    var maxPositions: Int
    var typeVocab: Int
    var vocab: Int
    var layerNormEps: Float

    var headDim: Int { hidden / heads }

    /// Reads config.json; throws `EngineError` for a missing key or an architecture this encoder cannot run.
    static func load(_ path: String) throws(EngineError) -> BertConfig {
        let json = try WordPieceTokenizer.jsonObject(path)
        func int(_ key: String) throws(EngineError) -> Int {
            guard let v = json[key] as? Int, v > 0 else {
                throw EngineError(.badHyperparameter, "\(path): '\(key)' missing or not a positive integer")
            }
            return v
        }
        if let type = json["model_type"] as? String, type != "bert" {
            throw EngineError(.unsupportedArchitecture, "\(path): model_type '\(type)' is not supported (only bert)")
        }
        if let act = json["hidden_act"] as? String, act != "gelu" {
            throw EngineError(.unsupportedArchitecture, "\(path): hidden_act '\(act)' is not supported (only gelu)")
        }
        if let pos = json["position_embedding_type"] as? String, pos != "absolute" {
            throw EngineError(.unsupportedArchitecture, "\(path): position_embedding_type '\(pos)' is not supported")
        }
        let c = BertConfig(
            hidden: try int("hidden_size"), layers: try int("num_hidden_layers"),
            heads: try int("num_attention_heads"), intermediate: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings"), typeVocab: try int("type_vocab_size"),
            vocab: try int("vocab_size"), layerNormEps: Float((json["layer_norm_eps"] as? Double) ?? 1e-12))
        guard c.hidden % c.heads == 0 else {
            throw EngineError(.badHyperparameter, "\(path): hidden_size \(c.hidden) is not a multiple of \(c.heads) heads")
        }
        return c
    }
}

/// The f32 weights of a BERT encoder, bound by name and checked for shape.
///
/// F32 tensors are used in place inside the memory map (zero copy); F16 / BF16 (or misaligned) tensors are
/// converted once into memory owned here. The Linear layers' weights are packed once into `PackedLinear`
/// panels for the f32 GEMM (their own copy, the size of the f32 weights: 42.5 MB for MiniLM-L6; the mapped
/// pages of those tensors are read once while packing and are not used afterwards).
///
/// NOTE: `@unchecked Sendable` is safe: every pointer is written only in `init` (into the read-only mapping
/// or into buffers allocated here) and only read afterwards; the mapping and buffers live as long as `self`.
final class BertWeights: @unchecked Sendable {
    struct Layer {
        let qkv: PackedLinear                           // [3 hidden, hidden]: Q | K | V stacked, with biases
        let o: PackedLinear                             // [hidden, hidden] (attention.output.dense)
        let ln1Gamma, ln1Beta: UnsafePointer<Float>     // [hidden] (attention.output.LayerNorm)
        let up: PackedLinear                            // [intermediate, hidden]
        let down: PackedLinear                          // [hidden, intermediate]
        let ln2Gamma, ln2Beta: UnsafePointer<Float>     // [hidden] (output.LayerNorm)
    }

    let word: UnsafePointer<Float>          // [vocab, hidden]
    let position: UnsafePointer<Float>      // [maxPositions, hidden]
    let tokenType: UnsafePointer<Float>     // [typeVocab, hidden]; row 0 is used
    let embGamma, embBeta: UnsafePointer<Float>  // [hidden]
    let layers: [Layer]
    private let file: SafeTensorsFile
    private var owned: [UnsafeMutableBufferPointer<Float>] = []

    init(file: SafeTensorsFile, config c: BertConfig) throws(EngineError) {
        self.file = file
        // Checkpoints saved from BertForX carry a "bert." prefix.
        let prefix = file.tensors["embeddings.word_embeddings.weight"] == nil
            && file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        var owned: [UnsafeMutableBufferPointer<Float>] = []
        func bind(_ name: String, _ shape: [Int]) throws(EngineError) -> UnsafePointer<Float> {
            let full = prefix + name
            do {
                let info = try file.info(full)
                guard info.shape == shape else {
                    throw EngineError(.badTensorShape,
                                      "\(file.path): tensor '\(full)' has shape \(info.shape), expected \(shape)")
                }
                if let view = try file.f32Buffer(full), let base = view.baseAddress { return base }
                let values = try file.floats(full, convert: true)
                let buf = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, values.count))
                _ = buf.initialize(from: values)
                owned.append(buf)
                return UnsafePointer(buf.baseAddress!)
            } catch let e as SafeTensorsError {
                let code: EngineError.Code = e.code == .missingTensor ? .missingTensor : .unsupportedTensorType
                throw EngineError(code, "cannot bind the embedding weights", underlying: e)
            } catch let e as EngineError {
                throw e
            } catch {
                throw EngineError(.loadFailed, "\(file.path): \(error)")
            }
        }
        let h = c.hidden, f = c.intermediate
        do {
            word = try bind("embeddings.word_embeddings.weight", [c.vocab, h])
            position = try bind("embeddings.position_embeddings.weight", [c.maxPositions, h])
            tokenType = try bind("embeddings.token_type_embeddings.weight", [c.typeVocab, h])
            embGamma = try bind("embeddings.LayerNorm.weight", [h])
            embBeta = try bind("embeddings.LayerNorm.bias", [h])
            var layers: [Layer] = []
            for l in 0..<c.layers {
                let p = "encoder.layer.\(l)."
                func part(_ name: String, outputs: Int, inputs: Int) throws(EngineError) -> PackedLinear.Part {
                    PackedLinear.Part(weight: try bind(p + name + ".weight", [outputs, inputs]),
                                      bias: try bind(p + name + ".bias", [outputs]), outputs: outputs)
                }
                let qkv = [try part("attention.self.query", outputs: h, inputs: h),
                           try part("attention.self.key", outputs: h, inputs: h),
                           try part("attention.self.value", outputs: h, inputs: h)]
                layers.append(Layer(
                    qkv: PackedLinear(inputs: h, parts: qkv),
                    o: PackedLinear(inputs: h, parts: [try part("attention.output.dense", outputs: h, inputs: h)]),
                    ln1Gamma: try bind(p + "attention.output.LayerNorm.weight", [h]),
                    ln1Beta: try bind(p + "attention.output.LayerNorm.bias", [h]),
                    up: PackedLinear(inputs: h, parts: [try part("intermediate.dense", outputs: f, inputs: h)]),
                    down: PackedLinear(inputs: f, parts: [try part("output.dense", outputs: h, inputs: f)]),
                    ln2Gamma: try bind(p + "output.LayerNorm.weight", [h]),
                    ln2Beta: try bind(p + "output.LayerNorm.bias", [h])))
            }
            self.layers = layers
        } catch {
            for b in owned { b.deallocate() }
            throw error
        }
        self.owned = owned
    }

    deinit {
        for b in owned { b.deallocate() }
    }
}
