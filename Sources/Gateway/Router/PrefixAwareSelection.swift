/// `prefix-aware` routing's decision, a pure function (SGLang router's cache-aware policy over the gateway's
/// own `PrefixTree`s):
///
/// 1. Imbalanced load (the in-flight counts differ by more than `prefix_balance_abs_threshold` and the busiest
///    has more than `prefix_balance_rel_threshold` times the least busy one's): the least busy.
/// 2. Else, if the best tree match covers at least `prefix_cache_threshold` of the request text: among the
///    deployments whose match is within `prefix_match_tolerance` of the text of the longest, the least busy
///    (then the longest match). So a hot prefix that balance has put on several deployments is shared by them
///    as least-busy would, instead of all going to the one whose tree happens to match a few bytes more.
/// 3. Else (a new prefix): the deployment whose tree holds the least text, so new prefixes spread out and
///    each deployment keeps its own working set (a tie goes to the less busy).
public enum PrefixAwareSelection {
    /// What the decision knows about one candidate.
    public struct Candidate: Sendable, Equatable {
        /// Requests in flight on it.
        public var load: Int
        /// Bytes of the request text its tree matches.
        public var matched: Int
        /// Its tree's size.
        public var treeSize: Int

        public init(load: Int, matched: Int, treeSize: Int) {
            self.load = load
            self.matched = matched
            self.treeSize = treeSize
        }
    }

    /// Why a deployment was chosen (a metric label).
    public enum Reason: String, Sendable {
        case balance, prefix, spread
    }

    /// The indices among which to break the tie at random, and why.
    public static func choose(_ candidates: [Candidate], textBytes: Int, cacheThreshold: Double,
                              matchTolerance: Double = 0, balanceAbs: Int,
                              balanceRel: Double) -> (indices: [Int], reason: Reason) {
        precondition(!candidates.isEmpty)
        let loads = candidates.map(\.load)
        let high = loads.max() ?? 0, low = loads.min() ?? 0
        if high - low > balanceAbs, Double(high) > Double(low) * balanceRel {
            return (lowest(candidates.indices, by: { Double(loads[$0]) }), .balance)
        }
        let best = candidates.map(\.matched).max() ?? 0
        if best > 0, textBytes > 0, Double(best) / Double(textBytes) >= cacheThreshold {
            let slack = Int((Double(textBytes) * matchTolerance).rounded(.down))
            let matching = candidates.indices.filter { candidates[$0].matched >= best - slack }
            let leastBusy = lowest(matching, by: { Double(loads[$0]) })
            return (lowest(leastBusy, by: { -Double(candidates[$0].matched) }), .prefix)
        }
        let smallest = lowest(candidates.indices, by: { Double(candidates[$0].treeSize) })
        return (lowest(smallest, by: { Double(loads[$0]) }), .spread)
    }

    private static func lowest(_ indices: some Sequence<Int>, by key: (Int) -> Double) -> [Int] {
        let all = Array(indices)
        let values = all.map(key)
        return DeploymentSelection.argmins(values).map { all[$0] }
    }
}
