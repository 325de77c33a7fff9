/// Conversions of numbers that come from outside (request bodies, headers, config files, upstream and
/// Redis replies) into the integers that clocks, timers and protocols take. None of them traps: a value
/// that is not finite or does not fit is refused (nil) or clamped, as each function says.
///
/// NOTE: `Int(someDouble)` traps on NaN, infinity and anything past ±9.2e18; with checks on (release builds
/// are `-O`) that is a crash a client could trigger, and without them it was a silently wrong number.
/// Every such conversion of an outside value goes through here.
public enum CheckedConversion {
    /// The longest duration the gateway accepts or schedules: one year, in seconds.
    public static let maxSeconds: Double = 365 * 86_400

    /// `value` rounded up, when it is finite and the result lies in `range`; nil otherwise.
    public static func int(roundingUp value: Double, in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard value.isFinite else { return nil }
        let rounded = value.rounded(.up)
        guard rounded >= Double(range.lowerBound), rounded <= Double(range.upperBound),
              let i = Int(exactly: rounded) else { return nil }
        return range.contains(i) ? i : nil
    }

    /// Whole milliseconds of `seconds`, clamped to `1 ... maxSeconds * 1000` (NaN: 1). For timers and TTLs
    /// whose inputs were validated upstream, as the last line of defence.
    public static func milliseconds(_ seconds: Double) -> Int {
        guard !seconds.isNaN else { return 1 }
        let ms = (min(max(seconds, 0), maxSeconds) * 1000).rounded()
        return max(1, Int(ms))
    }

    /// Whole seconds of `seconds` rounded up, clamped to `0 ... maxSeconds` (NaN: 0), e.g. for `Retry-After`.
    public static func wholeSeconds(_ seconds: Double) -> Int {
        guard !seconds.isNaN else { return 0 }
        return Int(min(max(seconds, 0), maxSeconds).rounded(.up))
    }
}
