import Foundation
import PrefixCache
import Tensor

/// A LoRA adapter in llama.cpp's GGUF format, validated against one base model and converted to f32.
///
/// The file (as `convert_lora_to_gguf.py` writes it and `llama-adapter.cpp` reads it): `general.type =
/// "adapter"`, `general.architecture` = the base's, `adapter.type = "lora"`, `adapter.lora.alpha` (f32,
/// absent = 0), and per adapted base matrix `W` (ne `[in, out]`) a pair `W.lora_a` (ne `[in, rank]`) and
/// `W.lora_b` (ne `[rank, out]`); `*_norm.weight` tensors are ignored as llama.cpp does. The adapted product is
/// `y = W x + s B (A x)` with `s = scale * alpha / rank`, or `s = scale` when alpha is 0 (llama.cpp's
/// `get_scale`). Any tensor type the engine reads (f32, f16, bf16, q8_0, ...) is accepted; the factors are
/// tiny (rank x width), so they are converted to f32 once here.
///
/// NOTE: `@unchecked Sendable`: immutable after `init`.
public final class LoRAAdapter: @unchecked Sendable {
    /// Largest rank accepted (real adapters use 4...256).
    public static let maxRank = 1024
    /// Largest adapter file accepted by default.
    public static let defaultMaxBytes = 1 << 30

    public let path: String
    public let alpha: Float
    /// The user's multiplier (llama.cpp's `--lora-scaled`), 1 by default.
    public let scale: Float
    /// SHA-256 of the file's bytes: the adapter's identity for the prefix cache (two names or paths of one
    /// file share KV, a changed file never reuses old blocks).
    public let contentDigest: [UInt8]
    /// The adapted matrices: `pairs[layer][target]`.
    let pairs: [[LoRAPair?]]
    /// Number of adapted matrices.
    public let matrixCount: Int
    /// Largest rank among them.
    public let rank: Int

    /// Loads `path` and validates it against `config` (architecture, tensor names, shapes, types, values).
    public convenience init(path: String, config: ModelConfig, scale: Float = 1, maxBytes: Int = LoRAAdapter.defaultMaxBytes)
        throws(EngineError) {
        guard scale.isFinite else { throw EngineError(.invalidInput, "LoRA scale \(scale) is not a finite number") }
        // A symbolic link is followed: what must be a regular file is its target.
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let attributes = try? FileManager.default.attributesOfItem(atPath: target)
        guard let attributes, attributes[.type] as? FileAttributeType == .typeRegular else {
            throw EngineError(.loadFailed, "LoRA adapter \(path) is not a regular file")
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxBytes else {
            throw EngineError(.loadFailed, "LoRA adapter \(path) has \(size) bytes (limit \(maxBytes))")
        }
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch {
            throw EngineError(.loadFailed, "cannot read LoRA adapter \(path)", underlying: error)
        }
        try self.init(file: file, path: path, config: config, scale: scale)
    }

    /// Validates a parsed adapter file (tests build them in memory).
    public init(file: GGUFFile, path: String, config: ModelConfig, scale: Float = 1) throws(EngineError) {
        guard scale.isFinite else { throw EngineError(.invalidInput, "LoRA scale \(scale) is not a finite number") }
        self.path = path
        self.scale = scale
        func string(_ key: String) throws(EngineError) -> String? {
            do { return try file.optionalString(key) } catch {
                throw EngineError(.loadFailed, "LoRA adapter \(path): \(key) is not a string", underlying: error)
            }
        }
        let generalType = try string("general.type")
        guard generalType == "adapter" else {
            throw EngineError(.loadFailed, "\(path) is not an adapter: general.type is \(generalType.map { "'\($0)'" } ?? "missing"), expected 'adapter'")
        }
        let adapterType = try string("adapter.type")
        guard adapterType == "lora" else {
            throw EngineError(.loadFailed, "\(path): adapter.type is \(adapterType.map { "'\($0)'" } ?? "missing"), expected 'lora'")
        }
        let arch = try string("general.architecture")
        guard arch == config.architecture.rawValue else {
            throw EngineError(.loadFailed, "LoRA adapter \(path) is for architecture '\(arch ?? "none")', the base model is \(config.architecture.rawValue)")
        }
        let alphaValue: Float?
        do { alphaValue = try file.optionalFloat("adapter.lora.alpha") } catch {
            throw EngineError(.loadFailed, "LoRA adapter \(path): adapter.lora.alpha is not a float", underlying: error)
        }
        let alpha = alphaValue ?? 0
        self.alpha = alpha
        guard alpha.isFinite else { throw EngineError(.loadFailed, "LoRA adapter \(path): adapter.lora.alpha is \(alpha)") }

        // Pair the tensors by base name, as llama.cpp does.
        var halves: [String: (a: GGUFTensorInfo?, b: GGUFTensorInfo?)] = [:]
        for t in file.tensors {
            if t.name.hasSuffix(".lora_a") {
                halves[String(t.name.dropLast(7)), default: (nil, nil)].a = t
            } else if t.name.hasSuffix(".lora_b") {
                halves[String(t.name.dropLast(7)), default: (nil, nil)].b = t
            } else if t.name.hasSuffix("_norm.weight") {
                continue
            } else {
                throw EngineError(.loadFailed, "LoRA adapter \(path): tensor \(t.name) is neither .lora_a nor .lora_b")
            }
        }
        guard !halves.isEmpty else { throw EngineError(.loadFailed, "LoRA adapter \(path) has no lora_a / lora_b tensors") }
        var pairs = [[LoRAPair?]](repeating: [LoRAPair?](repeating: nil, count: LoRATarget.allCases.count),
                                  count: config.layerCount)
        var maxRank = 0
        for (name, half) in halves.sorted(by: { $0.key < $1.key }) {
            guard let a = half.a, let b = half.b else {
                throw EngineError(.loadFailed, "LoRA adapter \(path): tensor pair for \(name) is missing its \(half.a == nil ? "lora_a" : "lora_b")")
            }
            guard let parsed = LoRATarget.parse(name), parsed.0 < config.layerCount else {
                throw EngineError(.loadFailed, "LoRA adapter \(path): \(name) is not an adaptable matrix of the base model "
                                  + "(blk.N.{\(LoRATarget.allCases.map(\.rawValue).joined(separator: ","))}.weight, N < \(config.layerCount))")
            }
            let (layer, target) = parsed
            let (n, m) = target.shape(config)   // base ne [in, out]
            guard a.ne.count == 2, b.ne.count == 2 else {
                throw EngineError(.badTensorShape, "LoRA adapter \(path): \(name) factors have shapes \(a.ne) and \(b.ne), expected 2-D")
            }
            let rank = a.ne[1]
            guard a.ne[0] == n, b.ne[1] == m else {
                throw EngineError(.badTensorShape, "LoRA adapter \(path): \(name) has lora_a \(a.ne) and lora_b \(b.ne), "
                                  + "the base matrix is [\(n), \(m)] (hint: wrong base model?)")
            }
            guard b.ne[0] == rank else {
                throw EngineError(.badTensorShape, "LoRA adapter \(path): \(name) has lora_a rank \(rank) but lora_b \(b.ne) (expected [\(rank), \(m)])")
            }
            guard rank >= 1, rank <= Self.maxRank, rank <= min(n, m) else {
                throw EngineError(.badTensorShape, "LoRA adapter \(path): \(name) has rank \(rank) (allowed 1...\(min(Self.maxRank, n, m)))")
            }
            for t in [a, b] where !t.type.isSupported {
                throw EngineError(.unsupportedTensorType, "LoRA adapter \(path): tensor \(t.name) has type \(t.type), which is not supported")
            }
            let down = try Self.floats(file, a, path: path)                   // [rank][in]
            let up = try Self.floats(file, b, path: path)                     // [out][rank]
            var upT = [Float](repeating: 0, count: rank * m)                  // [rank][out]
            for o in 0..<m { for r in 0..<rank { upT[r * m + o] = up[o * rank + r] } }
            let s = alpha != 0 ? scale * alpha / Float(rank) : scale
            pairs[layer][target.index] = LoRAPair(rank: rank, inputs: n, outputs: m, a: down, bT: upT, scale: s)
            maxRank = max(maxRank, rank)
        }
        self.pairs = pairs
        matrixCount = halves.count
        rank = maxRank
        let bytes = file.bytes
        var digestInput = [UInt8](bytes)
        // The scale changes the outputs, so it is part of the identity (1 for every served adapter).
        withUnsafeBytes(of: scale.bitPattern.littleEndian) { digestInput.append(contentsOf: $0) }
        contentDigest = ModelFingerprint(digesting: digestInput).bytes
    }

    /// The prefix-cache key of KV computed under this adapter: its content, never its name.
    public var cacheKey: LoRAKey { LoRAKey(name: "", digest: contentDigest) }

    /// The adapted pair of `target` in `layer`, if any.
    func pair(_ layer: Int, _ target: LoRATarget) -> LoRAPair? { pairs[layer][target.index] }

    private static func floats(_ file: GGUFFile, _ t: GGUFTensorInfo, path: String) throws(EngineError) -> [Float] {
        var out = [Float](repeating: 0, count: t.elementCount)
        out.withUnsafeMutableBufferPointer { buf in
            let src = file.data(of: t)
            for r in 0..<t.rowCount {
                Dequant.row(t.type, src + r * t.rowBytes, buf.baseAddress! + r * t.ne[0], count: t.ne[0])
            }
        }
        guard out.allSatisfy(\.isFinite) else {
            throw EngineError(.loadFailed, "LoRA adapter \(path): tensor \(t.name) holds a NaN or infinite value")
        }
        return out
    }
}

/// One adapted matrix: `y += scale * Bᵀ-rows · (A x)`, A as `[rank][inputs]`, B transposed as `[rank][outputs]`
/// so the update is `rank` dot products then `rank` axpys over the output.
struct LoRAPair: Sendable {
    let rank: Int
    let inputs: Int
    let outputs: Int
    let a: [Float]
    let bT: [Float]
    let scale: Float
}

/// The base matrices an adapter may adapt (the ones the forward pass multiplies by).
enum LoRATarget: String, CaseIterable, Sendable {
    case q = "attn_q", k = "attn_k", v = "attn_v", o = "attn_output"
    case gate = "ffn_gate", up = "ffn_up", down = "ffn_down"

    var index: Int { Self.allCases.firstIndex(of: self)! }

    /// Base matrix shape as ggml ne: (inputs, outputs).
    func shape(_ c: ModelConfig) -> (Int, Int) {
        switch self {
        case .q: (c.embeddingLength, c.qDim)
        case .k, .v: (c.embeddingLength, c.kvDim)
        case .o: (c.qDim, c.embeddingLength)
        case .gate, .up: (c.embeddingLength, c.feedForwardLength)
        case .down: (c.feedForwardLength, c.embeddingLength)
        }
    }

    /// `blk.N.<target>.weight` -> (N, target).
    static func parse(_ name: String) -> (Int, LoRATarget)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", parts[3] == "weight",
              parts[1].allSatisfy(\.isASCII), let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1],
              let target = LoRATarget(rawValue: String(parts[2])) else { return nil }
        return (layer, target)
    }
}
