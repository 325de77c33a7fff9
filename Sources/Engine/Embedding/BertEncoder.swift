import NumericCore
import Tensor

/// The BERT encoder forward pass in f32, several sentences per call, then mean pooling and L2 normalisation
/// (sentence-transformers Transformer -> Pooling(mean) -> Normalize).
///
/// Reference: Hugging Face `BertModel` (modeling_bert.py), post-LN:
/// x = LN(word[id] + position[p] + tokenType[0]);
/// per layer: x = LN(x + Wo·softmax(Q·Kᵀ/√d)·V + bo); x = LN(x + W2·gelu(W1·x + b1) + b2);
/// embedding = mean over the sentence's tokens (incl. [CLS]/[SEP]) / max(‖mean‖, 1e-12).
///
/// NOTE: the sentences of a batch are packed one after another (no padding) so every weight matrix is
/// streamed once per batch for all of their tokens; attention runs per (sentence, head) and never looks
/// across sentences. Every matmul element, LayerNorm row and attention head is computed the same way
/// whatever else is in the batch, so batched and one-by-one results are identical.
struct BertEncoder: Sendable {
    let config: BertConfig
    let weights: BertWeights

    /// Pooled, L2-normalised embeddings ([hidden] each) of `sentences` (token ids, each non-empty and at most
    /// `config.maxPositions` long, ids < vocab). All scratch is allocated per call, so calls may overlap.
    func embed(_ sentences: [[Int32]], pool: ThreadPool) -> [[Float]] {
        let h = config.hidden, f = config.intermediate
        let lengths = sentences.map(\.count)
        let starts = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
        let t = starts.last!
        precondition(lengths.allSatisfy { $0 > 0 && $0 <= config.maxPositions }, "sentence length out of range")
        if t == 0 { return [] }
        let x = UnsafeMutablePointer<Float>.allocate(capacity: t * h)        // [t, h] hidden state
        let qkv = UnsafeMutablePointer<Float>.allocate(capacity: t * 3 * h)  // [t, 3h] q | k | v
        let ctx = UnsafeMutablePointer<Float>.allocate(capacity: t * h)      // [t, h] attention output
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: t * h)      // [t, h] projection + residual
        let ff = UnsafeMutablePointer<Float>.allocate(capacity: t * f)       // [t, f] FFN hidden
        defer { for p in [x, qkv, ctx, tmp, ff] { p.deallocate() } }

        embeddings(sentences, starts: starts, into: x, pool: pool)
        for layer in weights.layers {
            linear(x, rows: t, layer.qkv, out: qkv, pool: pool)
            attention(qkv, starts: starts, out: ctx, pool: pool)
            linear(ctx, rows: t, layer.o, out: tmp, pool: pool)
            addNorm(tmp, residual: x, rows: t, layer.ln1Gamma, layer.ln1Beta, pool: pool)  // x = LN(tmp + x)
            linear(x, rows: t, layer.up, out: ff, pool: pool)
            pool.parallelFor(t, granularity: 4) { r in
                EmbeddingMath.geluErf(ff + r.lowerBound * f, r.count * f)
            }
            linear(ff, rows: t, layer.down, out: tmp, pool: pool)
            addNorm(tmp, residual: x, rows: t, layer.ln2Gamma, layer.ln2Beta, pool: pool)
        }
        return (0..<sentences.count).map { meanPoolNormalized(x + starts[$0] * h, rows: lengths[$0]) }
    }

    /// x[row] = LN(word[id] + position[p] + tokenType[0]).
    private func embeddings(_ sentences: [[Int32]], starts: [Int], into x: UnsafeMutablePointer<Float>,
                            pool: ThreadPool) {
        let h = config.hidden
        for (s, ids) in sentences.enumerated() {
            for (p, id) in ids.enumerated() {
                precondition(id >= 0 && Int(id) < config.vocab, "token id \(id) out of range")
                let row = x + (starts[s] + p) * h
                let w = weights.word + Int(id) * h, pos = weights.position + p * h, typ = weights.tokenType
                for i in 0..<h { row[i] = w[i] + pos[i] + typ[i] }
            }
        }
        let t = starts.last!
        pool.parallelFor(t, granularity: 8) { r in
            EmbeddingMath.layerNorm(x + r.lowerBound * h, rows: r.count, n: h, gamma: weights.embGamma,
                                    beta: weights.embBeta, eps: config.layerNormEps)
        }
    }

    /// out[i, j] = a[i, :] · w[j, :] + bias[j] ([m, w.outputs], a is [m, w.inputs]); the outputs are split
    /// across the pool in whole panels.
    private func linear(_ a: UnsafePointer<Float>, rows m: Int, _ w: PackedLinear, out: UnsafeMutablePointer<Float>,
                        pool: ThreadPool) {
        pool.parallelFor(w.outputs, granularity: PackedLinear.panelWidth) { r in
            w.apply(a, rows: m, lda: w.inputs, out: out, ldc: w.outputs, columns: r)
        }
    }

    /// x = LN(y + x) row by row (y is overwritten).
    private func addNorm(_ y: UnsafeMutablePointer<Float>, residual x: UnsafeMutablePointer<Float>, rows: Int,
                         _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>, pool: ThreadPool) {
        let h = config.hidden
        pool.parallelFor(rows, granularity: 8) { r in
            let lo = r.lowerBound * h, n = r.count * h
            for i in lo..<(lo + n) { x[i] += y[i] }
            EmbeddingMath.layerNorm(x + lo, rows: r.count, n: h, gamma: gamma, beta: beta, eps: config.layerNormEps)
        }
    }

    /// Self-attention of every (sentence, head): out[rows of s, head cols] = softmax(Q·Kᵀ/√d)·V.
    private func attention(_ qkv: UnsafeMutablePointer<Float>, starts: [Int], out: UnsafeMutablePointer<Float>,
                           pool: ThreadPool) {
        let h = config.hidden, nh = config.heads, hd = config.headDim, ld = 3 * h
        let sentences = starts.count - 1
        let maxLen = zip(starts, starts.dropFirst()).map { $1 - $0 }.max() ?? 0
        let scale = 1 / Float(hd).squareRoot()
        pool.parallelFor(sentences * nh) { items in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: maxLen * maxLen)  // [n, n]
            let vt = UnsafeMutablePointer<Float>.allocate(capacity: hd * maxLen)          // [hd, n] Vᵀ of the head
            defer { scores.deallocate(); vt.deallocate() }
            for item in items {
                let s = item / nh, head = item % nh
                let r0 = starts[s], n = starts[s + 1] - r0
                let q = qkv + r0 * ld + head * hd, k = q + h, v = q + 2 * h
                EmbeddingMath.sgemmNT(m: n, n: n, k: hd, a: q, lda: ld, b: k, ldb: ld, c: scores, ldc: n, bias: nil)
                for i in 0..<n {
                    let row = scores + i * n
                    for j in 0..<n { row[j] *= scale }
                    VectorMath.softmax(row, n)
                }
                for j in 0..<n {
                    for d in 0..<hd { vt[d * n + j] = v[j * ld + d] }
                }
                EmbeddingMath.sgemmNT(m: n, n: hd, k: n, a: scores, lda: n, b: vt, ldb: n,
                                      c: out + r0 * h + head * hd, ldc: h, bias: nil)
            }
        }
    }

    /// Mean of `rows` rows of width hidden, divided by max(L2 norm, 1e-12).
    private func meanPoolNormalized(_ x: UnsafePointer<Float>, rows: Int) -> [Float] {
        let h = config.hidden
        var sum = [Double](repeating: 0, count: h)
        for r in 0..<rows {
            for i in 0..<h { sum[i] += Double(x[r * h + i]) }
        }
        let mean = sum.map { $0 / Double(rows) }
        let norm = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return mean.map { Float($0 / norm) }
    }
}
