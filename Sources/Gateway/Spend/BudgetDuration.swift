/// LiteLLM's `budget_duration`: `<n>s`, `<n>m`, `<n>h`, `<n>d`, `<n>w` or `<n>mo` (a month counted as 30 days),
/// bounded to 1 second ... 10 years.
///
/// NOTE: budgets reset in fixed windows aligned to the Unix epoch (`floor(now / seconds)`), so every instance
/// computes the same window without shared state: `1d` resets at 00:00 UTC, `1h` on the hour, like LiteLLM's
/// standardized reset times. (LiteLLM counts `Nd` with N > 1 and `mo` from the key's creation; keys here
/// come from the config file, which has no creation time.)
public struct BudgetDuration: Sendable, Equatable, CustomStringConvertible {
    /// The window's length in seconds.
    public let seconds: Int64
    /// The text it was parsed from.
    public let description: String

    /// The longest accepted duration: ten years.
    public static let maxSeconds: Int64 = 10 * 365 * 86_400

    /// Parses `text`; nil for anything else (empty, no unit, unknown unit, zero, over ten years, more than
    /// 9 digits).
    public init?(_ text: String) {
        let units: [(String, Int64)] = [("mo", 30 * 86_400), ("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400),
                                        ("w", 604_800)]
        guard let (suffix, scale) = units.first(where: { text.hasSuffix($0.0) }) else { return nil }
        let digits = text.dropLast(suffix.count)
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int64(digits), n > 0 else { return nil }
        let (total, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow, total <= Self.maxSeconds else { return nil }
        seconds = total
        description = text
    }

    /// The start of the window holding `time` (Unix seconds).
    public func windowStart(at time: Double) -> Int64 {
        let t = Int64(max(0, min(time, 1e15)))
        return t - t % seconds
    }
}
