import Foundation
import NumericCore
import Tensor

/// A decoder-only transformer (gemma3, llama, qwen2) running on quantized, memory-mapped weights.
///
/// The forward pass follows llama.cpp's graphs (SPEC-model.md 3.3 for gemma3, 6.3 for llama / qwen2):
/// one code path whose architecture-specific steps (embedding scale, QK-norm, sandwich norms, GeGLU vs
/// SwiGLU, biases, RoPE pairing, sliding window) are switched by the config. Tokens are processed in
/// micro-batches so every weight matrix is read once per micro-batch.
///
/// NOTE: not thread-safe: one owner runs `forward` at a time (scratch buffers are reused); intra-op
/// parallelism goes through `ThreadPool`.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: ModelWeights
    public let threadPool: ThreadPool
    /// Maximum tokens per forward call (scratch is sized for it).
    public let maxBatch: Int

    private let act = ActivationBuffer()
    private var scratch: Scratch
    /// True while the output head runs (its matmul is profiled as `.outputHead`, not `.matmul`).
    private var outputHead = false
    /// Time per stage when `INFER_PROFILE=1` (printed at exit), else nil.
    public let profile = ForwardProfile.fromEnvironment()

    public init(config: ModelConfig, weights: ModelWeights, threads: ThreadPool = .shared, maxBatch: Int = 64) {
        self.config = config
        self.weights = weights
        self.threadPool = threads
        self.maxBatch = maxBatch
        scratch = Scratch(config: config, batch: maxBatch, threads: threads.threadCount)
    }

    /// A new, empty single-sequence KV cache for up to `capacity` positions (clamped to the trained context).
    /// `dtype` must fit the head size (`KVCacheDType.check(headDim:)`).
    public func makeCache(capacity: Int, dtype: KVCacheDType = .f32) -> KVCache {
        precondition(config.headDim % dtype.blockElements == 0, "makeCache: head size \(config.headDim), \(dtype)")
        return KVCache(layerCount: config.layerCount, kvDim: config.kvDim,
                       capacity: min(max(1, capacity), config.contextLength), dtype: dtype)
    }

    /// Single-sequence convenience: runs `tokens` (at most `maxBatch`) at positions
    /// `cache.count ..< cache.count + tokens.count`, appends their K/V, and returns logits
    /// `[outputRows.count, vocab]` for the batch rows in `outputRows` (relative to this batch).
    public func forward(_ tokens: ArraySlice<Int>, cache: KVCache, outputRows: Range<Int>,
                        adapter: LoRAAdapter? = nil) -> [Float] {
        precondition(cache.count + tokens.count <= cache.capacity, "KV cache full")
        let p0 = cache.count
        let rows = tokens.enumerated().map { BatchRow(token: $0.element, position: p0 + $0.offset, sequence: 0) }
        let logits = forward(rows: rows, tables: [cache.table], kv: cache.pool, outputRows: Array(outputRows),
                             adapters: adapter.map { [$0] } ?? [])
        cache.count = p0 + tokens.count
        return logits
    }

    /// Batched forward pass over rows of several sequences (continuous batching): row r is token
    /// `rows[r].token` at `rows[r].position` of sequence `tables[rows[r].sequence]`, whose blocks must already
    /// cover that position. Writes every row's K/V into `kv`, then attends each row to positions
    /// `0...position` of its own sequence (earlier rows of the same sequence in this batch included).
    /// Returns logits `[outputRows.count, vocab]` for the listed batch rows. Tables' `count` is not changed.
    /// `adapters`: empty (no LoRA anywhere), or one entry per table: the LoRA adapter of that sequence or nil
    /// for the base model. The base matmuls run once for all rows; each adapter's low-rank update is then
    /// added to its own rows (`LoRABatch`).
    public func forward(rows: [BatchRow], tables: [BlockTable], kv: KVPool, outputRows: [Int],
                        adapters: [LoRAAdapter?] = []) -> [Float] {
        let T = rows.count
        precondition(T > 0 && T <= maxBatch, "batch of \(T) tokens (max \(maxBatch))")
        let start = profile != nil ? ForwardProfile.now() : 0
        defer { profile?.finish(rows: T, since: start) }
        let c = config
        let e = c.embeddingLength
        let s = scratch
        precondition(adapters.isEmpty || adapters.count == tables.count, "one adapter entry per sequence")
        let lora = LoRABatch(rows: rows, adapters: adapters)

        // x = embedding rows (· sqrt(n_embd) for gemma3).   x: [T, e]
        let embedScale: Float = c.architecture == .gemma3 ? Float(e).squareRoot() : 1
        for (t, row) in rows.enumerated() {
            precondition(row.token >= 0 && row.token < c.vocabularySize, "token id \(row.token) out of range")
            precondition(row.position < tables[row.sequence].blocks.count * kv.blockSize, "no KV block for position")
            let xr = s.x + t * e
            Dequant.row(weights.tokenEmbedding.type, weights.tokenEmbedding.row(row.token), xr, count: e)
            if embedScale != 1 { for i in 0..<e { xr[i] *= embedScale } }
        }

        let positions = rows.map(\.position)
        let ropeGlobal = RopeTable(positions: positions, headDim: c.headDim, base: c.ropeBase,
                                   freqScale: c.ropeFreqScale, freqFactors: weights.ropeFreqs)
        let ropeLocal = c.architecture == .gemma3
            ? RopeTable(positions: positions, headDim: c.headDim, base: c.ropeBaseSWA, freqScale: c.ropeFreqScale,
                        freqFactors: nil)
            : ropeGlobal

        // The tiled attention's cut of this batch (the same for every layer).
        let flashPlan = VectorMath.flashAttention && VectorMath.flashAttentionSupports(headDim: c.headDim)
            ? FlashAttentionPlan(rows: rows, headCount: c.headCount, kvHeadCount: c.headCountKV,
                                 threads: threadPool.threadCount)
            : nil
        for (il, lw) in weights.layers.enumerated() {
            let sliding = c.isSlidingLayer(il)
            attentionBlock(layer: il, lw, rows: rows, tables: tables, kv: kv,
                           rope: sliding ? ropeLocal : ropeGlobal, window: sliding ? c.slidingWindow : 0, lora: lora,
                           flashPlan: flashPlan)
            feedForwardBlock(layer: il, lw, T: T, lora: lora)
        }

        // Final norm on the requested rows only, then the output head.   logits: [rows, vocab]
        let n = outputRows.count
        guard n > 0 else { return [] }
        let headStart = profile != nil ? ForwardProfile.now() : 0
        outputHead = true
        defer {
            outputHead = false
            profile?.add(.outputHead, since: headStart)
        }
        for (r, t) in outputRows.enumerated() {
            precondition(t >= 0 && t < T)
            weights.outputNorm.withUnsafeBufferPointer {
                Ops.rmsNorm(s.x + t * e, $0.baseAddress!, s.h + r * e, e, eps: c.rmsEps)
            }
        }
        var logits = [Float](repeating: 0, count: n * c.vocabularySize)
        logits.withUnsafeMutableBufferPointer { out in
            matmul(weights.output, s.h, T: n, out.baseAddress!)
            if let b = weights.outputBias {
                for r in 0..<n { for i in 0..<c.vocabularySize { out[r * c.vocabularySize + i] += b[i] } }
            }
            if c.finalLogitSoftcap > 0 {
                let cap = c.finalLogitSoftcap
                for i in 0..<out.count { out[i] = tanhf(out[i] / cap) * cap }
            }
        }
        return logits
    }

    // MARK: - Blocks

    private func attentionBlock(layer il: Int, _ lw: LayerWeights, rows: [BatchRow], tables: [BlockTable],
                                kv: KVPool, rope: RopeTable, window: Int, lora: LoRABatch,
                                flashPlan: FlashAttentionPlan?) {
        let c = config
        let T = rows.count
        let e = c.embeddingLength, hd = c.headDim, qDim = c.qDim, kvDim = c.kvDim
        let bs = kv.blockSize
        let s = scratch
        normRows(s.x, lw.attnNorm, s.h, T: T, n: e)
        matmul(lw.wq, s.h, T: T, s.q)     // [T, qDim]
        matmul(lw.wk, s.h, T: T, s.k)     // [T, kvDim]
        matmul(lw.wv, s.h, T: T, s.v)     // [T, kvDim]
        if !lora.isEmpty {
            lora.apply(layer: il, .q, s.h, s.q)
            lora.apply(layer: il, .k, s.h, s.k)
            lora.apply(layer: il, .v, s.h, s.v)
        }
        addBias(lw.bq, s.q, T: T, n: qDim)
        addBias(lw.bk, s.k, T: T, n: kvDim)
        addBias(lw.bv, s.v, T: T, n: kvDim)
        let qScale: Float = c.architecture == .gemma3 ? 1 / Float(hd).squareRoot() : 1
        // Rows are independent (each writes its own KV slot), so they are split across the pool; each row's
        // arithmetic is the same wherever it runs.
        threadPool.parallelFor(T, granularity: 4) { range in
            for t in range {
                let row = rows[t]
                for h in 0..<c.headCount {
                    let qh = s.q + t * qDim + h * hd
                    if let w = lw.qNorm { w.withUnsafeBufferPointer { Ops.rmsNorm(qh, $0.baseAddress!, qh, hd, eps: c.rmsEps) } }
                    rope.apply(qh, row: t, style: c.ropeStyle)
                    if qScale != 1 { for i in 0..<hd { qh[i] *= qScale } }
                }
                for h in 0..<c.headCountKV {
                    let kh = s.k + t * kvDim + h * hd
                    if let w = lw.kNorm { w.withUnsafeBufferPointer { Ops.rmsNorm(kh, $0.baseAddress!, kh, hd, eps: c.rmsEps) } }
                    rope.apply(kh, row: t, style: c.ropeStyle)
                }
                let block = Int(tables[row.sequence].blocks[row.position / bs]), slot = row.position % bs
                kv.store(s.k + t * kvDim, at: kv.row(kv.keyBlock(il, block), slot), count: kvDim)
                kv.store(s.v + t * kvDim, at: kv.row(kv.valueBlock(il, block), slot), count: kvDim)
            }
        }
        // Attention through each row's block table. One task per (row, KV head) covering the query heads
        // that share it (GQA), so each K/V row is loaded once for all of them; with too few tasks for the
        // pool (decode of a single sequence), one task per (row, head) instead.   attn: [T, qDim]
        let scoreScale: Float = c.architecture == .gemma3 ? 1 : 1 / Float(hd).squareRoot()
        if let flashPlan {
            // Tiled kernel (AVX-512): K/V tiles shared by all rows of a sequence in this batch.
            let start = profile != nil ? ForwardProfile.now() : 0
            flashAttention(layer: il, plan: flashPlan, rows: rows, tables: tables, kv: kv, window: window,
                           scale: scoreScale, q: s.q, attn: s.attn, scratch: s)
            profile?.add(.attention, since: start)
            attentionOutput(layer: il, lw, T: T, lora: lora)
            return
        }
        let group = c.headCount / c.headCountKV
        let perTask = T * c.headCountKV < 2 * threadPool.threadCount ? 1 : group
        let tasksPerRow = c.headCount / perTask
        let tasks = T * tasksPerRow
        // The fused C kernel (AVX2) handles 1, 2, 4 or 8 heads per KV head with hd % 64 == 0.
        let fused = VectorMath.fusedAttentionInC(heads: perTask, headDim: hd)
        let attentionStart = profile != nil ? ForwardProfile.now() : 0
        threadPool.run { index, n in
            let scores = s.scores + index * s.scoresPerThread   // [perTask, count]
            var task = tasks * index / n
            let end = tasks * (index + 1) / n
            while task < end {
                let t = task / tasksPerRow, h0 = (task % tasksPerRow) * perTask, kvh = h0 / group
                let row = rows[t]
                let table = tables[row.sequence]
                let lo = window > 0 ? max(0, row.position - window + 1) : 0
                let count = row.position - lo + 1
                let q = s.q + t * qDim + h0 * hd          // perTask heads, contiguous
                let o = s.attn + t * qDim + h0 * hd       // perTask heads, contiguous
                if fused {
                    // Block pointers covering lo...position, offset to this KV head.
                    let kp = s.blockPointers + index * 2 * s.pointersPerThread
                    let vp = kp + s.pointersPerThread
                    var nb = 0
                    for b in (lo / bs)...(row.position / bs) {
                        let id = Int(table.blocks[b])
                        kp[nb] = UnsafeRawPointer(kv.element(kv.keyBlock(il, id), kvh * hd))
                        vp[nb] = UnsafeRawPointer(kv.element(kv.valueBlock(il, id), kvh * hd))
                        nb += 1
                    }
                    // The kernel of the pool's row format reads the rows where they lie.
                    VectorMath.attend(q, heads: perTask, headDim: hd, keyBlocks: kp, valueBlocks: vp,
                                      format: kv.dtype.rowFormat, blockSize: bs, rowStride: kvDim, lo: lo, count: count,
                                      scale: scoreScale, scores: scores, out: o)
                    task += 1
                    continue
                }
                // Unfused: rows of a compact pool are converted to f32 one at a time into this thread's buffer.
                let rowBuffer = s.rowBuffers + index * hd
                @inline(__always) func asFloats(_ start: UnsafeMutableRawPointer) -> UnsafePointer<Float> {
                    if kv.dtype == .f32 { return UnsafePointer(start.assumingMemoryBound(to: Float.self)) }
                    kv.load(start, into: rowBuffer, count: hd)
                    return UnsafePointer(rowBuffer)
                }
                var j = lo
                while j <= row.position {
                    let keys = kv.element(kv.keyBlock(il, Int(table.blocks[j / bs])), kvh * hd)
                    let end = min(row.position + 1, (j / bs + 1) * bs)
                    for p in j..<end {
                        let k = asFloats(kv.row(keys, p % bs))
                        for i in 0..<perTask {
                            scores[i * count + p - lo] = VectorMath.dot(q + i * hd, k, hd) * scoreScale
                        }
                    }
                    j = end
                }
                for i in 0..<perTask { VectorMath.softmax(scores + i * count, count) }
                o.initialize(repeating: 0, count: perTask * hd)
                j = lo
                while j <= row.position {
                    let values = kv.element(kv.valueBlock(il, Int(table.blocks[j / bs])), kvh * hd)
                    let end = min(row.position + 1, (j / bs + 1) * bs)
                    for p in j..<end {
                        let v = asFloats(kv.row(values, p % bs))
                        for i in 0..<perTask { VectorMath.axpy(scores[i * count + p - lo], v, o + i * hd, hd) }
                    }
                    j = end
                }
                task += 1
            }
        }
        profile?.add(.attention, since: attentionStart)
        attentionOutput(layer: il, lw, T: T, lora: lora)
    }

    /// Output projection of the attention block and the residual add.
    private func attentionOutput(layer il: Int, _ lw: LayerWeights, T: Int, lora: LoRABatch) {
        let c = config
        let e = c.embeddingLength
        let s = scratch
        matmul(lw.wo, s.attn, T: T, s.o)   // [T, e]
        if !lora.isEmpty { lora.apply(layer: il, .o, s.attn, s.o) }
        addBias(lw.bo, s.o, T: T, n: e)
        if let w = lw.postAttnNorm { normRows(s.o, w, s.o, T: T, n: e) }
        for i in 0..<(T * e) { s.x[i] += s.o[i] }
    }

    private func feedForwardBlock(layer il: Int, _ lw: LayerWeights, T: Int, lora: LoRABatch) {
        let c = config
        let e = c.embeddingLength, ff = c.feedForwardLength
        let s = scratch
        normRows(s.x, lw.ffnNorm, s.h, T: T, n: e)
        matmul(lw.gate, s.h, T: T, s.gate)   // [T, ff]
        matmul(lw.up, s.h, T: T, s.up)       // [T, ff]
        if !lora.isEmpty {
            lora.apply(layer: il, .gate, s.h, s.gate)
            lora.apply(layer: il, .up, s.h, s.up)
        }
        addBias(lw.bGate, s.gate, T: T, n: ff)
        addBias(lw.bUp, s.up, T: T, n: ff)
        let gemma = c.architecture == .gemma3
        let gateStart = profile != nil ? ForwardProfile.now() : 0
        threadPool.parallelFor(T * ff, granularity: 512) { r in
            if gemma {
                VectorMath.geluTanhMul(s.gate + r.lowerBound, s.up + r.lowerBound, r.count)
            } else {
                VectorMath.siluMul(s.gate + r.lowerBound, s.up + r.lowerBound, r.count)
            }
        }
        profile?.add(.ffnActivation, since: gateStart)
        matmul(lw.down, s.gate, T: T, s.o)   // [T, e]
        if !lora.isEmpty { lora.apply(layer: il, .down, s.gate, s.o) }
        addBias(lw.bDown, s.o, T: T, n: e)
        if let w = lw.postFFNNorm { normRows(s.o, w, s.o, T: T, n: e) }
        for i in 0..<(T * e) { s.x[i] += s.o[i] }
    }

    // MARK: - Helpers

    /// out[T, W.rows] = x[T, W.cols] · Wᵀ, rows split across the pool.
    private func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, T: Int, _ out: UnsafeMutablePointer<Float>) {
        var t0 = profile != nil ? ForwardProfile.now() : 0
        act.prepare(for: w.type, x: x, rows: T, n: w.cols, pool: threadPool)
        let act = self.act
        if let p = profile, !outputHead { t0 = p.add(.quantize, since: t0) }
        defer { if let p = profile, !outputHead { p.add(.matmul, since: t0) } }
        if let r = w.repacked {
            // Granularity 16: every range starts at a 16-row group of the repacked layout.
            threadPool.parallelFor(w.rows, granularity: 16) { range in
                MatMul.compute(r, rows: range, act: act, out: out, outStride: w.rows)
            }
            return
        }
        threadPool.parallelFor(w.rows, granularity: 16) { range in
            MatMul.compute(w.type, weight: w.data, n: w.cols, rows: range, act: act, out: out, outStride: w.rows)
        }
    }

    private func normRows(_ x: UnsafePointer<Float>, _ w: WeightVector, _ out: UnsafeMutablePointer<Float>, T: Int, n: Int) {
        let eps = config.rmsEps
        w.withUnsafeBufferPointer { wp in
            let wb = wp.baseAddress!
            // One row per task unit: rows are independent, and a row's result does not depend on the split.
            threadPool.parallelFor(T, granularity: 8) { range in
                for t in range { Ops.rmsNorm(x + t * n, wb, out + t * n, n, eps: eps) }
            }
        }
    }

    private func addBias(_ b: WeightVector?, _ y: UnsafeMutablePointer<Float>, T: Int, n: Int) {
        guard let b else { return }
        for t in 0..<T { for i in 0..<n { y[t * n + i] += b[i] } }
    }
}

/// One row of a batched forward pass: a token at a position of one sequence (index into the tables).
public struct BatchRow: Sendable, Equatable {
    public var token: Int
    public var position: Int
    public var sequence: Int

    public init(token: Int, position: Int, sequence: Int) {
        self.token = token
        self.position = position
        self.sequence = sequence
    }
}

/// Scratch buffers of one `Transformer`, sized for its maximum batch. Shapes in comments.
final class Scratch: @unchecked Sendable {
    // NOTE: used only by the owning Transformer's forward pass (see Transformer's note).
    let x, h, q, k, v, attn, o, gate, up: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>   // [threads, scoresPerThread]
    let scoresPerThread: Int
    let blockPointers: UnsafeMutablePointer<UnsafeRawPointer?>   // [threads, 2 (K, V), pointersPerThread]
    let pointersPerThread: Int
    let rowBuffers: UnsafeMutablePointer<Float>   // [threads, hd]: one K or V row as f32 (unfused, compact KV)
    let flashWork: UnsafeMutablePointer<Float>    // [threads, flashWorkPerThread]: tiled attention's K/V tiles
    let flashWorkPerThread: Int

    init(config c: ModelConfig, batch: Int, threads: Int) {
        let e = c.embeddingLength
        x = .allocate(capacity: batch * e)                    // [T, e] residual stream
        h = .allocate(capacity: batch * e)                    // [T, e] normed input
        q = .allocate(capacity: batch * c.qDim)               // [T, nHead * hd]
        k = .allocate(capacity: batch * c.kvDim)              // [T, nKV * hd]
        v = .allocate(capacity: batch * c.kvDim)              // [T, nKV * hd]
        attn = .allocate(capacity: batch * c.qDim)            // [T, nHead * hd] attention output
        o = .allocate(capacity: batch * e)                    // [T, e] block output
        gate = .allocate(capacity: batch * c.feedForwardLength)  // [T, ff]
        up = .allocate(capacity: batch * c.feedForwardLength)    // [T, ff]
        scoresPerThread = c.contextLength * (c.headCount / c.headCountKV)   // [heads per KV head, context]
        scores = .allocate(capacity: threads * scoresPerThread)
        pointersPerThread = c.contextLength + 2   // worst case: one-token blocks
        blockPointers = .allocate(capacity: threads * 2 * pointersPerThread)
        rowBuffers = .allocate(capacity: threads * c.headDim)
        flashWorkPerThread = VectorMath.flashAttentionWork(vectors: batch * c.headCount, headDim: c.headDim)
        flashWork = .allocate(capacity: threads * flashWorkPerThread)
    }

    deinit {
        for p in [x, h, q, k, v, attn, o, gate, up, scores, rowBuffers, flashWork] { p.deallocate() }
        blockPointers.deallocate()
    }
}
