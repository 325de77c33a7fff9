import NumericCore

/// The LoRA adapters of one batched forward pass, grouped (S-LoRA / punica style): the base matmul has run
/// once for every row; `apply` then adds each adapter's low-rank update `s * B (A x)` to its own rows only.
/// With no adapter in the batch it is empty and the forward pass does no LoRA work at all.
struct LoRABatch {
    /// Each adapter in the batch with the batch rows that use it.
    let groups: [(adapter: LoRAAdapter, rows: [Int])]

    var isEmpty: Bool { groups.isEmpty }

    /// `adapters[sequence]` is the adapter of that sequence (nil: base); empty means no adapter at all.
    init(rows: [BatchRow], adapters: [LoRAAdapter?]) {
        guard adapters.contains(where: { $0 != nil }) else { groups = []; return }
        var groups: [(adapter: LoRAAdapter, rows: [Int])] = []
        for (t, row) in rows.enumerated() {
            guard let adapter = adapters[row.sequence] else { continue }
            if let g = groups.firstIndex(where: { $0.adapter === adapter }) {
                groups[g].rows.append(t)
            } else {
                groups.append((adapter, [t]))
            }
        }
        self.groups = groups
    }

    /// `y[t] += s · Bᵀ(A x[t])` for every row t of every adapter that adapts `target` in `layer`.
    /// `x` is `[T, inputs]`, `y` is `[T, outputs]` (the base product, before any bias).
    func apply(layer: Int, _ target: LoRATarget, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        for (adapter, rows) in groups {
            guard let p = adapter.pair(layer, target) else { continue }
            let n = p.inputs, m = p.outputs
            p.a.withUnsafeBufferPointer { a in
                p.bT.withUnsafeBufferPointer { bT in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: p.rank) { ax in
                        for t in rows {
                            let xt = x + t * n, yt = y + t * m
                            for r in 0..<p.rank { ax[r] = VectorMath.dot(a.baseAddress! + r * n, xt, n) * p.scale }
                            for r in 0..<p.rank { VectorMath.axpy(ax[r], bT.baseAddress! + r * m, yt, m) }
                        }
                    }
                }
            }
        }
    }
}
