import NumericCore

/// How a micro-batch's attention is cut into calls of the tiled kernel (`VectorMath.flashAttend`).
///
/// Consecutive batch rows of one sequence at consecutive positions form a segment (a prefill chunk, a
/// speculative verification run, one decode row); one call covers rows of one segment and the query heads of
/// one KV head (GQA: the K/V tile is converted once for all of them). To keep every thread busy on a single
/// sequence, a segment's rows are dealt round-robin to `threads` pieces (piece k: rows k, k + n, k + 2n, ...,
/// which balances the causal triangle), and a segment shorter than the pool also splits its query heads.
/// How the work is cut never changes a row's bits (the kernel's contract), only who computes it.
struct FlashAttentionPlan {
    /// One kernel call: rows `firstRow + i * step` (i < rowCount) of the batch, query heads
    /// `head0 ..< head0 + heads` (all of KV head `kvHead`).
    struct Task: Equatable {
        var firstRow: Int, rowCount: Int, step: Int
        var head0: Int, heads: Int, kvHead: Int
    }

    let tasks: [Task]

    init(rows: [BatchRow], headCount: Int, kvHeadCount: Int, threads: Int) {
        let group = headCount / kvHeadCount
        var tasks: [Task] = []
        var start = 0
        while start < rows.count {
            var end = start + 1
            while end < rows.count, rows[end].sequence == rows[start].sequence,
                  rows[end].position == rows[end - 1].position + 1 { end += 1 }
            let length = end - start
            let rowPieces = min(length, threads)
            let headPieces = length >= threads ? 1 : min(group, max(1, threads / length))
            for kvh in 0..<kvHeadCount {
                for hp in 0..<headPieces {
                    let h0 = hp * group / headPieces, h1 = (hp + 1) * group / headPieces
                    for k in 0..<rowPieces {
                        tasks.append(Task(firstRow: start + k, rowCount: (length - k + rowPieces - 1) / rowPieces,
                                          step: rowPieces, head0: kvh * group + h0, heads: h1 - h0, kvHead: kvh))
                    }
                }
            }
            start = end
        }
        self.tasks = tasks
    }

    /// The tasks thread `index` of `count` runs (a contiguous share of the list).
    func share(_ index: Int, of count: Int) -> ArraySlice<Task> {
        tasks[(tasks.count * index / count)..<(tasks.count * (index + 1) / count)]
    }
}

extension Transformer {
    /// Attention of every row through the tiled kernel: `q` [T, qDim] (normed, roped, scaled) against the
    /// paged K/V of layer `il` (this batch's rows already stored) into `attn` [T, qDim].
    /// `plan` is this batch's `FlashAttentionPlan`, made once per forward pass for all layers.
    func flashAttention(layer il: Int, plan: FlashAttentionPlan, rows: [BatchRow], tables: [BlockTable], kv: KVPool,
                        window: Int, scale: Float, q: UnsafeMutablePointer<Float>, attn: UnsafeMutablePointer<Float>,
                        scratch s: Scratch) {
        let c = config
        let hd = c.headDim, qDim = c.qDim
        let bs = kv.blockSize
        threadPool.run { index, n in
            let kp = s.blockPointers + index * 2 * s.pointersPerThread
            let vp = kp + s.pointersPerThread
            let work = s.flashWork + index * s.flashWorkPerThread
            for task in plan.share(index, of: n) {
                let first = rows[task.firstRow]
                let p0 = first.position
                let pLast = p0 + (task.rowCount - 1) * task.step
                let lo = window > 0 ? max(0, p0 - window + 1) : 0
                let table = tables[first.sequence]
                let firstBlock = lo / bs
                var nb = 0
                for b in firstBlock...(pLast / bs) {
                    let id = Int(table.blocks[b])
                    kp[nb] = UnsafeRawPointer(kv.element(kv.keyBlock(il, id), task.kvHead * hd))
                    vp[nb] = UnsafeRawPointer(kv.element(kv.valueBlock(il, id), task.kvHead * hd))
                    nb += 1
                }
                let offset = task.firstRow * qDim + task.head0 * hd
                VectorMath.flashAttend(q + offset, qRowStride: task.step * qDim, rows: task.rowCount,
                                       heads: task.heads, headDim: hd, p0: p0, positionStep: task.step,
                                       window: window, keyBlocks: kp, valueBlocks: vp, firstBlock: firstBlock,
                                       format: kv.dtype.rowFormat, blockSize: bs, rowStride: c.kvDim, scale: scale,
                                       work: work, out: attn + offset, outRowStride: task.step * qDim)
            }
        }
    }
}
