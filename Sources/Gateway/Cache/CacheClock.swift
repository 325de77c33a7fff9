import Foundation

/// Wall-clock time in Unix seconds, injectable so TTL and `s-maxage` tests control time.
public struct CacheClock: Sendable {
    public let now: @Sendable () -> Double

    public init(now: @escaping @Sendable () -> Double) { self.now = now }

    /// `Date().timeIntervalSince1970`.
    public static let system = CacheClock { Date().timeIntervalSince1970 }
}
