// Reference: llama.cpp src/llama-sampler.cpp (`llama_token_data_array` and the `*_apply` functions of
// logit_bias, penalties, top_k, top_p, min_p, temp and dist). SPEC-model.md section 5.
import Foundation

/// The working set the sampler stages narrow down: (token id, logit) pairs, like llama.cpp's
/// `llama_token_data_array`.
///
/// Contract: entries `0..<count` of `ids` / `logits` are live; the buffers only grow, so one instance
/// reused across calls allocates once. Each stage is a mutating method that keeps the flags true:
/// `isSorted` means best first (see `ranksBefore`); `isIdentity` means `ids[i] == i` for every live
/// entry (the untouched full vocabulary, so a token's logit is found by indexing).
struct SamplerCandidates: Sendable {
    /// Token ids; the first `count` are live. [capacity]
    private(set) var ids: [Int32] = []
    /// Logits aligned with `ids`. [capacity]
    private(set) var logits: [Float] = []
    private(set) var count = 0
    private(set) var isSorted = false
    private(set) var isIdentity = false

    init() {}

    /// Candidates for `logits`, token ids `0..<logits.count` (handy in tests).
    init(logits source: [Float]) {
        source.withUnsafeBufferPointer { load($0) }
    }

    /// Live token ids, in candidate order.
    var tokenIDs: [Int] { ids[..<count].map { Int($0) } }

    /// Live logits, in candidate order.
    var liveLogits: [Float] { Array(logits[..<count]) }

    /// The live logit of `token`, or nil when the token has been filtered out.
    func logit(of token: Int) -> Float? {
        guard let i = ids[..<count].firstIndex(of: Int32(truncatingIfNeeded: token)) else { return nil }
        return logits[i]
    }

    /// Replaces the set with the whole vocabulary: ids `0..<source.count`, NaN logits read as -infinity.
    mutating func load(_ source: UnsafeBufferPointer<Float>) {
        let n = source.count
        precondition(n > 0 && n <= Int(Int32.max), "vocabulary size out of range")
        if ids.count < n {
            ids = [Int32](repeating: 0, count: n)
            logits = [Float](repeating: 0, count: n)
        }
        withBuffers { l, id in
            for i in 0..<n {
                let v = source[i]
                l[i] = v.isNaN ? -.infinity : v
                id[i] = Int32(truncatingIfNeeded: i)
            }
        }
        count = n
        isSorted = false
        isIdentity = true
    }

    private mutating func withBuffers<R>(
        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> R
    ) -> R {
        logits.withUnsafeMutableBufferPointer { l in
            ids.withUnsafeMutableBufferPointer { id in body(l.baseAddress!, id.baseAddress!) }
        }
    }

    /// Index of the best live entry (highest logit, then smallest id).
    private func bestIndex() -> Int {
        var best = 0
        for i in 1..<count where ranksBefore(logits[i], ids[i], logits[best], ids[best]) { best = i }
        return best
    }

    /// Keeps only the entry at `index`.
    private mutating func keepOnly(_ index: Int) {
        ids[0] = ids[index]
        logits[0] = logits[index]
        count = 1
        isSorted = true
        isIdentity = ids[0] == 0
    }

    // MARK: - Stages, in chain order

    /// logit_bias: `logit += bias[id]`; ids outside the vocabulary are ignored.
    mutating func applyLogitBias(_ bias: [Int: Float]) {
        guard !bias.isEmpty else { return }
        if isIdentity {
            for (token, b) in bias where token >= 0 && token < count { logits[token] += b }
        } else {
            for i in 0..<count { if let b = bias[Int(ids[i])] { logits[i] += b } }
        }
        isSorted = false
    }

    /// penalties, for each token with `c = counts[id] > 0`: repetition divides a positive logit and
    /// multiplies a non-positive one, then `logit -= c * frequency + presence`.
    mutating func applyPenalties(counts: [Int: Int], repetition: Float, frequency: Float, presence: Float) {
        guard !counts.isEmpty else { return }
        @inline(__always) func penalize(_ l: Float, _ c: Int) -> Float {
            let repeated = l <= 0 ? l * repetition : l / repetition
            return repeated - (Float(c) * frequency + Float(c > 0 ? 1 : 0) * presence)
        }
        if isIdentity {
            for (token, c) in counts where token >= 0 && token < count { logits[token] = penalize(logits[token], c) }
        } else {
            for i in 0..<count { if let c = counts[Int(ids[i])] { logits[i] = penalize(logits[i], c) } }
        }
        isSorted = false
    }

    /// top_k: keeps the `k` best entries, sorted best first; `k <= 0` or `k >= count` is a no-op.
    mutating func applyTopK(_ k: Int) {
        guard k > 0 && k < count else { return }
        let n = count
        withBuffers { l, id in selectBest(k, logits: l, ids: id, count: n) }
        count = k
        isSorted = true
        isIdentity = false
    }

    /// top_p: softmax (temperature 1) over the live entries, then keeps the shortest best-first prefix
    /// whose cumulative probability is `>= p` (at least one entry); `p >= 1` is a no-op.
    ///
    /// NOTE: an unsorted set (top_k off, up to the whole vocabulary) is not fully sorted: it is
    /// heapified in O(n) and only the kept prefix is popped, O(n + m log n) for m kept entries.
    /// Probabilities are summed in Double.
    mutating func applyTopP(_ p: Float) {
        guard p < 1, count > 1 else { return }
        let n = count
        let target = Double(p)
        let sorted = isSorted
        let kept: Int = withBuffers { l, id in
            let heap = CandidateHeap(logits: l, ids: id, bestOnTop: true)
            if !sorted { heap.heapify(count: n) }
            let maxLogit = l[0]  // best entry either way
            guard maxLogit > -.infinity else { return 0 }
            var total = 0.0
            for i in 0..<n { total += Double(exp(l[i] - maxLogit)) }
            var cum = 0.0
            var m = 0
            if sorted {
                while m < n {
                    cum += Double(exp(l[m] - maxLogit)) / total
                    m += 1
                    if cum >= target { break }
                }
                return m
            }
            // Pop best-first; popped entries collect at the back, the best at index n - 1.
            while m < n {
                cum += Double(exp(l[0] - maxLogit)) / total
                heap.popTop(count: n - m)
                m += 1
                if cum >= target { break }
            }
            // Reverse the back block into best-first order and move it to the front.
            var a = n - m
            var b = n - 1
            while a < b {
                (l[a], l[b]) = (l[b], l[a])
                (id[a], id[b]) = (id[b], id[a])
                a += 1
                b -= 1
            }
            for i in 0..<m {
                l[i] = l[n - m + i]
                id[i] = id[n - m + i]
            }
            return m
        }
        if kept == 0 {  // every logit is -infinity: nothing to rank by probability
            keepOnly(bestIndex())
            return
        }
        if kept < n || !isSorted { isIdentity = false }
        count = kept
        isSorted = true
    }

    /// min_p: keeps entries with `logit >= max_logit + ln(p)`, i.e. probability `>= p * p_max`, in
    /// their current order; `p <= 0` is a no-op. If none qualifies (p > 1), keeps the best one.
    mutating func applyMinP(_ p: Float) {
        guard p > 0, count > 1 else { return }
        let maxLogit = isSorted ? logits[0] : logits[bestIndex()]
        let threshold = maxLogit + logf(p)
        var kept = 0
        for i in 0..<count where logits[i] >= threshold {
            logits[kept] = logits[i]
            ids[kept] = ids[i]
            kept += 1
        }
        if kept == 0 {
            // The compaction above moved nothing, so the best entry is still in place.
            keepOnly(bestIndex())
            return
        }
        if kept < count { isIdentity = false }
        count = kept
    }

    /// temperature: divides every logit by `t`; `t <= 0` (or NaN) keeps only the best entry (greedy).
    mutating func applyTemperature(_ t: Float) {
        guard t > 0 else {
            keepOnly(bestIndex())
            return
        }
        guard t != 1 else { return }
        for i in 0..<count { logits[i] /= t }
    }

    /// dist: softmax over the live entries and the first entry, in candidate order, at which the
    /// cumulative probability exceeds `u` (uniform on [0, 1)). Returns a token id.
    func pick(unit u: Double) -> Int {
        var maxLogit = -Float.infinity
        for i in 0..<count { maxLogit = max(maxLogit, logits[i]) }
        guard count > 1, maxLogit > -.infinity else { return Int(ids[bestIndex()]) }
        var total = 0.0
        for i in 0..<count { total += Double(exp(logits[i] - maxLogit)) }
        let target = u * total
        var running = 0.0
        var lastPositive = 0
        for i in 0..<count {
            let w = Double(exp(logits[i] - maxLogit))
            if w > 0 { lastPositive = i }
            running += w
            if running > target { return Int(ids[i]) }
        }
        return Int(ids[lastPositive])  // rounding left `running` at or just below `target`
    }
}
