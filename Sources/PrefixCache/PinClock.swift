/// A monotonic time source for pin TTLs, injectable so tests can move time without sleeping.
public protocol PinClock {
    /// Monotonic time since an arbitrary fixed origin.
    func now() -> Duration
}

/// The production clock: `ContinuousClock` time since the clock was created.
public struct MonotonicPinClock: PinClock, Sendable {
    private let origin = ContinuousClock.now

    /// Creates a clock whose origin is now.
    public init() {}

    /// Time elapsed since this clock was created.
    public func now() -> Duration {
        origin.duration(to: ContinuousClock.now)
    }
}
