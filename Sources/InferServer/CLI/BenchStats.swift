import ArgumentParser
import Engine
import Foundation

/// Median and spread (half the min-max range) of a sample.
struct BenchStats {
    let median: Double
    let spread: Double

    init(_ xs: [Double]) {
        guard !xs.isEmpty else {
            median = 0
            spread = 0
            return
        }
        let s = xs.sorted()
        median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        spread = (s.last! - s.first!) / 2
    }
}
