import Foundation
import Tensor

/// A local sentence-embedding model (sentence-transformers BERT, e.g. all-MiniLM-L6-v2): text in, one
/// L2-normalised, mean-pooled vector per text out.
///
/// Thread safety: immutable after `init`; every call allocates its own scratch, so `embed` and `tokenize`
/// may be called concurrently from any number of threads or tasks (parallel regions of the thread pool are
/// serialised by the pool itself). Calls block the calling thread: from async code, run them off the
/// cooperative pool (or accept the block for these few-millisecond calls).
public final class SentenceEmbedder: Sendable {
    /// Largest number of tokens packed into one forward pass (bounds the scratch to about 15 MB).
    public static let maxBatchTokens = 2048

    /// Length of each embedding (the model's hidden size, 384 for MiniLM-L6).
    public var dimensions: Int { encoder.config.hidden }
    /// Longest tokenized input, [CLS] and [SEP] included; longer texts are truncated.
    public var maxTokens: Int { tokenizer.maxLength }
    /// Number of token ids the model accepts (valid ids are `0 ..< vocabularySize`).
    public var vocabularySize: Int { encoder.config.vocab }
    /// The model directory's last path component, e.g. "all-MiniLM-L6-v2".
    public let modelName: String
    /// The tokenizer (exposed for diagnostics and tests).
    public let tokenizer: WordPieceTokenizer

    private let encoder: BertEncoder
    private let pool: ThreadPool

    /// Loads a sentence-transformers folder: config.json, model.safetensors, tokenizer.json (or vocab.txt),
    /// optional sentence_bert_config.json (`max_seq_length`, default 512 capped at the position table) and
    /// 1_Pooling/config.json (must ask for mean pooling when present).
    /// `threads`: the worker pool the encoder runs on (the server passes its model's pool).
    /// Throws `EngineError` naming the file for anything missing, malformed or unsupported.
    public init(directory: String, threads: ThreadPool = .shared) throws {
        let dir = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw EngineError(.loadFailed, "embedding model directory \(dir) does not exist")
        }
        modelName = URL(fileURLWithPath: dir).lastPathComponent
        let config = try BertConfig.load(dir + "/config.json")
        var maxLength = config.maxPositions
        let stPath = dir + "/sentence_bert_config.json"
        if FileManager.default.fileExists(atPath: stPath) {
            let st = try WordPieceTokenizer.jsonObject(stPath)
            if let m = st["max_seq_length"] as? Int {
                guard m >= 2 && m <= config.maxPositions else {
                    throw EngineError(.badHyperparameter,
                                      "\(stPath): max_seq_length \(m) outside 2...\(config.maxPositions)")
                }
                maxLength = m
            }
        }
        let poolingPath = dir + "/1_Pooling/config.json"
        if FileManager.default.fileExists(atPath: poolingPath) {
            let p = try WordPieceTokenizer.jsonObject(poolingPath)
            guard p["pooling_mode_mean_tokens"] as? Bool ?? true,
                  !(p["pooling_mode_cls_token"] as? Bool ?? false),
                  !(p["pooling_mode_max_tokens"] as? Bool ?? false) else {
                throw EngineError(.unsupportedArchitecture, "\(poolingPath): only mean pooling is supported")
            }
        }
        tokenizer = try WordPieceTokenizer.load(directory: dir, maxLength: maxLength)
        guard tokenizer.tokens.count <= config.vocab else {
            throw EngineError(.badHyperparameter,
                              "\(dir): tokenizer has \(tokenizer.tokens.count) tokens, model vocab_size is \(config.vocab)")
        }
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(path: dir + "/model.safetensors")
        } catch {
            throw EngineError(.loadFailed, "cannot open \(dir)/model.safetensors", underlying: error)
        }
        encoder = BertEncoder(config: config, weights: try BertWeights(file: file, config: config))
        pool = threads
    }

    /// Token ids of `text`: [CLS] ... [SEP], truncated to `maxTokens`.
    public func tokenize(_ text: String) -> [Int32] {
        tokenizer.encode(text)
    }

    /// Embeddings of `texts`, in order: each `dimensions` floats with unit L2 norm.
    public func embed(_ texts: [String]) -> [[Float]] {
        embed(tokenIDs: texts.map(tokenize))
    }

    /// Embeddings of already tokenized inputs (normally from `tokenize`). Each sequence is clipped to
    /// `maxTokens` (keeping its last id, the [SEP]); an empty sequence gives an all-zero vector; an id outside
    /// `0 ..< vocabularySize` is read as [UNK] (callers that take ids from users should reject them first).
    public func embed(tokenIDs: [[Int32]]) -> [[Float]] {
        var out = [[Float]](repeating: [Float](repeating: 0, count: dimensions), count: tokenIDs.count)
        var batch: [Int] = []
        var batchTokens = 0
        func flush() {
            let vectors = encoder.embed(batch.map { clipped(tokenIDs[$0]) }, pool: pool)
            for (i, v) in zip(batch, vectors) { out[i] = v }
            batch.removeAll()
            batchTokens = 0
        }
        for (i, ids) in tokenIDs.enumerated() where !ids.isEmpty {
            let n = min(ids.count, maxTokens)
            if batchTokens + n > Self.maxBatchTokens && !batch.isEmpty { flush() }
            batch.append(i)
            batchTokens += n
        }
        if !batch.isEmpty { flush() }
        return out
    }

    private func clipped(_ ids: [Int32]) -> [Int32] {
        let kept = ids.count <= maxTokens ? ids : Array(ids[..<(maxTokens - 1)]) + [ids[ids.count - 1]]
        let vocab = Int32(vocabularySize), unk = tokenizer.unkID
        return kept.contains { $0 < 0 || $0 >= vocab } ? kept.map { $0 >= 0 && $0 < vocab ? $0 : unk } : kept
    }
}
