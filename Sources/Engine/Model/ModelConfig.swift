import Tensor

/// Architectures the engine can run (value of `general.architecture`).
public enum Architecture: String, Sendable, CaseIterable {
    case gemma3, llama, qwen2
}

/// RoPE pairing: NORM rotates adjacent pairs (x[2i], x[2i+1]); NEOX rotates (x[i], x[i + n/2]).
public enum RopeStyle: Sendable { case norm, neox }

/// Hyperparameters of a decoder-only transformer, read from GGUF metadata with llama.cpp's defaults
/// (SPEC-model.md 1.2 for gemma3, 6.1 for llama / qwen2).
public struct ModelConfig: Sendable, Equatable {
    public var architecture: Architecture
    public var contextLength: Int
    public var embeddingLength: Int
    public var layerCount: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var headCountKV: Int
    public var headDim: Int
    public var rmsEps: Float
    public var ropeBase: Float
    /// RoPE base of sliding-window layers (gemma3 only).
    public var ropeBaseSWA: Float
    public var ropeStyle: RopeStyle
    /// Linear RoPE frequency scale (1 = none).
    public var ropeFreqScale: Float
    /// Sliding window size (0 = none).
    public var slidingWindow: Int
    /// Every `slidingWindowPattern`-th layer (1-based) is global; others use the window (gemma3: 6).
    public var slidingWindowPattern: Int
    /// Final logit softcap (0 = off).
    public var finalLogitSoftcap: Float
    public var vocabularySize: Int

    /// q width = headCount * headDim.
    public var qDim: Int { headCount * headDim }
    /// k / v width = headCountKV * headDim.
    public var kvDim: Int { headCountKV * headDim }

    /// Whether layer `il` uses the sliding window.
    public func isSlidingLayer(_ il: Int) -> Bool {
        slidingWindow > 0 && slidingWindowPattern > 0 && (il % slidingWindowPattern) < slidingWindowPattern - 1
    }

    /// Reads the configuration of `file`; throws `EngineError` naming the missing or invalid key.
    public init(file: GGUFFile) throws(EngineError) {
        let archName: String
        do { archName = try file.string("general.architecture") } catch {
            throw EngineError(.unsupportedArchitecture, "general.architecture is missing or not a string", underlying: error)
        }
        guard let arch = Architecture(rawValue: archName) else {
            let known = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
            throw EngineError(.unsupportedArchitecture, "unsupported architecture '\(archName)' (supported: \(known))")
        }
        architecture = arch
        let p = archName + "."
        func req(_ key: String) throws(EngineError) -> Int {
            do {
                guard let v = try file.optionalUniformInt(p + key) else {
                    throw EngineError(.badHyperparameter, "required metadata key \(p + key) is missing")
                }
                guard v > 0 else { throw EngineError(.badHyperparameter, "\(p + key) must be positive, got \(v)") }
                return v
            } catch let e as EngineError { throw e } catch {
                throw EngineError(.badHyperparameter, "invalid \(p + key)", underlying: error)
            }
        }
        func opt(_ key: String) throws(EngineError) -> Int? {
            do { return try file.optionalUniformInt(p + key) } catch {
                throw EngineError(.badHyperparameter, "invalid \(p + key)", underlying: error)
            }
        }
        func optF(_ key: String) throws(EngineError) -> Float? {
            do { return try file.optionalFloat(p + key) } catch {
                throw EngineError(.badHyperparameter, "invalid \(p + key)", underlying: error)
            }
        }
        contextLength = try req("context_length")
        embeddingLength = try req("embedding_length")
        layerCount = try req("block_count")
        feedForwardLength = try req("feed_forward_length")
        headCount = try req("attention.head_count")
        headCountKV = try opt("attention.head_count_kv") ?? headCount
        headDim = try opt("attention.key_length") ?? (embeddingLength / headCount)
        let valueLength = try opt("attention.value_length") ?? headDim
        guard valueLength == headDim else {
            throw EngineError(.badHyperparameter, "key_length \(headDim) != value_length \(valueLength) is not supported")
        }
        guard headCountKV > 0, headCount % headCountKV == 0 else {
            throw EngineError(.badHyperparameter, "head_count \(headCount) is not a multiple of head_count_kv \(headCountKV)")
        }
        guard headDim % 2 == 0, headDim <= 1024 else {
            throw EngineError(.badHyperparameter, "unsupported head size \(headDim)")
        }
        if let nRot = try opt("rope.dimension_count"), nRot != headDim {
            throw EngineError(.badHyperparameter, "rope.dimension_count \(nRot) != head size \(headDim) (partial RoPE unsupported)")
        }
        guard let eps = try optF("attention.layer_norm_rms_epsilon") else {
            throw EngineError(.badHyperparameter, "required metadata key \(p)attention.layer_norm_rms_epsilon is missing")
        }
        rmsEps = eps
        ropeBase = try optF("rope.freq_base") ?? 10000
        ropeBaseSWA = try optF("rope.freq_base_swa") ?? 10000
        var freqScale: Float = 1
        let scalingType = (try? file.optionalString(p + "rope.scaling.type")) ?? nil
        switch scalingType ?? "linear" {
        case "none": freqScale = 1
        case "linear":
            var factor = try optF("rope.scaling.factor") ?? 0
            if factor == 0 { factor = try optF("rope.scale_linear") ?? 0 }
            freqScale = factor == 0 ? 1 : 1 / factor
        default:
            throw EngineError(.badHyperparameter, "RoPE scaling type '\(scalingType ?? "")' is not supported yet")
        }
        ropeFreqScale = freqScale
        finalLogitSoftcap = try optF("final_logit_softcapping") ?? 0
        switch arch {
        case .gemma3:
            ropeStyle = .neox
            slidingWindow = try opt("attention.sliding_window") ?? 0
            slidingWindowPattern = try opt("attention.sliding_window_pattern") ?? 6
        case .qwen2:
            ropeStyle = .neox
            slidingWindow = 0
            slidingWindowPattern = 0
        case .llama:
            ropeStyle = .norm
            slidingWindow = 0
            slidingWindowPattern = 0
        }
        vocabularySize = (try? file.arrayCount("tokenizer.ggml.tokens")) ?? 0
        guard vocabularySize > 0 else {
            throw EngineError(.badHyperparameter, "tokenizer.ggml.tokens is missing: vocabulary size unknown")
        }
    }
}
