import Foundation

/// Log-softmax helpers for logprob reporting and perplexity.
///
/// Numerically stable: the maximum logit is subtracted before exponentiating and the sum of
/// exponentials is accumulated in Double. NaN logits count as -infinity.
public enum LogProbs {
    /// The log-softmax value of `token` over `logits`.
    public static func logProb(of token: Int, logits: UnsafeBufferPointer<Float>) -> Float {
        precondition(logits.indices.contains(token), "token \(token) outside logits of length \(logits.count)")
        let value = logits[token]
        guard !value.isNaN else { return -.infinity }
        return Float(Double(value) - logSumExp(logits))
    }

    /// The `k` most likely tokens with their log-probabilities, highest first (ties: smaller id first).
    /// Returns `min(k, logits.count)` entries; none when `k <= 0`.
    public static func top(_ k: Int, logits: UnsafeBufferPointer<Float>) -> [(id: Int, logprob: Float)] {
        let n = logits.count
        let kept = min(k, n)
        guard kept > 0 else { return [] }
        var values = [Float](repeating: 0, count: kept)  // [kept] bounded heap, then the result
        var ids = [Int32](repeating: 0, count: kept)  // [kept]
        values.withUnsafeMutableBufferPointer { v in
            ids.withUnsafeMutableBufferPointer { id in
                selectBest(kept, of: logits, logits: v.baseAddress!, ids: id.baseAddress!)
            }
        }
        let lse = logSumExp(logits)
        return (0..<kept).map { (id: Int(ids[$0]), logprob: Float(Double(values[$0]) - lse)) }
    }

    /// log(sum(exp(logits))) computed as max + log(sum(exp(logit - max))).
    static func logSumExp(_ logits: UnsafeBufferPointer<Float>) -> Double {
        var maxLogit = -Float.infinity
        for v in logits where v > maxLogit { maxLogit = v }
        guard maxLogit.isFinite else { return Double(maxLogit) }
        var sum = 0.0
        for v in logits where !v.isNaN { sum += Double(exp(v - maxLogit)) }
        return Double(maxLogit) + log(sum)
    }
}
