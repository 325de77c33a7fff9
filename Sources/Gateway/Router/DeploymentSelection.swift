/// The routing strategies, as pure functions over candidates (already filtered for cooldowns).
public enum DeploymentSelection {
    /// `simple-shuffle`: weighted random. Weights come from `weight` if any candidate sets it, else
    /// `rpm`, else `tpm`, else all equal.
    ///
    /// NOTE: LiteLLM gives a candidate without the value weight 0 (so a local deployment next to one
    /// with `rpm: 600` is never picked); we give it the mean of the values that are set instead.
    public static func weights(_ candidates: [Deployment]) -> [Double] {
        let columns: [[Double?]] = [
            candidates.map(\.weight), candidates.map { $0.rpm.map(Double.init) }, candidates.map { $0.tpm.map(Double.init) },
        ]
        for column in columns where column.contains(where: { $0 != nil }) {
            let present = column.compactMap { $0 }
            let mean = present.reduce(0, +) / Double(present.count)
            let weights = column.map { max(0, $0 ?? mean) }
            if weights.reduce(0, +) > 0 { return weights }
        }
        return Array(repeating: 1, count: candidates.count)
    }

    /// Picks an index with probability proportional to its weight; `unit` is a uniform draw in [0, 1).
    public static func weightedIndex(_ weights: [Double], unit: Double) -> Int {
        let total = weights.reduce(0, +)
        guard total > 0 else { return min(Int(unit * Double(weights.count)), weights.count - 1) }
        var target = unit * total
        for (i, weight) in weights.enumerated() {
            if target < weight { return i }
            target -= weight
        }
        return weights.lastIndex { $0 > 0 } ?? weights.count - 1
    }

    /// Indices of the minimum values (ties are broken at random by the caller).
    public static func argmins(_ values: [Double]) -> [Int] {
        guard let low = values.min() else { return [] }
        return values.indices.filter { values[$0] == low }
    }
}

/// A small seedable generator (SplitMix64) for reproducible routing in tests.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
